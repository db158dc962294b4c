import { useState } from 'react';
import { formatTime } from '../format';
import { useResource } from '../hooks';
import { Card, Empty, PageHeader, Resolved } from '../ui';

/** An entry of GET /request-error-logs (CLIProxyAPI's file listing plus what the router knows). */
interface ErrorLogListing {
  name: string;
  size: number;
  modified: number;
  request_id: string;
  time: string;
  client_format: string;
  model: string;
  status: number;
  attempts: number;
}

interface Attempt {
  time: string;
  family: string;
  credential_id: string;
  attempt: number;
  status: number;
  error?: string;
  upstream_request: { method: string; url: string; headers: Record<string, string>; body: string };
  upstream_response?: { status: number; headers: Record<string, string>; body: string };
}

const headerText = (headers: Record<string, string>) =>
  Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n');

/** One request's upstream exchange: GET /request-error-logs/<name>?format=json. */
function Exchange({ name }: { name: string }) {
  const file = useResource<{ attempts: Attempt[] }>(`/request-error-logs/${encodeURIComponent(name)}`, { format: 'json' });
  return (
    <Resolved resource={file}>
      {(data) => (
        <div className="exchange">
          {data.attempts.map((a) => (
            <div key={a.attempt} className="attempt">
              <div className="cell-title">
                Attempt {a.attempt} · {a.family} · credential <span className="mono">{a.credential_id}</span> · status {a.status} {a.error && <span className="muted">({a.error})</span>}
              </div>
              <div className="grid-2">
                <div>
                  <div className="muted small">
                    Request: {a.upstream_request.method} {a.upstream_request.url}
                  </div>
                  <pre className="json">{`${headerText(a.upstream_request.headers)}\n\n${a.upstream_request.body}`}</pre>
                </div>
                <div>
                  <div className="muted small">Response{a.upstream_response ? `: ${a.upstream_response.status}` : ': none'}</div>
                  <pre className="json">{a.upstream_response ? `${headerText(a.upstream_response.headers)}\n\n${a.upstream_response.body}` : a.error ?? 'no response'}</pre>
                </div>
              </div>
            </div>
          ))}
        </div>
      )}
    </Resolved>
  );
}

/** The last failed requests with their upstream exchange (headers redacted by the server). */
export function LogsPage() {
  const logs = useResource<{ files: ErrorLogListing[] }>('/request-error-logs', undefined, 15_000);
  const [open, setOpen] = useState<string>();
  return (
    <>
      <PageHeader title="Error logs" subtitle="The most recent failed requests with their upstream exchange. Secret headers are redacted by the server." />
      <Card>
        <Resolved resource={logs} isEmpty={(d) => !d.files?.length} empty={<Empty title="No failed requests recorded">Requests that fail upstream show up here with the exchange.</Empty>}>
          {(data) => (
            <div className="table-wrap">
              <table className="table compact" data-testid="error-logs-table">
                <thead>
                  <tr>
                    <th>Time</th>
                    <th>Request id</th>
                    <th>Client format</th>
                    <th>Model</th>
                    <th className="num">Status</th>
                    <th className="num">Attempts</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {data.files.map((f) => [
                    <tr key={f.name}>
                      <td className="nowrap">{formatTime(f.time)}</td>
                      <td className="mono small">{f.request_id}</td>
                      <td>{f.client_format}</td>
                      <td>{f.model}</td>
                      <td className="num">
                        <span className="status-code bad">{f.status}</span>
                      </td>
                      <td className="num">{f.attempts}</td>
                      <td className="row-actions">
                        <button className="btn btn-small" onClick={() => setOpen(open === f.name ? undefined : f.name)}>
                          {open === f.name ? 'Hide' : 'Exchange'}
                        </button>
                      </td>
                    </tr>,
                    open === f.name ? (
                      <tr key={`${f.name}-detail`} className="detail-row">
                        <td colSpan={7}>
                          <Exchange name={f.name} />
                        </td>
                      </tr>
                    ) : null,
                  ])}
                </tbody>
              </table>
            </div>
          )}
        </Resolved>
      </Card>
    </>
  );
}
