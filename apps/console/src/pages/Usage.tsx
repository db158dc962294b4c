import { useMemo, useState, type FormEvent } from 'react';
import type { UsageRequestPage, UsageRequestView } from '@cpa/contracts/management-views';
import { download } from '../api';
import { formatMs, formatNumber, formatTime, fromLocalInput, toLocalInput } from '../format';
import { useAction, usePagedList } from '../hooks';
import { DataTable, LoadMore, type Column } from '../table';
import { Card, Empty, ErrorBox, PageHeader, Resolved } from '../ui';

interface Filters {
  from: string;
  to: string;
  client_key_id: string;
  credential_id: string;
  family: string;
  model: string;
  status: string;
}

const initialFilters = (): Filters => ({
  from: toLocalInput(new Date(Date.now() - 24 * 3600_000)),
  to: '',
  client_key_id: '',
  credential_id: '',
  family: '',
  model: '',
  status: '',
});

/** The filter bar's inputs, in order; the text ones match anything when empty. */
const FILTER_FIELDS: { name: keyof Filters; label: string; time?: boolean; size?: number }[] = [
  { name: 'from', label: 'From', time: true },
  { name: 'to', label: 'To', time: true },
  { name: 'family', label: 'Family' },
  { name: 'model', label: 'Model' },
  { name: 'status', label: 'Status', size: 5 },
  { name: 'client_key_id', label: 'Client key id' },
  { name: 'credential_id', label: 'Credential id' },
];

function queryOf(filters: Filters): Record<string, string | undefined> {
  return Object.fromEntries(
    FILTER_FIELDS.map(({ name, time }) => [
      name,
      time ? fromLocalInput(filters[name]) : filters[name].trim() || undefined,
    ]),
  );
}

const none = <span className="muted">—</span>;
const COLUMNS: Column<UsageRequestView>[] = [
  { header: 'Time', className: 'nowrap', cell: (r) => formatTime(r.at) },
  { header: 'Client key', cell: (r) => r.client_key_name || r.client_key_id || none },
  {
    header: 'Credential',
    cell: (r) => (
      <>
        {r.credential_label || r.credential_id || none}
        <div className="muted small">{r.family}</div>
      </>
    ),
  },
  { header: 'Model', className: 'nowrap', cell: (r) => r.model },
  {
    header: 'Status',
    numeric: true,
    cell: (r) => <span className={`status-code ${r.status >= 400 ? 'bad' : 'good'}`}>{r.status}</span>,
  },
  { header: 'Latency', numeric: true, cell: (r) => formatMs(r.latency_ms) },
  { header: 'TTFB', numeric: true, cell: (r) => formatMs(r.ttfb_ms) },
  { header: 'In', numeric: true, cell: (r) => formatNumber(r.input_tokens) },
  { header: 'Out', numeric: true, cell: (r) => formatNumber(r.output_tokens) },
  { header: 'Cached', numeric: true, cell: (r) => formatNumber(r.cached_tokens) },
  { header: 'Reasoning', numeric: true, cell: (r) => formatNumber(r.reasoning_tokens) },
  { header: 'Attempts', numeric: true, cell: (r) => r.attempts },
];

/** One row per request, newest first, with the filters of GET /usage/requests. */
export function UsagePage() {
  const [draft, setDraft] = useState<Filters>(initialFilters);
  const [filters, setFilters] = useState<Filters>(draft);
  const csv = useAction();
  const query = useMemo(() => queryOf(filters), [filters]);
  const requests = usePagedList<UsageRequestPage>('/usage/requests', 'requests', { ...query, limit: 100 });

  const apply = (event: FormEvent) => {
    event.preventDefault();
    // Applying the same filters again reads the newest requests again.
    if (JSON.stringify(draft) === JSON.stringify(filters)) requests.reload();
    else setFilters({ ...draft });
  };
  const set = (field: keyof Filters) => (event: { target: { value: string } }) =>
    setDraft({ ...draft, [field]: event.target.value });

  return (
    <>
      <PageHeader
        title="Usage"
        subtitle="Every request the gateway answered: who sent it, which credential served it, and what it cost."
        actions={
          <button
            className="btn"
            disabled={csv.busy}
            onClick={() => void csv.run(() => download('/usage/requests', { ...query, format: 'csv' }, 'usage.csv'))}
          >
            {csv.busy ? 'Exporting…' : 'Export CSV'}
          </button>
        }
      />
      <ErrorBox error={csv.error} />
      <Card>
        <form className="filters" onSubmit={apply}>
          {FILTER_FIELDS.map((field) => (
            <label key={field.name}>
              {field.label}
              <input
                type={field.time ? 'datetime-local' : undefined}
                name={field.name}
                placeholder={field.time ? undefined : 'any'}
                size={field.size}
                value={draft[field.name]}
                onChange={set(field.name)}
              />
            </label>
          ))}
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
        <Resolved
          resource={requests}
          isEmpty={(rows) => rows.length === 0}
          empty={<Empty title="No requests match">Widen the time range or clear a filter.</Empty>}
        >
          {(rows) => (
            <>
              <DataTable testId="usage-table" compact columns={COLUMNS} rows={rows} rowKey={(r) => r.id} />
              <LoadMore
                list={requests}
                label="Load more"
                shown={<span className="muted small">{rows.length} requests shown</span>}
              />
            </>
          )}
        </Resolved>
      </Card>
    </>
  );
}
