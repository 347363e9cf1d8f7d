import type { ReactNode } from 'react';
import { useI18n } from '../i18n';

export function LanguageSwitch() {
  const { t, toggleLang, lang } = useI18n();
  return (
    <button
      type="button"
      className="btn btn-ghost lang-switch"
      onClick={toggleLang}
      title={t.switchLanguageTitle}
      lang={lang === 'en' ? 'ar' : 'en'}
      data-testid="lang-switch"
    >
      {t.switchLanguage}
    </button>
  );
}

/** The header's UTC switch: every time on every page in UTC, or in the browser's zone (the default). */
export function UtcSwitch() {
  const { t, utc, toggleUtc } = useI18n();
  return (
    <label className="check utc-switch" title={t.utcSwitchTitle}>
      <input type="checkbox" checked={utc} onChange={toggleUtc} data-testid="utc-switch" />
      {t.utcSwitch}
    </label>
  );
}

export type Section = 'overview' | 'jobs' | 'history' | 'status' | 'channels' | undefined;

export function Layout({ section, onSignOut, children }: { section: Section; onSignOut: () => void; children: ReactNode }) {
  const { t } = useI18n();
  const link = (name: Exclude<Section, undefined>, label: string) => (
    <a href={`#/${name}`} className={section === name ? 'active' : undefined} aria-current={section === name ? 'page' : undefined} data-testid={`nav-${name}`}>
      {label}
    </a>
  );
  return (
    <div className="app">
      <header className="topbar">
        <a className="brand" href="#/jobs">
          {t.appTitle}
        </a>
        <nav className="nav">
          {link('overview', t.navOverview)}
          {link('jobs', t.navJobs)}
          {link('history', t.navHistory)}
          {link('status', t.navStatus)}
          {link('channels', t.navChannels)}
        </nav>
        <div className="topbar-end">
          <UtcSwitch />
          <LanguageSwitch />
          <button type="button" className="btn btn-ghost" onClick={onSignOut} data-testid="sign-out">
            {t.signOut}
          </button>
        </div>
      </header>
      <main className="content">{children}</main>
    </div>
  );
}
