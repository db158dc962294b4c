import { useEffect, useState } from 'react';
import { api, ApiError } from '../api';
import { formatTime } from '../format';
import { Card, Empty, ErrorBox, Loading, PageHeader } from '../ui';
import type { AuditEntry, AuditValue } from '../types';

const show = (value: AuditValue | undefined) => (value === undefined ? '—' : Array.isArray(value) ? value.join(', ') || '[]' : value === null ? 'null' : String(value));

function Change({ entry }: { entry: AuditEntry }) {
  const after = entry.after ?? {};
  const fields = [...new Set([...Object.keys(entry.before ?? {}), ...Object.keys(after)])];
  if (!fields.length) return <span className="muted">—</span>;
  return (
    <dl className="changes">
      {fields.map((field) => {
        const had = entry.before && field in entry.before;
        return (
          <div key={field}>
            <dt>{field}</dt>
            <dd>
              {had && (
                <>
                  <span className="before">{show(entry.before![field])}</span> →{' '}
                </>
              )}
              <span className="after">{show(after[field])}</span>
            </dd>
          </div>
        );
      })}
    </dl>
  );
}

/** Every change made through the management API, newest first; secrets are never recorded. */
export function AuditPage() {
  const [entries, setEntries] = useState<AuditEntry[]>();
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<ApiError>();
  const [loading, setLoading] = useState(true);
  const load = async (before?: string) => {
    setLoading(true);
    try {
      const page = await api<{ entries: AuditEntry[]; next_before_id: string | null }>('/audit-log', { query: { limit: 50, before_id: before } });
      setEntries((current) => (before ? [...(current ?? []), ...page.entries] : page.entries));
      setNext(page.next_before_id);
      setError(undefined);
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, String(err)));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => void load(), []);

  return (
    <>
      <PageHeader
        title="Audit log"
        subtitle="Who changed what, with the values before and after. Secrets are never recorded."
        actions={
          <button className="btn" onClick={() => void load()} disabled={loading}>
            Refresh
          </button>
        }
      />
      <Card>
        {error && <ErrorBox error={error} onRetry={() => void load()} />}
        {entries === undefined ? (
          loading ? <Loading /> : null
        ) : entries.length === 0 ? (
          <Empty title="No changes recorded yet" />
        ) : (
          <>
            <div className="table-wrap">
              <table className="table compact" data-testid="audit-table">
                <thead>
                  <tr>
                    <th>Time</th>
                    <th>Actor</th>
                    <th>Action</th>
                    <th>Target</th>
                    <th>Before → after</th>
                  </tr>
                </thead>
                <tbody>
                  {entries.map((e) => (
                    <tr key={e.id}>
                      <td className="nowrap">{formatTime(e.at)}</td>
                      <td>{e.actor}</td>
                      <td>
                        <code>{e.action}</code>
                      </td>
                      <td className="break">{e.target || <span className="muted">—</span>}</td>
                      <td>
                        <Change entry={e} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {next && (
              <div className="table-foot">
                <button className="btn btn-small" disabled={loading} onClick={() => void load(next)}>
                  {loading ? 'Loading…' : 'Load older entries'}
                </button>
              </div>
            )}
          </>
        )}
      </Card>
    </>
  );
}
