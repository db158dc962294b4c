import { useRef, useState, type DragEvent } from 'react';
import type { CredentialList, CredentialView } from '@cpa/contracts/management-views';
import { api } from '../api';
import { errorMessage, formatCompact, formatNumber, formatTime, relativeTime } from '../format';
import { useAction, useResource } from '../hooks';
import { DataTable, RowActions, type Column } from '../table';
import { Card, DialogButtons, Empty, ErrorBox, Field, Modal, PageHeader, Resolved, StatusBadge } from '../ui';

/** The API-key lists of the management API a new key can be added to. */
const KEY_SECTIONS = [
  { section: 'claude-api-key', label: 'Claude (Anthropic)' },
  { section: 'gemini-api-key', label: 'Gemini' },
  { section: 'codex-api-key', label: 'Codex (OpenAI)' },
  { section: 'vertex-api-key', label: 'Vertex' },
];
const hostOf = (url: string) => {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
};

/** Routes of GET /<route>-auth-url. */
const LOGIN_ROUTES = ['anthropic', 'codex', 'gemini-cli', 'antigravity', 'kimi', 'iflow'];

export function CredentialsPage() {
  const credentials = useResource<CredentialList>('/credentials', undefined, 10_000);
  const action = useAction();
  const [editing, setEditing] = useState<CredentialView>();
  const [adding, setAdding] = useState(false);
  const [login, setLogin] = useState(false);
  const [filter, setFilter] = useState('');

  const act = async (fn: () => Promise<unknown>) => {
    await action.run(fn);
    credentials.reload();
  };
  const columns: Column<CredentialView>[] = [
    {
      header: 'Credential',
      className: 'credential-cell',
      cell: (c) => (
        <>
          <div className="cell-title">{c.label}</div>
          <div className="muted small">
            {c.family} · {c.kind}
            {c.base_url ? ` · ${hostOf(c.base_url)}` : ''}
            {c.email && c.email !== c.label ? ` · ${c.email}` : ''}
            {c.token_file ? ` · ${c.token_file}` : ''}
          </div>
          <div className="muted small">
            priority {c.priority} · weight {c.weight}
            {c.prefix && ` · prefix ${c.prefix}/`}
            {c.proxy_url && ` · proxy ${c.proxy_url}`}
          </div>
          <RowActions
            actions={[
              {
                label: c.disabled ? 'Enable' : 'Disable',
                disabled: action.busy,
                onClick: () =>
                  act(() =>
                    api('/auth-files/status', {
                      method: 'PATCH',
                      body: { auth_index: c.auth_index, disabled: !c.disabled },
                    }),
                  ),
              },
              {
                label: 'Reset quota',
                disabled: action.busy || c.cooldowns.length === 0,
                title: 'Clear every cooldown of this credential',
                onClick: () => act(() => api('/reset-quota', { method: 'POST', body: { auth_index: c.auth_index } })),
              },
              !!c.token_file && { label: 'Edit', onClick: () => setEditing(c) },
              !!c.token_file && {
                label: 'Delete',
                danger: true,
                disabled: action.busy,
                confirm: `Delete the token file ${c.token_file}? Its credentials stop serving at once.`,
                onClick: () => act(() => api('/auth-files', { method: 'DELETE', query: { name: c.token_file } })),
              },
            ]}
          />
        </>
      ),
    },
    {
      header: 'State',
      className: 'state-cell',
      cell: (c) => (
        <>
          <StatusBadge status={c.status} />
          {c.cooldowns.length > 0 && (
            <ul className="cooldowns">
              {c.cooldowns.map((cd) => (
                <li key={cd.model} title={`until ${formatTime(cd.until)}`}>
                  <strong>{cd.model}</strong> {relativeTime(cd.until)} · <span className="muted">{cd.reason}</span>
                </li>
              ))}
            </ul>
          )}
        </>
      ),
    },
    {
      header: 'Last error',
      className: 'error-cell',
      title: (c) => c.last_error,
      cell: (c) => (c.last_error ? errorMessage(c.last_error) : <span className="muted">—</span>),
    },
    {
      header: 'Next refresh',
      className: 'nowrap',
      title: (c) => formatTime(c.next_refresh_at),
      cell: (c) => (c.next_refresh_at ? relativeTime(c.next_refresh_at) : <span className="muted">—</span>),
    },
    { header: 'Requests today', numeric: true, cell: (c) => formatNumber(c.requests_today) },
    { header: 'Tokens today', numeric: true, cell: (c) => formatCompact(c.tokens_today) },
  ];

  return (
    <>
      <PageHeader
        title="Credentials"
        subtitle="Every upstream account with its live routing state. Refreshed every 10 seconds."
        actions={
          <>
            <button className="btn" onClick={() => setLogin(true)}>
              OAuth login
            </button>
            <button className="btn btn-primary" onClick={() => setAdding(true)}>
              Add API key
            </button>
          </>
        }
      />
      <ErrorBox error={action.error} />
      <TokenFileDrop onImported={credentials.reload} />
      <Card
        title="All credentials"
        actions={
          <input
            className="search"
            placeholder="Filter by name, family, state…"
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
            aria-label="Filter credentials"
          />
        }
      >
        <Resolved
          resource={credentials}
          isEmpty={(d) => d.credentials.length === 0}
          empty={<Empty title="No credentials yet">Add an API key, import a token file or start an OAuth login.</Empty>}
        >
          {(data) => {
            const needle = filter.trim().toLowerCase();
            const rows = data.credentials.filter(
              (c) =>
                !needle ||
                [c.label, c.email, c.family, c.status, c.prefix, c.token_file ?? ''].some((v) =>
                  v.toLowerCase().includes(needle),
                ),
            );
            if (!rows.length) return <Empty title="Nothing matches the filter" />;
            return (
              <DataTable
                testId="credentials-table"
                columns={columns}
                rows={rows}
                rowKey={(c) => c.id}
                rowAttributes={(c) => ({ 'data-credential': c.id })}
              />
            );
          }}
        </Resolved>
      </Card>
      {editing && (
        <EditCredential
          credential={editing}
          onClose={() => setEditing(undefined)}
          onSaved={() => {
            setEditing(undefined);
            credentials.reload();
          }}
        />
      )}
      {adding && (
        <AddApiKey
          onClose={() => setAdding(false)}
          onSaved={() => {
            setAdding(false);
            credentials.reload();
          }}
        />
      )}
      {login && <OAuthLogin onClose={() => setLogin(false)} onDone={credentials.reload} />}
    </>
  );
}

