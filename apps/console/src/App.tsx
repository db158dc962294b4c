import { useEffect, useState, type ReactNode } from 'react';
import { session } from './api';
import { AuditPage } from './pages/Audit';
import { ClientKeysPage } from './pages/ClientKeys';
import { CredentialsPage } from './pages/Credentials';
import { LogsPage } from './pages/Logs';
import { OverviewPage } from './pages/Overview';
import { RoutingPage } from './pages/Routing';
import { SignIn } from './pages/SignIn';
import { UsagePage } from './pages/Usage';
import { BASE, navigate, usePage } from './router';

interface PageDef {
  id: string;
  label: string;
  icon: string;
  render: () => ReactNode;
}

const PAGES: PageDef[] = [
  { id: 'overview', label: 'Overview', icon: '◧', render: () => <OverviewPage /> },
  { id: 'credentials', label: 'Credentials', icon: '◉', render: () => <CredentialsPage /> },
  { id: 'client-keys', label: 'Client keys', icon: '⌘', render: () => <ClientKeysPage /> },
  { id: 'routing', label: 'Routing', icon: '⇄', render: () => <RoutingPage /> },
  { id: 'usage', label: 'Usage', icon: '▤', render: () => <UsagePage /> },
  { id: 'logs', label: 'Error logs', icon: '⚠', render: () => <LogsPage /> },
  { id: 'audit', label: 'Audit log', icon: '☰', render: () => <AuditPage /> },
];

export function App() {
  const [signedIn, setSignedIn] = useState(() => session.secret !== null);
  const page = usePage();
  useEffect(() => session.onSignOut(() => setSignedIn(false)), []);

  if (!signedIn) return <SignIn onSignedIn={() => setSignedIn(true)} />;
  const current = PAGES.find((p) => p.id === page);
  return (
    <div className="shell">
      <aside className="sidebar">
        <div className="sidebar-inner">
          <div className="brand">
            <span className="brand-mark">C</span>
            <div>
              <strong>CLIProxy</strong>
              <small>admin console</small>
            </div>
          </div>
          <nav>
            {PAGES.map((p) => (
              <a
                key={p.id}
                href={`${BASE}/${p.id}`}
                className={p.id === current?.id ? 'active' : ''}
                aria-current={p.id === current?.id ? 'page' : undefined}
                onClick={(event) => {
                  if (event.metaKey || event.ctrlKey || event.shiftKey) return;
                  event.preventDefault();
                  navigate(p.id);
                }}
              >
                <span className="nav-icon" aria-hidden="true">
                  {p.icon}
                </span>
                {p.label}
              </a>
            ))}
          </nav>
          <button className="btn btn-ghost sign-out" onClick={() => session.signOut()}>
            Sign out
          </button>
        </div>
      </aside>
      <main className="content" key={current?.id ?? page}>
        {current ? current.render() : <NotFound />}
      </main>
    </div>
  );
}

function NotFound() {
  return (
    <div className="empty">
      <strong>No such page</strong>
      <p className="muted">
        <a href={`${BASE}/overview`} onClick={(e) => (e.preventDefault(), navigate('overview'))}>
          Back to the overview
        </a>
      </p>
    </div>
  );
}
