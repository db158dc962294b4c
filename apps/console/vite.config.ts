import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Served by the admin service at /admin (and through the gateway); `npm run dev` proxies the
// management API to a local admin (ADMIN_URL, default http://127.0.0.1:8318).
export default defineConfig({
  base: '/admin/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false },
  server: { proxy: { '/v0/management': process.env.ADMIN_URL ?? 'http://127.0.0.1:8318' } },
});
