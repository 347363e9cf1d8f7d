import { useCallback, useMemo, useState } from 'react';
import { SchedulerApi } from './api/client';
import { ApiProvider } from './api/context';
import { clearToken, loadToken, saveToken } from './auth/session';
import { Layout, type Section } from './components/Layout';
import { Empty } from './components/ui';
import { LiveProvider, newQueryClient } from './hooks/live';
import { I18nProvider, useI18n, type Lang } from './i18n';
import { ChannelDeliveries } from './pages/ChannelDeliveries';
import { ChannelFormPage } from './pages/ChannelForm';
import { ChannelsList } from './pages/ChannelsList';
import { History } from './pages/History';
import { JobDetail } from './pages/JobDetail';
import { JobFormPage } from './pages/JobForm';
import { JobsList } from './pages/JobsList';
import { Overview } from './pages/Overview';
import { SignIn } from './pages/SignIn';
import { Status } from './pages/Status';
import { matchRoute, navigate, useLocation, type Route } from './router';

function sectionOf(route: Route): Section {
  switch (route.name) {
    case 'jobs':
    case 'jobNew':
    case 'job':
    case 'jobEdit':
      return 'jobs';
    case 'history':
      return 'history';
    case 'status':
      return 'status';
    case 'overview':
      return 'overview';
    case 'channels':
    case 'channelNew':
    case 'channel':
    case 'channelEdit':
      return 'channels';
    default:
      return undefined;
  }
}

function Screen({ route, query }: { route: Route; query: URLSearchParams }) {
  const { t } = useI18n();
  switch (route.name) {
    case 'jobs':
    case 'signIn':
      return <JobsList query={query} />;
    case 'jobNew':
      return <JobFormPage />;
    case 'job':
      return <JobDetail key={route.id} jobId={route.id} />;
    case 'jobEdit':
      return <JobFormPage jobId={route.id} />;
    case 'history':
      return <History />;
    case 'status':
      return <Status />;
    case 'overview':
      return <Overview />;
    case 'channels':
      return <ChannelsList />;
    case 'channelNew':
      return <ChannelFormPage />;
    case 'channelEdit':
      return <ChannelFormPage key={route.id} channelId={route.id} />;
    case 'channel':
      return <ChannelDeliveries key={route.id} channelId={route.id} />;
    default:
      return (
        <Empty testId="not-found">
          {t.notFound} — <a href="#/jobs">{t.backToJobs}</a>
        </Empty>
      );
  }
}

/**
 * Signed out (no token, or the API answered 401): the sign-in screen replaces whatever screen the URL names,
 * and that screen comes back once signed in, so deep links survive a sign-in.
 */
export function Shell({ fetchImpl, refreshMs }: { fetchImpl?: typeof fetch; refreshMs?: number }) {
  const [token, setToken] = useState<string | null>(() => loadToken());
  const [expired, setExpired] = useState(false);
  const location = useLocation();
  const route = matchRoute(location.path);

  // One query cache per session: signing out (or an expired token) drops everything the previous session read.
  const [queryClient] = useState(newQueryClient);
  const onUnauthorized = useCallback(() => {
    queryClient.clear();
    clearToken();
    setToken(null);
    setExpired(true);
  }, []);
  const api = useMemo(() => new SchedulerApi({ getToken: loadToken, onUnauthorized, fetch: fetchImpl }), [fetchImpl, onUnauthorized]);

  const signIn = (value: string): void => {
    saveToken(value);
    setExpired(false);
    setToken(value);
    if (route.name === 'signIn') navigate('/jobs', undefined, true);
  };
  const signOut = (): void => {
    queryClient.clear();
    clearToken();
    setExpired(false);
    setToken(null);
  };

  return (
    <ApiProvider api={api}>
      <LiveProvider client={queryClient} refreshMs={refreshMs}>
      {token ? (
        <Layout section={sectionOf(route)} onSignOut={signOut}>
          {/* key: a new sign-in remounts the screens, so nothing from the previous session lingers */}
          <Screen key={token} route={route} query={location.query} />
        </Layout>
      ) : (
        <SignIn onSignedIn={signIn} expired={expired} />
      )}
      </LiveProvider>
    </ApiProvider>
  );
}

/** `fetchImpl` replaces window.fetch, `refreshMs` the live refresh period (tests). */
export function App({ fetchImpl, lang, refreshMs }: { fetchImpl?: typeof fetch; lang?: Lang; refreshMs?: number }) {
  return (
    <I18nProvider lang={lang}>
      <Shell fetchImpl={fetchImpl} refreshMs={refreshMs} />
    </I18nProvider>
  );
}
