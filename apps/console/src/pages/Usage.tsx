import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { api, ApiError, download } from '../api';
import { formatMs, formatNumber, formatTime, fromLocalInput, toLocalInput } from '../format';
import { useAction } from '../hooks';
import { Card, Empty, ErrorBox, Loading, PageHeader } from '../ui';
import type { UsageRequest } from '../types';

interface Filters {
  from: string;
  to: string;
  client_key_id: string;
  credential_id: string;
  family: string;
  model: string;
  status: string;
}

const initialFilters = (): Filters => ({ from: toLocalInput(new Date(Date.now() - 24 * 3600_000)), to: '', client_key_id: '', credential_id: '', family: '', model: '', status: '' });

function queryOf(filters: Filters): Record<string, string | undefined> {
  return {
    from: fromLocalInput(filters.from),
    to: fromLocalInput(filters.to),
    client_key_id: filters.client_key_id.trim() || undefined,
    credential_id: filters.credential_id.trim() || undefined,
    family: filters.family.trim() || undefined,
    model: filters.model.trim() || undefined,
    status: filters.status.trim() || undefined,
  };
}

/** One row per request, newest first, with the filters of GET /usage/requests. */
export function UsagePage() {
  const [draft, setDraft] = useState<Filters>(initialFilters);
  const [filters, setFilters] = useState<Filters>(draft);
  const [rows, setRows] = useState<UsageRequest[]>();
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<ApiError>();
  const [loading, setLoading] = useState(true);
  const csv = useAction();
  const query = useMemo(() => queryOf(filters), [filters]);

  const load = async (before?: string) => {
    setLoading(true);
    try {
      const page = await api<{ requests: UsageRequest[]; next_before_id: string | null }>('/usage/requests', { query: { ...query, limit: 100, before_id: before } });
      setRows((current) => (before ? [...(current ?? []), ...page.requests] : page.requests));
      setNext(page.next_before_id);
      setError(undefined);
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, String(err)));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    void load();
  }, [query]);

  const apply = (event: FormEvent) => {
    event.preventDefault();
    setFilters({ ...draft });
  };
  const set = (field: keyof Filters) => (event: { target: { value: string } }) => setDraft({ ...draft, [field]: event.target.value });

  return (
    <>
      <PageHeader
        title="Usage"
        subtitle="Every request the gateway answered: who sent it, which credential served it, and what it cost."
        actions={
          <button className="btn" disabled={csv.busy} onClick={() => void csv.run(() => download('/usage/requests', { ...query, format: 'csv' }, 'usage.csv'))}>
            {csv.busy ? 'Exporting…' : 'Export CSV'}
          </button>
        }
      />
      <ErrorBox error={csv.error} />
      <Card>
        <form className="filters" onSubmit={apply}>
          <label>
            From
            <input type="datetime-local" name="from" value={draft.from} onChange={set('from')} />
          </label>
          <label>
            To
            <input type="datetime-local" name="to" value={draft.to} onChange={set('to')} />
          </label>
          <label>
            Family
            <input name="family" placeholder="any" value={draft.family} onChange={set('family')} />
          </label>
          <label>
            Model
            <input name="model" placeholder="any" value={draft.model} onChange={set('model')} />
          </label>
          <label>
            Status
            <input name="status" placeholder="any" size={5} value={draft.status} onChange={set('status')} />
          </label>
          <label>
            Client key id
            <input name="client_key_id" placeholder="any" value={draft.client_key_id} onChange={set('client_key_id')} />
          </label>
          <label>
            Credential id
            <input name="credential_id" placeholder="any" value={draft.credential_id} onChange={set('credential_id')} />
          </label>
          <div className="filter-buttons">
            <button className="btn btn-primary" type="submit">
              Apply
            </button>
            <button
              className="btn btn-ghost"
              type="button"
              onClick={() => {
                const reset = initialFilters();
                setDraft(reset);
                setFilters(reset);
              }}
            >
              Reset
            </button>
          </div>
        </form>
      </Card>
      <Card title="Requests">
        {error && <ErrorBox error={error} onRetry={() => void load()} />}
        {rows === undefined ? (
          loading ? <Loading /> : null
        ) : rows.length === 0 ? (
          <Empty title="No requests match">Widen the time range or clear a filter.</Empty>
        ) : (
          <>
            <div className="table-wrap">
              <table className="table compact" data-testid="usage-table">
                <thead>
                  <tr>
                    <th>Time</th>
                    <th>Client key</th>
                    <th>Credential</th>
                    <th>Model</th>
                    <th className="num">Status</th>
                    <th className="num">Latency</th>
                    <th className="num">TTFB</th>
                    <th className="num">In</th>
                    <th className="num">Out</th>
                    <th className="num">Cached</th>
                    <th className="num">Reasoning</th>
                    <th className="num">Attempts</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((r) => (
                    <tr key={r.id}>
                      <td className="nowrap">{formatTime(r.at)}</td>
                      <td>{r.client_key_name || r.client_key_id || <span className="muted">—</span>}</td>
                      <td>
                        {r.credential_label || r.credential_id || <span className="muted">—</span>}
                        <div className="muted small">{r.family}</div>
                      </td>
                      <td className="nowrap">{r.model}</td>
                      <td className="num">
                        <span className={`status-code ${r.status >= 400 ? 'bad' : 'good'}`}>{r.status}</span>
                      </td>
                      <td className="num">{formatMs(r.latency_ms)}</td>
                      <td className="num">{formatMs(r.ttfb_ms)}</td>
                      <td className="num">{formatNumber(r.input_tokens)}</td>
                      <td className="num">{formatNumber(r.output_tokens)}</td>
                      <td className="num">{formatNumber(r.cached_tokens)}</td>
                      <td className="num">{formatNumber(r.reasoning_tokens)}</td>
                      <td className="num">{r.attempts}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <div className="table-foot">
              <span className="muted small">{rows.length} requests shown</span>
              {next && (
                <button className="btn btn-small" disabled={loading} onClick={() => void load(next)}>
                  {loading ? 'Loading…' : 'Load more'}
                </button>
              )}
            </div>
          </>
        )}
      </Card>
    </>
  );
}
