import { render } from '@testing-library/react';
import { App } from '../App';
import { TOKEN_STORAGE_KEY } from '../auth/session';
import type { Lang } from '../i18n';
import { fakeFetch, type Handler } from './fakeApi';

/** Render the whole app at `hash` over a fake API; signed in unless token is null. */
export function renderApp(hash: string, routes: Record<string, Handler>, { token = 'test-token', lang = 'en', refreshMs }: { token?: string | null; lang?: Lang; refreshMs?: number } = {}) {
  if (token) sessionStorage.setItem(TOKEN_STORAGE_KEY, token);
  window.location.hash = hash;
  const fake = fakeFetch(routes);
  const result = render(<App fetchImpl={fake.fetchImpl} lang={lang} refreshMs={refreshMs} />);
  return { ...result, calls: fake.calls };
}
