import { useState } from 'react';
import type { RequestErrorLogFile, RequestErrorLogList, RequestErrorLogListing } from '@cpa/contracts/management-views';
import { formatTime } from '../format';
import { useResource } from '../hooks';
import { DataTable, type Column } from '../table';
import { Card, Empty, PageHeader, Resolved } from '../ui';

const headerText = (headers: Record<string, string>) =>
  Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n');

/** One request's upstream exchange: GET /request-error-logs/<name>?format=json. */
function Exchange({ name }: { name: string }) {
  const file = useResource<RequestErrorLogFile>(`/request-error-logs/${encodeURIComponent(name)}`, { format: 'json' });
  return (
    <Resolved resource={file}>
      {(data) => (
        <div className="exchange">
          {data.attempts.map((a) => (
            <div key={a.attempt} className="attempt">
              <div className="cell-title">
                Attempt {a.attempt} · {a.family} · credential <span className="mono">{a.credential_id}</span> · status{' '}
                {a.status} {a.error && <span className="muted">({a.error})</span>}
              </div>
              <div className="grid-2">
                <div>
                  <div className="muted small">
                    Request: {a.upstream_request.method} {a.upstream_request.url}
                  </div>
                  <pre className="json">{`${headerText(a.upstream_request.headers)}\n\n${a.upstream_request.body}`}</pre>
                </div>
                <div>
                  <div className="muted small">
                    Response{a.upstream_response ? `: ${a.upstream_response.status}` : ': none'}
                  </div>
                  <pre className="json">
                    {a.upstream_response
                      ? `${headerText(a.upstream_response.headers)}\n\n${a.upstream_response.body}`
                      : (a.error ?? 'no response')}
                  </pre>
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
  const logs = useResource<RequestErrorLogList>('/request-error-logs', undefined, 15_000);
  const [open, setOpen] = useState<string>();
  const columns: Column<RequestErrorLogListing>[] = [
    { header: 'Time', className: 'nowrap', cell: (f) => formatTime(f.time) },
    { header: 'Request id', className: 'mono small', cell: (f) => f.request_id },
    { header: 'Client format', cell: (f) => f.client_format },
    { header: 'Model', cell: (f) => f.model },
    { header: 'Status', numeric: true, cell: (f) => <span className="status-code bad">{f.status}</span> },
    { header: 'Attempts', numeric: true, cell: (f) => f.attempts },
    {
      header: null,
      className: 'row-actions',
      cell: (f) => (
        <button className="btn btn-small" onClick={() => setOpen(open === f.name ? undefined : f.name)}>
          {open === f.name ? 'Hide' : 'Exchange'}
        </button>
      ),
    },
  ];
  return (
    <>
      <PageHeader
        title="Error logs"
        subtitle="The most recent failed requests with their upstream exchange. Secret headers are redacted by the server."
      />
      <Card>
        <Resolved
          resource={logs}
          isEmpty={(d) => !d.files?.length}
          empty={
            <Empty title="No failed requests recorded">
              Requests that fail upstream show up here with the exchange.
            </Empty>
          }
        >
          {(data) => (
            <DataTable
              testId="error-logs-table"
              compact
              columns={columns}
              rows={data.files}
              rowKey={(f) => f.name}
              detail={(f) => open === f.name && <Exchange name={f.name} />}
            />
          )}
        </Resolved>
      </Card>
    </>
  );
}