/** PATCH /auth-files/fields: priority, weight, prefix and proxy of a token file's credentials. */
function EditCredential({
  credential,
  onClose,
  onSaved,
}: {
  credential: CredentialView;
  onClose: () => void;
  onSaved: () => void;
}) {
  const [priority, setPriority] = useState(String(credential.priority));
  const [weight, setWeight] = useState(String(credential.weight));
  const [prefix, setPrefix] = useState(credential.prefix);
  const [proxy, setProxy] = useState('');
  const action = useAction();
  const save = async () => {
    const body: Record<string, unknown> = {
      auth_index: credential.auth_index,
      priority: Number(priority),
      weight: Number(weight),
      prefix,
    };
    if (proxy.trim()) body.proxy_url = proxy.trim();
    if ((await action.run(() => api('/auth-files/fields', { method: 'PATCH', body }))) !== undefined) onSaved();
  };
  return (
    <Modal
      title={`Edit ${credential.label}`}
      onClose={onClose}
      footer={<DialogButtons label="Save" busy={action.busy} onSubmit={save} onCancel={onClose} />}
    >
      <div className="form-grid">
        <Field label="Priority" hint="Higher is picked first">
          <input type="number" name="priority" value={priority} onChange={(e) => setPriority(e.target.value)} />
        </Field>
        <Field label="Weight" hint="Share under weighted round-robin">
          <input type="number" name="weight" min={1} value={weight} onChange={(e) => setWeight(e.target.value)} />
        </Field>
        <Field label="Prefix" hint="Models served as <prefix>/<model>">
          <input name="prefix" value={prefix} onChange={(e) => setPrefix(e.target.value)} />
        </Field>
        <Field
          label="Proxy URL"
          hint={
            credential.proxy_url
              ? `Now ${credential.proxy_url}; leave empty to keep it`
              : 'Empty: the global proxy setting'
          }
        >
          <input
            name="proxy_url"
            placeholder="http://user:pass@host:port"
            value={proxy}
            onChange={(e) => setProxy(e.target.value)}
          />
        </Field>
      </div>
      <ErrorBox error={action.error} />
    </Modal>
  );
}

/** Appends an entry to one of the API-key lists (GET the list, PUT it back with the new entry). */
function AddApiKey({ onClose, onSaved }: { onClose: () => void; onSaved: () => void }) {
  const [section, setSection] = useState(KEY_SECTIONS[0].section);
  const [apiKey, setApiKey] = useState('');
  const [baseUrl, setBaseUrl] = useState('');
  const [prefix, setPrefix] = useState('');
  const [proxy, setProxy] = useState('');
  const action = useAction();
  const save = async () => {
    if (!apiKey.trim()) return action.setError('The API key is required');
    const entry: Record<string, unknown> = { 'api-key': apiKey.trim() };
    if (baseUrl.trim()) entry['base-url'] = baseUrl.trim();
    if (prefix.trim()) entry.prefix = prefix.trim();
    if (proxy.trim()) entry['proxy-url'] = proxy.trim();
    const done = await action.run(async () => {
      const current = await api<Record<string, Record<string, unknown>[]>>(`/${section}`);
      const list = (current[section] ?? []).map(({ 'auth-index': _, ...rest }) => rest);
      return api(`/${section}`, { method: 'PUT', body: [...list, entry] });
    });
    if (done !== undefined) onSaved();
  };
  return (
    <Modal
      title="Add an API key"
      onClose={onClose}
      footer={<DialogButtons label="Add key" busy={action.busy} onSubmit={save} onCancel={onClose} />}
    >
      <div className="form-grid">
        <Field label="Provider">
          <select name="section" value={section} onChange={(e) => setSection(e.target.value)}>
            {KEY_SECTIONS.map((s) => (
              <option key={s.section} value={s.section}>
                {s.label}
              </option>
            ))}
          </select>
        </Field>
        <Field label="API key" hint="Stored encrypted; never shown again">
          <input
            name="api-key"
            type="password"
            autoComplete="off"
            value={apiKey}
            onChange={(e) => setApiKey(e.target.value)}
          />
        </Field>
        <Field label="Base URL" hint="Optional: the provider's default otherwise">
          <input name="base-url" value={baseUrl} onChange={(e) => setBaseUrl(e.target.value)} />
        </Field>
        <Field label="Prefix">
          <input name="prefix" value={prefix} onChange={(e) => setPrefix(e.target.value)} />
        </Field>
        <Field label="Proxy URL">
          <input name="proxy-url" value={proxy} onChange={(e) => setProxy(e.target.value)} />
        </Field>
      </div>
      <p className="muted small">
        OpenAI-compatible providers are managed with the openai-compatibility list of the management API.
      </p>
      <ErrorBox error={action.error} />
    </Modal>
  );
}

