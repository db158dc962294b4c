import { loadEnv } from '@cpa/config';
import { bootstrapService } from '@cpa/runtime';
import { configureAdminApp } from './app';
import { AdminModule } from './app.module';

const env = loadEnv();
// Admin consumes no queue; the shared bootstrap gives it shutdown hooks and the READY line.
bootstrapService(AdminModule.forRoot({ env }), {
  name: 'admin',
  port: env.adminPort,
  host: env.adminHost,
  queues: [],
  configure: configureAdminApp,
}).catch((err: unknown) => {
  // Start-up errors (environment, config file, database) carry no secrets by construction.
  console.error(`admin failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
