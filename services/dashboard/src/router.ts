// Hash routing (#/jobs/7): deep links and reloads work from static files with no server-side fallback.
import { useEffect, useState } from 'react';

export type Route =
  | { name: 'signIn' }
  | { name: 'jobs' }
  | { name: 'jobNew' }
  | { name: 'job'; id: number }
  | { name: 'jobEdit'; id: number }
  | { name: 'history' }
  | { name: 'status' }
  | { name: 'overview' }
  | { name: 'channels' }
  | { name: 'channelNew' }
  | { name: 'channel'; id: number }
  | { name: 'channelEdit'; id: number }
  | { name: 'notFound'; path: string };

export interface Location {
  path: string;
  query: URLSearchParams;
}

export function parseHash(hash: string): Location {
  const raw = hash.replace(/^#/, '') || '/';
  const [path = '/', search = ''] = raw.split('?', 2);
  return { path: path.startsWith('/') ? path : `/${path}`, query: new URLSearchParams(search) };
}

export function matchRoute(path: string): Route {
  const clean = path.replace(/\/+$/, '') || '/';
  if (clean === '/' || clean === '/jobs') return { name: 'jobs' };
  if (clean === '/sign-in') return { name: 'signIn' };
  if (clean === '/jobs/new') return { name: 'jobNew' };
  if (clean === '/history') return { name: 'history' };
  if (clean === '/status') return { name: 'status' };
  if (clean === '/overview') return { name: 'overview' };
  if (clean === '/channels') return { name: 'channels' };
  if (clean === '/channels/new') return { name: 'channelNew' };
  const channel = /^\/channels\/(\d+)(\/edit)?$/.exec(clean);
  if (channel) return channel[2] ? { name: 'channelEdit', id: Number(channel[1]) } : { name: 'channel', id: Number(channel[1]) };
  const job = /^\/jobs\/(\d+)(\/edit)?$/.exec(clean);
  if (job) return job[2] ? { name: 'jobEdit', id: Number(job[1]) } : { name: 'job', id: Number(job[1]) };
  return { name: 'notFound', path: clean };
}

export function href(path: string, query?: Record<string, string | number | boolean | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined && value !== '') params.set(key, String(value));
  const qs = params.toString();
  return `#${path}${qs ? `?${qs}` : ''}`;
}

export function navigate(path: string, query?: Record<string, string | number | boolean | undefined>, replace = false): void {
  const target = href(path, query);
  if (replace) {
    window.history.replaceState(null, '', target);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else {
    window.location.hash = target.slice(1);
  }
}

export function useLocation(): Location {
  const [location, setLocation] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const onChange = (): void => setLocation(parseHash(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return location;
}

/** Positive integer from the query string, or the fallback. */
export function intParam(query: URLSearchParams, name: string, fallback: number): number {
  const value = Number(query.get(name));
  return Number.isInteger(value) && value > 0 ? value : fallback;
}
