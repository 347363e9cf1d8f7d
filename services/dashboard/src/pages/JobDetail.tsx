import { useState, type ReactNode } from 'react';
import { useApi } from '../api/context';
import { JobCharts } from '../charts/JobCharts';
import { BackfillDialog } from '../components/BackfillDialog';
import { ChangesTable } from '../components/ChangesTable';
import { HistoryTable } from '../components/HistoryTable';
import { JobBadges } from '../components/JobBadges';
import { PREVIEW_COUNT } from '../components/SchedulePreview';
import { ConfirmDialog, ErrorBanner, Field, Loading, Ltr } from '../components/ui';
import { describeSchedule } from '../format/schedule';
import { formatRelative, fromLocalInput } from '../format/time';
import { useTaskFunctions, useTaskNames } from '../hooks/data';
import { useForgetReads, useLive } from '../hooks/live';
import { useAsync, useNow } from '../hooks/useAsync';
import { jobName, useI18n } from '../i18n';
import { navigate } from '../router';
import type { Messages } from '../i18n';
import type { ActionResult, Job, JobAction, OverlapPolicy } from '../types/api';

const ACTIONS: readonly JobAction[] = ['enable', 'disable', 'trigger', 'pause', 'resume'];

/** Whether an action makes sense in the job's current state (the API has the last word either way). */
export function actionApplies(action: JobAction, job: Pick<Job, 'isEnabled' | 'isPaused'>): boolean {
  switch (action) {
    case 'enable':
      return !job.isEnabled;
    case 'disable':
      return job.isEnabled;
    case 'pause':
      return !job.isPaused;
    case 'resume':
      return job.isPaused === true;
    default:
      return true;
  }
}

