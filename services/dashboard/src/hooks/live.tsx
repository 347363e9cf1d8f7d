// Live data: the pages' reads go through TanStack Query, refetched every few seconds while the tab is visible.
import { QueryClient, QueryClientProvider, useQuery, useQueryClient } from '@tanstack/react-query';
import { createContext, useCallback, useContext, useMemo, type ReactNode } from 'react';
import type { AsyncState } from './useAsync';

/** How often the pages refetch their data, in milliseconds (none while the tab is hidden). */
export const LIVE_REFRESH_MS = 5_000;

const RefreshContext = createContext<number>(LIVE_REFRESH_MS);

/** A query client as the dashboard uses it: errors are shown at once (no silent retries), nothing cached across pages. */
export function newQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: { retry: false, gcTime: 60_000, staleTime: 0, refetchOnWindowFocus: true, refetchIntervalInBackground: false },
    },
  });
}

/** `refreshMs` replaces LIVE_REFRESH_MS (tests). */
export function LiveProvider({ client, refreshMs = LIVE_REFRESH_MS, children }: { client: QueryClient; refreshMs?: number; children: ReactNode }) {
  return (
    <QueryClientProvider client={client}>
      <RefreshContext.Provider value={refreshMs}>{children}</RefreshContext.Provider>
    </QueryClientProvider>
  );
}

/** The refresh period of live reads, in milliseconds. */
export function useRefreshMs(): number {
  return useContext(RefreshContext);
}

/**
 * Read `key` with `load`, refetched every `intervalMs` (default: the live refresh period) while the tab is visible
 * (TanStack Query's focus manager follows document.visibilityState), and at once when it becomes visible again.
 * Same shape as useAsync, so the pages did not change how they show loading, errors and data.
 */
export function useLive<T>(key: readonly unknown[], load: (signal: AbortSignal) => Promise<T>, options: { intervalMs?: number | false } = {}): AsyncState<T> {
  const fallback = useRefreshMs();
  const client = useQueryClient();
  const interval = options.intervalMs === undefined ? fallback : options.intervalMs;
  const query = useQuery({
    queryKey: key,
    queryFn: ({ signal }) => load(signal),
    refetchInterval: interval,
    refetchIntervalInBackground: false,
  });
  const keyJson = JSON.stringify(key);
  const { refetch } = query;
  const reload = useCallback(() => void refetch(), [refetch]);
  // eslint-disable-next-line react-hooks/exhaustive-deps -- keyJson stands for key
  const setData = useCallback((data: T) => client.setQueryData(key, data), [client, keyJson]);
  return useMemo(
    () => ({
      data: query.data,
      error: query.error ?? undefined,
      loading: query.isPending,
      busy: query.isFetching,
      reload,
      setData,
    }),
    [query.data, query.error, query.isPending, query.isFetching, reload, setData],
  );
}

/**
 * After a write (save, delete): forget what the pages read, so that the next page shows what the API answers now
 * rather than what it cached before the write (and refetches in the background).
 */
export function useForgetReads(): () => void {
  const client = useQueryClient();
  return useCallback(() => client.removeQueries(), [client]);
}
