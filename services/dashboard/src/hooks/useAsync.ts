import { useCallback, useEffect, useRef, useState } from 'react';
import { isAbortError } from '../api/client';

export interface AsyncState<T> {
  data: T | undefined;
  error: unknown;
  /** True while the first load (or a load after the inputs changed) is in flight. */
  loading: boolean;
  /** True while any load, including a background refresh, is in flight. */
  busy: boolean;
  /** Load again; keeps showing the current data meanwhile. */
  reload: () => void;
  setData: (data: T) => void;
}

/**
 * Run `load` when `deps` change, abort the previous run, keep the result and the error. Errors are kept
 * for the screen to show; an aborted run is not an error.
 */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[]): AsyncState<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const [busy, setBusy] = useState(true);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const depsKey = JSON.stringify(deps);
  const lastDeps = useRef<string | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    const depsChanged = lastDeps.current !== depsKey;
    lastDeps.current = depsKey;
    if (depsChanged) {
      // Different inputs: never show the previous inputs' data or error as if it were current.
      setLoading(true);
      setData(undefined);
      setError(undefined);
    }
    setBusy(true);
    loadRef
      .current(controller.signal)
      .then((result) => {
        if (controller.signal.aborted) return;
        setData(result);
        setError(undefined);
      })
      .catch((e: unknown) => {
        if (controller.signal.aborted || isAbortError(e)) return;
        setError(e);
      })
      .finally(() => {
        if (controller.signal.aborted) return;
        setLoading(false);
        setBusy(false);
      });
    return () => controller.abort();
  }, [depsKey, tick]);

  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data, error, loading, busy, reload, setData };
}

/** Call `callback` every `ms` milliseconds while `enabled` (and the tab is visible). */
export function useInterval(callback: () => void, ms: number, enabled = true): void {
  const ref = useRef(callback);
  ref.current = callback;
  useEffect(() => {
    if (!enabled) return undefined;
    const id = window.setInterval(() => {
      if (document.visibilityState !== 'hidden') ref.current();
    }, ms);
    return () => window.clearInterval(id);
  }, [ms, enabled]);
}

/** The current time, updated every `ms` milliseconds (for "3 seconds ago" labels). */
export function useNow(ms = 1000): Date {
  const [now, setNow] = useState(() => new Date());
  useInterval(() => setNow(new Date()), ms);
  return now;
}
