import { Fragment, type HTMLAttributes, type ReactNode } from 'react';
import type { PagedList } from './hooks';

/** One column of a DataTable: its header and what each row shows in it. */
export interface Column<T> {
  header: ReactNode;
  cell: (row: T) => ReactNode;
  /** Figures: header and cells aligned right. */
  numeric?: boolean;
  /** Classes of the cells (not of the header). */
  className?: string;
  /** The cell's tooltip. */
  title?: (row: T) => string | undefined;
}

type RowAttributes = HTMLAttributes<HTMLTableRowElement> & { [data: `data-${string}`]: string };

function cellClass<T>(column: Column<T>): string | undefined {
  return [column.numeric && 'num', column.className].filter(Boolean).join(' ') || undefined;
}

/** Every table of the console: a header row, one row per item, and optionally a detail row under an item. */
export function DataTable<T>({
  columns,
  rows,
  rowKey,
  compact = false,
  testId,
  rowAttributes,
  detail,
}: {
  columns: Column<T>[];
  rows: readonly T[];
  rowKey: (row: T) => string;
  /** Less padding, for long lists. */
  compact?: boolean;
  testId?: string;
  /** Attributes of an item's row (`data-*` ones name it for tests). */
  rowAttributes?: (row: T) => RowAttributes;
  /** Shown across the table under the item's row when it returns something. */
  detail?: (row: T) => ReactNode;
}) {
  return (
    <div className="table-wrap">
      <table className={compact ? 'table compact' : 'table'} data-testid={testId}>
        <thead>
          <tr>
            {columns.map((column, i) => (
              <th key={i} className={column.numeric ? 'num' : undefined}>
                {column.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => {
            const more = detail?.(row);
            return (
              <Fragment key={rowKey(row)}>
                <tr {...rowAttributes?.(row)}>
                  {columns.map((column, i) => (
                    <td key={i} className={cellClass(column)} title={column.title?.(row)}>
                      {column.cell(row)}
                    </td>
                  ))}
                </tr>
                {more ? (
                  <tr className="detail-row">
                    <td colSpan={columns.length}>{more}</td>
                  </tr>
                ) : null}
              </Fragment>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** The foot of a table read page by page: `shown` (say, how many rows), and a button for the next page while there is one. */
export function LoadMore({ list, label, shown }: { list: PagedList<unknown>; label: string; shown?: ReactNode }) {
  if (!shown && !list.hasMore) return null;
  return (
    <div className="table-foot">
      {shown}
      {list.hasMore && (
        <button className="btn btn-small" disabled={list.loading} onClick={list.loadMore}>
          {list.loading ? 'Loading…' : label}
        </button>
      )}
    </div>
  );
}

/** A button of a row's actions. */
export interface RowAction {
  label: string;
  onClick: () => unknown;
  disabled?: boolean;
  /** Deletes something: drawn in the danger colour. */
  danger?: boolean;
  title?: string;
  /** Asked first; the action runs only when the operator agrees. */
  confirm?: string;
}

/** The buttons under an item's name (Edit, Enable/Disable, Delete…); `false` entries are left out, `children` follow them. */
export function RowActions({ actions, children }: { actions: (RowAction | false)[]; children?: ReactNode }) {
  return (
    <div className="inline-actions">
      {actions.map(
        (action) =>
          action && (
            <button
              key={action.label}
              className={action.danger ? 'btn btn-small btn-danger' : 'btn btn-small'}
              disabled={action.disabled}
              title={action.title}
              onClick={() => (!action.confirm || window.confirm(action.confirm)) && void action.onClick()}
            >
              {action.label}
            </button>
          ),
      )}
      {children}
    </div>
  );
}
