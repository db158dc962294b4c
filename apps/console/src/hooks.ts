import { useCallback, useEffect, useRef, useState } from 'react';
import { api, ApiError, type RequestOptions } from './api';

/** What a failed call ended with, as the console shows it. */
const apiErrorOf = (err: unknown) => (err instanceof ApiError ? err : new ApiError(0, String(err)));

export interface Resource<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload: () => void;
}

/** GETs `path` (with `query`) when either changes; `refreshMs` polls it. */
export function useResource<T>(path: string | null, query?: RequestOptions['query'], refreshMs?: number): Resource<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<ApiError>();
  const [loading, setLoading] = useState(path !== null);
  const [tick, setTick] = useState(0);
  const key = JSON.stringify(query ?? {});
  const latest = useRef(0);

  useEffect(() => {
    if (path === null) return;
    const call = ++latest.current;
    setLoading(true);
    api<T>(path, { query: JSON.parse(key) as RequestOptions['query'] })
      .then((value) => {
        if (call !== latest.current) return;
        setData(value);
        setError(undefined);
      })
      .catch((err: unknown) => {
        if (call !== latest.current) return;
        setError(apiErrorOf(err));
      })
      .finally(() => {
        if (call === latest.current) setLoading(false);
      });
  }, [path, key, tick]);

  useEffect(() => {
    if (!refreshMs) return;
    const timer = setInterval(() => setTick((t) => t + 1), refreshMs);
    return () => clearInterval(timer);
  }, [refreshMs]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

/** A list read page by page: what is loaded so far, and whether there is more. */
export interface PagedList<T> extends Resource<T[]> {
  hasMore: boolean;
  /** Appends the next page. */
  loadMore: () => void;
}

/** The key of a page's item list (the one array of the page). */
type ItemsKey<P> = { [K in keyof P]: P[K] extends readonly unknown[] ? K : never }[keyof P];
type ItemOf<P> = P[ItemsKey<P>] extends readonly (infer T)[] ? T : never;

/**
 * A newest-first list of the management API served in pages (`before_id` = the previous page's
 * `next_before_id`), e.g. `usePagedList<AuditLogPage>('/audit-log', 'entries', { limit: 50 })`.
 * It starts again from the first page when `path` or `query` changes, and on `reload`.
 */
export function usePagedList<P extends { next_before_id: string | null }>(
  path: string,
  items: ItemsKey<P>,
  query?: RequestOptions['query'],
): PagedList<ItemOf<P>> {
  const [data, setData] = useState<ItemOf<P>[]>();
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<ApiError>();
  const [loading, setLoading] = useState(true);
  const key = JSON.stringify(query ?? {});
  const latest = useRef(0);

  const load = useCallback(
    async (before?: string) => {
      const call = ++latest.current;
      setLoading(true);
      try {
        const page = await api<P>(path, {
          query: { ...(JSON.parse(key) as RequestOptions['query']), before_id: before },
        });
        if (call !== latest.current) return;
        const rows = page[items] as ItemOf<P>[];
        setData((current) => (before ? [...(current ?? []), ...rows] : rows));
        setNext(page.next_before_id);
        setError(undefined);
      } catch (err) {
        if (call === latest.current) setError(apiErrorOf(err));
      } finally {
        if (call === latest.current) setLoading(false);
      }
    },
    [path, items, key],
  );
  useEffect(() => void load(), [load]);

  const reload = useCallback(() => void load(), [load]);
  const loadMore = useCallback(() => void (next !== null && load(next)), [load, next]);
  return { data, error, loading, reload, hasMore: next !== null, loadMore };
}

/** Runs an action, tracking whether it is under way and the error it ended with. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const run = useCallback(async <T>(action: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(undefined);
    try {
      return await action();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, setError, run };
}