/** Drag token files (CLIProxyAPI's JSON files) here, or pick them: POST /auth-files as multipart. */
function TokenFileDrop({ onImported }: { onImported: () => void }) {
  const [over, setOver] = useState(false);
  const [result, setResult] = useState<string>();
  const input = useRef<HTMLInputElement>(null);
  const action = useAction();
  const upload = async (files: FileList | File[]) => {
    const list = [...files];
    if (!list.length) return;
    const form = new FormData();
    for (const file of list) form.append('file', file, file.name);
    setResult(undefined);
    const answer = await action.run(() => api<Record<string, unknown>>('/auth-files', { method: 'POST', body: form }));
    if (answer !== undefined) {
      setResult(`Imported ${list.map((f) => f.name).join(', ')}`);
      onImported();
    }
  };
  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setOver(false);
    void upload(event.dataTransfer.files);
  };
  return (
    <div
      className={`dropzone ${over ? 'over' : ''}`}
      data-testid="token-drop"
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
    >
      <div>
        <strong>Import token files</strong>
        <span className="muted"> — drop CLIProxyAPI token files (.json) here, or </span>
        <button className="link" onClick={() => input.current?.click()}>
          choose files
        </button>
        <input
          ref={input}
          type="file"
          accept=".json,application/json"
          multiple
          hidden
          onChange={(e) => e.target.files && void upload(e.target.files)}
        />
      </div>
      {action.busy && <span className="muted">Uploading…</span>}
      {result && <span className="ok-text">{result}</span>}
      <ErrorBox error={action.error} />
    </div>
  );
}

/** GET /<route>-auth-url, then polls /get-auth-status until the login finishes. */
function OAuthLogin({ onClose, onDone }: { onClose: () => void; onDone: () => void }) {
  const [route, setRoute] = useState(LOGIN_ROUTES[0]);
  const [started, setStarted] = useState<{ url: string; state: string }>();
  const [status, setStatus] = useState<string>();
  const action = useAction();
  const timer = useRef<number>(undefined);
  const poll = (state: string) => {
    timer.current = window.setTimeout(async () => {
      try {
        const answer = await api<{ status: string; error?: string }>('/get-auth-status', { query: { state } });
        if (answer.status === 'wait') return poll(state);
        setStatus(
          answer.status === 'ok'
            ? 'Login complete: the credential is saved.'
            : `Login failed: ${answer.error ?? answer.status}`,
        );
        onDone();
      } catch (err) {
        setStatus(`Login failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }, 2000);
  };
  const start = async () => {
    const answer = await action.run(() =>
      api<{ url: string; state: string }>(`/${route}-auth-url`, { query: { is_webui: 'true' } }),
    );
    if (answer) {
      setStarted(answer);
      setStatus('Waiting for the provider…');
      poll(answer.state);
    }
  };
  const close = () => {
    window.clearTimeout(timer.current);
    onClose();
  };
  return (
    <Modal
      title="Start an OAuth login"
      onClose={close}
      footer={
        <button className="btn" onClick={close}>
          Close
        </button>
      }
    >
      {!started ? (
        <>
          <Field label="Provider">
            <select name="route" value={route} onChange={(e) => setRoute(e.target.value)}>
              {LOGIN_ROUTES.map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
          </Field>
          <button className="btn btn-primary" disabled={action.busy} onClick={start}>
            Get the login link
          </button>
        </>
      ) : (
        <>
          <p>Open this link, sign in with the provider's account, and come back:</p>
          <p>
            <a href={started.url} target="_blank" rel="noreferrer" className="break">
              {started.url}
            </a>
          </p>
          <p className="muted">{status}</p>
        </>
      )}
      <ErrorBox error={action.error} />
    </Modal>
  );
}
