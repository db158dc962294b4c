import type { AuditEntryView, AuditLogPage, AuditValue } from '@cpa/contracts/management-views';
import { formatTime } from '../format';
import { usePagedList } from '../hooks';
import { DataTable, LoadMore, type Column } from '../table';
import { Card, Empty, PageHeader, Resolved } from '../ui';

const show = (value: AuditValue | undefined) =>
  value === undefined ? '—' : Array.isArray(value) ? value.join(', ') || '[]' : value === null ? 'null' : String(value);

function Change({ entry }: { entry: AuditEntryView }) {
  const after = entry.after;
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

const COLUMNS: Column<AuditEntryView>[] = [
  { header: 'Time', className: 'nowrap', cell: (e) => formatTime(e.at) },
  { header: 'Actor', cell: (e) => e.actor },
  { header: 'Action', cell: (e) => <code>{e.action}</code> },
  { header: 'Target', className: 'break', cell: (e) => e.target || <span className="muted">—</span> },
  { header: 'Before → after', cell: (e) => <Change entry={e} /> },
];

/** Every change made through the management API, newest first; secrets are never recorded. */
export function AuditPage() {
  const entries = usePagedList<AuditLogPage>('/audit-log', 'entries', { limit: 50 });
  return (
    <>
      <PageHeader
        title="Audit log"
        subtitle="Who changed what, with the values before and after. Secrets are never recorded."
        actions={
          <button className="btn" onClick={entries.reload} disabled={entries.loading}>
            Refresh
          </button>
        }
      />
      <Card>
        <Resolved
          resource={entries}
          isEmpty={(rows) => rows.length === 0}
          empty={<Empty title="No changes recorded yet" />}
        >
          {(rows) => (
            <>
              <DataTable testId="audit-table" compact columns={COLUMNS} rows={rows} rowKey={(e) => e.id} />
              <LoadMore list={entries} label="Load older entries" />
            </>
          )}
        </Resolved>
      </Card>
    </>
  );
}
