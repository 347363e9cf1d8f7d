import { useState, type FormEvent } from 'react';
import { ApiError, UnauthorizedError } from '../api/client';
import { useApi } from '../api/context';
import { LanguageSwitch } from '../components/Layout';
import { ErrorBanner } from '../components/ui';
import { useI18n } from '../i18n';

export function SignIn({ onSignedIn, expired }: { onSignedIn: (token: string) => void; expired: boolean }) {
  const { t } = useI18n();
  const api = useApi();
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | undefined>();
  const [error, setError] = useState<unknown>();

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const value = token.trim().replace(/^Bearer\s+/i, '');
    setProblem(undefined);
    setError(undefined);
    if (!value) {
      setProblem(t.tokenRequired);
      return;
    }
    setBusy(true);
    try {
      await api.checkToken(value);
      onSignedIn(value);
    } catch (e) {
      if (e instanceof UnauthorizedError) setProblem(`${t.tokenRejected} ${e.message}`.trim());
      else setError(e instanceof ApiError || e instanceof Error ? e : new Error(String(e)));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="signin-page" data-testid="page-sign-in">
      <div className="signin-lang">
        <LanguageSwitch />
      </div>
      <form className="card signin-card" onSubmit={submit} noValidate>
        <h1>{t.appTitle}</h1>
        <h2>{t.signInTitle}</h2>
        <p className="muted">{t.signInIntro}</p>
        {expired && (
          <div className="banner banner-warn" role="status" data-testid="signin-expired">
            {t.sessionExpired}
          </div>
        )}
        <div className={`field${problem ? ' field-invalid' : ''}`}>
          <label htmlFor="signin-token">{t.token}</label>
          <input
            id="signin-token"
            type="password"
            autoComplete="off"
            spellCheck={false}
            dir="ltr"
            value={token}
            onChange={(e) => setToken(e.target.value)}
            aria-invalid={Boolean(problem)}
            data-testid="signin-token"
          />
          {problem && (
            <div className="field-error" role="alert" data-testid="signin-error">
              {problem}
            </div>
          )}
        </div>
        <ErrorBanner error={error} />
        <button type="submit" className="btn btn-primary" disabled={busy} data-testid="signin-submit">
          {busy ? t.signingIn : t.signIn}
        </button>
      </form>
    </div>
  );
}
