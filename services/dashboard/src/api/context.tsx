import { createContext, useContext, type ReactNode } from 'react';
import type { SchedulerApi } from './client';

const ApiContext = createContext<SchedulerApi | null>(null);

export function ApiProvider({ api, children }: { api: SchedulerApi; children: ReactNode }) {
  return <ApiContext.Provider value={api}>{children}</ApiContext.Provider>;
}

export function useApi(): SchedulerApi {
  const api = useContext(ApiContext);
  if (!api) throw new Error('useApi outside <ApiProvider>');
  return api;
}
