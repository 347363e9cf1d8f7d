import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import { useApi } from '../api/context';
import { fromLocalInput, toLocalInput } from '../format/time';
import { useI18n } from '../i18n';
import type { BackfillResponse } from '../types/api';
import { ErrorBanner, Field } from './ui';

/** The range the dialog opens with: the last day, to the minute before now (a backfill runs past slots only). */
export function defaultBackfillRange(now: Date): { from: string; to: string } {
  const to = new Date(now.getTime());
  to.setSeconds(0, 0);
  return { from: toLocalInput(new Date(to.getTime() - 86_400_000)), to: toLocalInput(to) };
}

/**
 * POST /jobs/{id}/backfill from two datetime-local inputs (the browser's zone, sent as UTC instants): shows how many
 * runs were created and how many slots had one already; the API's 422 reasons (a range of more than 1,000 slots, an
 * end in the future) at the field they name.
 */
export function BackfillDialog({ jobId, onClose, onBackfilled }: { jobId: number; onClose: () => void; onBackfilled: (result: BackfillResponse) => void }) {
  const api = useApi();
  const { t } = useI18n();
  const [range, setRange] = useState(() => defaultBackfillRange(new Date()));
  const [clientErrors, setClientErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<BackfillResponse>();
  const closeRef = useRef<HTMLButtonElement>(null);
  const titleId = useId();

  useEffect(() => {
    closeRef.current?.focus();
    const onKey = (event: KeyboardEvent): void => {
      if (event.key === 'Escape') onClose();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);

  const apiFieldErrors = error instanceof ApiError ? error.fieldErrors : {};
  const errors: Record<string, string> = { ...apiFieldErrors, ...clientErrors };
  // Problems the API tied to no field of this dialog (e.g. "`to` must not be before `from`" names the body).
  const general = error instanceof ApiError && error.hasFieldErrors ? Object.entries(apiFieldErrors).filter(([field]) => field !== 'from' && field !== 'to') : [];

  const set = (name: 'from' | 'to', value: string): void => {
    setRange((current) => ({ ...current, [name]: value }));
    setClientErrors(({ [name]: _dropped, ...rest }) => rest);
    setError(undefined);
  };

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setError(undefined);
    setResult(undefined);
    const problems: Record<string, string> = {};
    const instants: Record<'from' | 'to', string | undefined> = { from: undefined, to: undefined };
    for (const name of ['from', 'to'] as const) {
      if (!range[name]) problems[name] = t.fieldRequired;
      else if ((instants[name] = fromLocalInput(range[name])) === undefined) problems[name] = t.invalidDate;
    }
    setClientErrors(problems);
    if (instants.from === undefined || instants.to === undefined) return;
    setBusy(true);
    try {
      const response = await api.backfill(jobId, { from: instants.from, to: instants.to });
      setResult(response);
      onBackfilled(response);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const input = (name: 'from' | 'to') => (
    <Field field={name} label={name === 'from' ? t.backfillFrom : t.backfillTo} error={errors[name]}>
      {(props) => <input {...props} type="datetime-local" dir="ltr" step={60} value={range[name]} onChange={(e) => set(name, e.target.value)} data-testid={`field-${name}`} />}
    </Field>
  );

  return (
    <div className="modal-backdrop">
      <form className="modal" role="dialog" aria-modal="true" aria-labelledby={titleId} onSubmit={submit} noValidate data-testid="backfill-dialog">
        <h2 id={titleId}>{t.backfillTitle}</h2>
        <p className="hint">{t.backfillIntro}</p>
        <div className="grid-2">
          {input('from')}
          {input('to')}
        </div>
        {error instanceof ApiError && error.hasFieldErrors ? (
          <div className="banner banner-error" role="alert" data-testid="backfill-error">
            <div className="banner-body" dir="auto">
              {general.length > 0 ? general.map(([, reason]) => reason).join('; ') : error.message}
            </div>
          </div>
        ) : (
          <ErrorBanner error={error} testId="backfill-error" />
        )}
        {result && (
          <div className="banner banner-ok" role="status" data-testid="backfill-result" data-created={result.created} data-existing={result.existing} data-slots={result.slots}>
            <div className="banner-body">{t.backfillResult(result.created, result.existing, result.slots)}</div>
          </div>
        )}
        <div className="modal-actions">
          <button type="button" className="btn" ref={closeRef} onClick={onClose} data-testid="backfill-close">
            {t.close}
          </button>
          <button type="submit" className="btn btn-primary" disabled={busy} data-testid="backfill-submit">
            {busy ? t.backfilling : t.backfillSubmit}
          </button>
        </div>
      </form>
    </div>
  );
}
