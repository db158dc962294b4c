import { useCallback, useEffect, useRef, useState } from 'react';
import { api, ApiError, type RequestOptions } from './api';

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
        setError(err instanceof ApiError ? err : new ApiError(0, String(err)));
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

/** Runs an action, tracking whether it is under way and the error it ended with. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const run = useCallback(async <T,>(action: () => Promise<T>): Promise<T | undefined> => {
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
