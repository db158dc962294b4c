import { useEffect, useState } from 'react';

/** The console lives under /admin; pages are /admin/<page>. */
export const BASE = '/admin';

export function currentPage(): string {
  const path = window.location.pathname.startsWith(BASE)
    ? window.location.pathname.slice(BASE.length)
    : window.location.pathname;
  return path.replace(/^\/+|\/+$/g, '') || 'overview';
}

export function navigate(page: string): void {
  window.history.pushState(null, '', `${BASE}/${page}`);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

export function usePage(): string {
  const [page, setPage] = useState(currentPage);
  useEffect(() => {
    const onChange = () => setPage(currentPage());
    window.addEventListener('popstate', onChange);
    return () => window.removeEventListener('popstate', onChange);
  }, []);
  return page;
}
