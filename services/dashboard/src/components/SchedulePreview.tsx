import { useEffect, useState } from 'react';
import { ApiError, isAbortError } from '../api/client';
import { useApi } from '../api/context';
import { describeSchedule } from '../format/schedule';
import { useI18n } from '../i18n';
import type { OneSchedule, SchedulePreviewResponse } from '../types/api';
import { ErrorBanner, Ltr } from './ui';

export const PREVIEW_COUNT = 5;
/** Wait this long after the last keystroke before asking the API, in milliseconds. */
export const PREVIEW_DEBOUNCE_MS = 350;

/**
 * Live preview of the next fire times, computed by the API (POST /schedule/preview) so that it is exactly
 * what the timekeeper will do. Field errors of the preview are reported up to be shown next to the fields.
 */
export function SchedulePreview({ schedule, onFieldErrors }: {
  schedule: OneSchedule | undefined;
  onFieldErrors: (errors: Record<string, string>) => void;
}) {
  const { t, lang, time } = useI18n();
  const api = useApi();
  const [result, setResult] = useState<SchedulePreviewResponse>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const key = JSON.stringify(schedule ?? null);

  useEffect(() => {
    setError(undefined);
    if (!schedule) {
      setResult(undefined);
      setBusy(false);
      onFieldErrors({});
      return undefined;
    }
    const controller = new AbortController();
    setBusy(true);
    const timer = window.setTimeout(() => {
      api
        .previewSchedule({ ...schedule, count: PREVIEW_COUNT }, controller.signal)
        .then((response) => {
          setResult(response);
          onFieldErrors({});
        })
        .catch((e: unknown) => {
          if (controller.signal.aborted || isAbortError(e)) return;
          setResult(undefined);
          setError(e);
          onFieldErrors(e instanceof ApiError ? e.fieldErrors : {});
        })
        .finally(() => {
          if (!controller.signal.aborted) setBusy(false);
        });
    }, PREVIEW_DEBOUNCE_MS);
    return () => {
      window.clearTimeout(timer);
      controller.abort();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- `key` is the schedule's value
  }, [key, api]);

  const zone = schedule?.cronExpression ? (schedule.timezone ?? 'UTC') : undefined;
  // Field errors are also shown next to the schedule fields; here they are the reason there is no preview.
  const fieldOnly = error instanceof ApiError && error.hasFieldErrors;

  return (
    <div className="preview" aria-live="polite" data-testid="schedule-preview">
      <h3>
        {t.previewTitle} {busy && <span className="muted small">{t.previewLoading}</span>}
      </h3>
      {!schedule ? (
        <p className="muted" data-testid="preview-empty">
          {t.previewEmpty}
        </p>
      ) : error ? (
        fieldOnly ? (
          <p className="field-error" dir="auto" data-testid="preview-error">
            {Object.values((error as ApiError).fieldErrors).join('; ')}
          </p>
        ) : (
          <ErrorBanner error={error} testId="preview-error" />
        )
      ) : result ? (
        <>
          <p data-testid="preview-description">
            {/* The API describes the schedule in English; Arabic words are built here from the same fields. */}
            {lang === 'ar' && schedule ? describeSchedule(schedule, lang) : <Ltr>{result.description}</Ltr>}
          </p>
          {result.fireTimes.length === 0 ? (
            <p className="muted">{t.previewNone}</p>
          ) : (
            <ol className="fire-times" data-testid="preview-times">
              {result.fireTimes.map((fireTime) => (
                <li key={fireTime}>{time(fireTime, zone)}</li>
              ))}
            </ol>
          )}
        </>
      ) : null}
    </div>
  );
}