export function JobDetail({ jobId }: { jobId: number }) {
  const api = useApi();
  const { t, lang, time } = useI18n();
  const now = useNow(5_000);
  const job = useLive(['job', jobId], (signal) => api.getJob(jobId, signal));
  const forgetReads = useForgetReads();
  const tasks = useTaskFunctions();
  const taskLabel = useTaskNames(tasks.data, lang);

  const [running, setRunning] = useState<JobAction | undefined>();
  const [result, setResult] = useState<ActionResult | undefined>();
  const [actionError, setActionError] = useState<unknown>();
  const [historyKey, setHistoryKey] = useState(0);
  const [confirming, setConfirming] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState<unknown>();
  const [backfilling, setBackfilling] = useState(false);

  if (job.loading) {
    return (
      <section data-testid="page-job-detail">
        <Loading />
      </section>
    );
  }
  if (!job.data) {
    return (
      <section data-testid="page-job-detail">
        <ErrorBanner error={job.error} onRetry={job.reload} />
        <a href="#/jobs">{t.backToJobs}</a>
      </section>
    );
  }
  const current = job.data;
  const name = jobName(current, lang);

  const perform = async (action: JobAction): Promise<void> => {
    setRunning(action);
    setResult(undefined);
    setActionError(undefined);
    try {
      const response = await api.performAction(current.id, action);
      setResult(response);
      if (response.job) job.setData(response.job);
      else job.reload();
      setHistoryKey((n) => n + 1);
    } catch (e) {
      setActionError(e);
    } finally {
      setRunning(undefined);
    }
  };

  const remove = async (): Promise<void> => {
    setDeleting(true);
    setDeleteError(undefined);
    try {
      await api.deleteJob(current.id);
      forgetReads();
      setConfirming(false);
      navigate('/jobs', { deleted: current.id });
    } catch (e) {
      setDeleteError(e);
      setConfirming(false);
    } finally {
      setDeleting(false);
    }
  };

  const description = lang === 'ar' ? (current.descriptionAr ?? current.descriptionEn) : (current.descriptionEn ?? current.descriptionAr);
  const row = (label: string, value: ReactNode, testId?: string) => (
    <>
      <dt>{label}</dt>
      <dd data-testid={testId}>{value}</dd>
    </>
  );

  return (
    <section data-testid="page-job-detail" data-job-id={current.id}>
      <div className="page-header">
        <div>
          <h1 data-testid="job-title">{name}</h1>
          <JobBadges job={current} />
        </div>
        <div className="header-actions">
          <a className="btn" href={`#/jobs/${current.id}/edit`} data-testid="job-edit">
            {t.edit}
          </a>
          <button type="button" className="btn btn-danger" onClick={() => setConfirming(true)} data-testid="job-delete">
            {t.delete}
          </button>
        </div>
      </div>
      <ErrorBanner error={job.error} onRetry={job.reload} />
      <ErrorBanner error={deleteError} testId="delete-error" onDismiss={() => setDeleteError(undefined)} />
      {current.isPaused && current.pausedReason && (
        <div className="banner banner-warn paused-reason" role="status" data-testid="paused-reason">
          <div className="banner-body">
            <strong>{t.pausedByScheduler}</strong>
            <div dir="auto" data-testid="paused-reason-text">
              {current.pausedReason}
            </div>
            <div className="small">{t.pausedReasonHint}</div>
          </div>
          <div className="banner-actions">
            <button type="button" className="btn btn-small" disabled={running !== undefined} onClick={() => void perform('resume')} data-testid="paused-reason-resume">
              {t.action_resume}
            </button>
          </div>
        </div>
      )}

      <div className="card">
        <h2>{t.actionsTitle}</h2>
        <div className="actions" role="group" aria-label={t.actionsTitle}>
          {ACTIONS.map((action) => (
            <button
              key={action}
              type="button"
              className={`btn${action === 'trigger' ? ' btn-primary' : ''}`}
              disabled={running !== undefined || !actionApplies(action, current)}
              onClick={() => void perform(action)}
              data-testid={`action-${action}`}
            >
              {t[`action_${action}`]}
            </button>
          ))}
          <button type="button" className="btn" onClick={() => setBackfilling(true)} data-testid="action-backfill">
            {t.action_backfill}
          </button>
        </div>
        {result && (
          <div className={`banner ${result.success ? 'banner-ok' : 'banner-warn'}`} role="status" data-testid="action-result" data-success={result.success}>
            <div className="banner-body">
              {t.actionDone(result.message)}
              {result.executionId && (
                <>
                  {' · '}
                  <span data-testid="action-execution-id">{t.triggeredExecution(result.executionId)}</span>
                </>
              )}
            </div>
          </div>
        )}
        <ErrorBanner error={actionError} testId="action-error" onDismiss={() => setActionError(undefined)} />
      </div>

      <div className="card">
        <dl className="details details-grid">
          {row(t.detailTask, `${taskLabel(current)} (${current.taskFunctionKey})`, 'detail-task')}
          {row(t.detailSchedule, describeSchedule(current, lang), 'detail-schedule')}
          {current.cronExpression && row(t.detailTimezone, <Ltr>{current.timezone ?? 'UTC'}</Ltr>)}
          {row(
            t.detailNextRun,
            current.nextRunAt ? `${time(current.nextRunAt)} (${formatRelative(current.nextRunAt, now, lang)})` : t.none,
            'detail-next-run',
          )}
          {row(
            t.detailLastRun,
            current.lastRunAt ? `${time(current.lastRunAt)} (${formatRelative(current.lastRunAt, now, lang, true)})` : t.never,
            'detail-last-run',
          )}
          {row(t.detailPriority, <Ltr>{current.priority}</Ltr>)}
          {row(t.detailMaxInstances, <Ltr>{current.maxInstances}</Ltr>)}
          {row(t.detailGrace, t.seconds(current.misfireGraceTime))}
          {row(t.detailCoalesce, current.coalesce ? t.yes : t.no)}
          {row(t.detailTimeout, current.timeoutSeconds !== undefined ? t.seconds(current.timeoutSeconds) : t.executorDefault)}
          {row(
            t.detailRetries,
            current.maxRetries > 0
              ? t.retriesSummary(current.maxRetries, current.retryDelaySeconds, current.retryBackoffFactor, current.retryMaxDelaySeconds)
              : t.retriesNone,
            'detail-retries',
          )}
          {row(t.detailOverlap, overlapLabel(t, current.overlapPolicy), 'detail-overlap')}
          {row(t.detailPauseAfter, current.pauseAfterFailures > 0 ? t.pauseAfterN(current.pauseAfterFailures) : t.pauseNever, 'detail-pause-after')}
          {row(
            t.detailConsecutiveFailures,
            <span className={current.consecutiveFailures > 0 ? 'error-text' : undefined}>
              <Ltr>{current.consecutiveFailures}</Ltr>
            </span>,
            'detail-consecutive-failures',
          )}
          {description && row(t.detailDescription, description)}
          {row(
            t.detailParameters,
            current.parameters && Object.keys(current.parameters).length > 0 ? (
              <pre className="params" dir="ltr">
                {JSON.stringify(current.parameters, null, 2)}
              </pre>
            ) : (
              t.none
            ),
            'detail-parameters',
          )}
          {row(t.detailCreated, time(current.createdAt))}
          {current.updatedAt && row(t.detailUpdated, time(current.updatedAt))}
        </dl>
      </div>

      <NextFireTimes job={current} />

      <div className="card">
        <h2>{t.chartsTitle}</h2>
        <JobCharts jobId={current.id} />
      </div>

      <div className="card">
        <h2>{t.historyTitle}</h2>
        <HistoryTable jobId={current.id} refreshKey={historyKey} onRunsSettled={job.reload} />
      </div>

      <div className="card" data-testid="job-changes">
        <h2>{t.changesTitle}</h2>
        <ChangesTable jobId={current.id} refreshKey={historyKey} />
      </div>

      {backfilling && (
        <BackfillDialog jobId={current.id} onClose={() => setBackfilling(false)} onBackfilled={() => setHistoryKey((n) => n + 1)} />
      )}

      {confirming && (
        <ConfirmDialog
          title={t.deleteConfirmTitle}
          confirmLabel={deleting ? t.deleting : t.deleteConfirm}
          busy={deleting}
          onConfirm={() => void remove()}
          onCancel={() => setConfirming(false)}
        >
          <p>{t.deleteConfirmText(name)}</p>
        </ConfirmDialog>
      )}
    </section>
  );
}

