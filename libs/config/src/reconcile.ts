/** Counts of one reconciliation of desired rows against stored rows. */
export interface SyncCount {
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
}

export const emptyCount = (): SyncCount => ({ created: 0, updated: 0, deleted: 0, unchanged: 0 });

export function addCounts(a: SyncCount, b: SyncCount): SyncCount {
  return {
    created: a.created + b.created,
    updated: a.updated + b.updated,
    deleted: a.deleted + b.deleted,
    unchanged: a.unchanged + b.unchanged,
  };
}

export interface ReconcilePlan<E, D> {
  create: D[];
  update: { existing: E; desired: D }[];
  remove: E[];
  unchanged: number;
}

/**
 * Pure diff of stored rows against desired rows keyed by id: rows equal to what is desired
 * are left alone (no write, no updatedAt bump), which is what makes a re-import a no-op.
 */
export function planReconcile<E extends { id: string }, D extends { id: string }>(
  existing: readonly E[],
  desired: readonly D[],
  same: (existing: E, desired: D) => boolean,
  prunable: (existing: E) => boolean,
): ReconcilePlan<E, D> {
  const byId = new Map(existing.map((row) => [row.id, row]));
  const wanted = new Set(desired.map((row) => row.id));
  const plan: ReconcilePlan<E, D> = { create: [], update: [], remove: [], unchanged: 0 };
  for (const row of desired) {
    const current = byId.get(row.id);
    if (!current) plan.create.push(row);
    else if (same(current, row)) plan.unchanged++;
    else plan.update.push({ existing: current, desired: row });
  }
  plan.remove = existing.filter((row) => !wanted.has(row.id) && prunable(row));
  return plan;
}

export function countOf(plan: ReconcilePlan<unknown, unknown>): SyncCount {
  return {
    created: plan.create.length,
    updated: plan.update.length,
    deleted: plan.remove.length,
    unchanged: plan.unchanged,
  };
}

/** JSON equality independent of key order (Postgres jsonb does not keep it). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  return stableStringify(a) === stableStringify(b);
}

export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** Drops undefined properties so stored JSON carries only what was set. */
export function compact<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