function overlapLabel(t: Messages, policy: OverlapPolicy): string {
  return `${t[`overlap_${policy}`]}: ${t[`overlapHelp_${policy}`]}`;
}

/** The job's next fire times, computed by the API (GET /jobs/{id}/preview), from its next slot or from a date. */
function NextFireTimes({ job }: { job: Job }) {
  const api = useApi();
  const { t, time } = useI18n();
  const [from, setFrom] = useState('');
  const fromInstant = from ? fromLocalInput(from) : undefined;
  const preview = useAsync(
    (signal) => api.jobPreview(job.id, PREVIEW_COUNT, signal, fromInstant),
    // Recompute when anything that moves the schedule changes.
    [job.id, job.updatedAt, job.isEnabled, job.isPaused, job.nextRunAt, fromInstant],
  );
  const zone = job.cronExpression ? (job.timezone ?? 'UTC') : undefined;
  // A paused or disabled job fires at none of its slots until resumed/enabled: listing them would mislead.
  const idle = job.isPaused || !job.isEnabled;
  return (
    <div className="card" data-testid="job-fire-times">
      <h2>{t.previewTitle}</h2>
      <div className="preview-from">
        <Field field="previewFrom" label={t.previewFrom} hint={t.previewFromHint} error={from && !fromInstant ? t.invalidDate : undefined}>
          {(props) => <input {...props} type="datetime-local" dir="ltr" value={from} onChange={(e) => setFrom(e.target.value)} data-testid="preview-from" />}
        </Field>
      </div>
      {idle ? (
        <p className="muted" data-testid="job-fire-times-idle">
          {job.isPaused ? t.previewPaused : t.previewDisabled}
        </p>
      ) : preview.loading ? (
        <Loading />
      ) : preview.error ? (
        <ErrorBanner error={preview.error} onRetry={preview.reload} testId="job-fire-times-error" />
      ) : preview.data && preview.data.fireTimes.length > 0 ? (
        <ol className="fire-times inline">
          {preview.data.fireTimes.map((fireTime) => (
            <li key={fireTime}>{time(fireTime, zone)}</li>
          ))}
        </ol>
      ) : (
        <p className="muted">{t.previewNone}</p>
      )}
    </div>
  );
}
