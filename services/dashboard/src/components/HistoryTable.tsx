import { Fragment, useEffect, useRef, useState } from 'react';
import { pageCount } from '../api/client';
import { useApi } from '../api/context';
import { formatDuration, fromLocalInput } from '../format/time';
import { useLive } from '../hooks/live';
import { statusLabel, useI18n, type Messages } from '../i18n';
import { href } from '../router';
import { EXECUTION_STATUSES, OPEN_STATUSES, RUN_TRIGGERS, type Execution, type RunTrigger, type ExecutionAction, type ExecutionActionResult } from '../types/api';
import { Badge, ConfirmDialog, Empty, ErrorBanner, Loading, Ltr, Pager, statusTone } from './ui';

export const HISTORY_PER_PAGE = 20;
/** While runs are pending/running (or just after a trigger), poll every this many milliseconds. */
export const HISTORY_POLL_MS = 2_000;
/** After refreshKey changes (e.g. a trigger), keep polling at least this long, in milliseconds. */
const POLL_AFTER_BUMP_MS = 20_000;

function triggerLabel(t: Messages, trigger: string | undefined): string {
  if (!trigger) return t.none;
  const label = t[`trigger_${trigger}` as keyof Messages];
  return typeof label === 'string' ? label : trigger;
}

/** The action a run offers: cancel while it has not ended (pending, waiting, running), else re-run. */
export function runActionOf(run: Pick<Execution, 'statusName'>): ExecutionAction {
  return OPEN_STATUSES.has(run.statusName) ? 'cancel' : 'rerun';
}

/** The HTML id of a run's row, for the attempt chain's links. */
const rowId = (executionId: string): string => `run-row-${executionId}`;

/**
 * Paged execution history with a status filter, of one job (jobId) or of all jobs. Rows expand to show
 * the error message and traceback; each run can be cancelled (not ended yet) or run again (ended), after a
 * confirmation; a retry links to its slot's first attempt, a re-run to the run it repeats.
 */
export function HistoryTable({ jobId, jobLabel, jobOptions, refreshKey = 0, onRunsSettled }: {
  jobId?: number;
  /** All-jobs history: the jobs its job filter offers. */
  jobOptions?: Array<{ id: number; label: string }>;
  /** For all-jobs history: name of a job id (a Job column is shown when given). */
  jobLabel?: (jobId: number) => string;
  /** Change it to reload now and poll for a while (after a trigger). */
  refreshKey?: number;
  /** Called when runs that were pending/running have all finished (the job's lastRunAt changed). */
  onRunsSettled?: () => void;
}) {
  const { t } = useI18n();
  const api = useApi();
  const [page, setPage] = useState(1);
  const [statusId, setStatusId] = useState<number | undefined>(undefined);
  const [jobFilter, setJobFilter] = useState<number | undefined>(undefined);
  const [trigger, setTrigger] = useState<RunTrigger | ''>('');
  // datetime-local values, on the browser's wall clock; sent as instants.
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const fromInstant = from ? fromLocalInput(from) : undefined;
  const toInstant = to ? fromLocalInput(to) : undefined;
  const filters = { statusId, jobId: jobFilter, trigger: trigger || undefined, from: fromInstant, to: toInstant };
  const filtered = Object.values(filters).some((value) => value !== undefined);
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  const [pollUntil, setPollUntil] = useState(0);
  const [highlighted, setHighlighted] = useState<string | undefined>();
  const [asking, setAsking] = useState<{ run: Execution; action: ExecutionAction } | undefined>();
  const [acting, setActing] = useState(false);
  const [actionResult, setActionResult] = useState<ExecutionActionResult | undefined>();
  const [actionError, setActionError] = useState<unknown>();

  const [polling, setPolling] = useState(false);
  const history = useLive(
    ['history', jobId ?? 'all', page, filters],
    (signal) =>
      jobId === undefined
        ? api.allHistory({ page, perPage: HISTORY_PER_PAGE, ...filters }, signal)
        : api.jobHistory(jobId, { page, perPage: HISTORY_PER_PAGE, ...filters, jobId: undefined }, signal),
    // Faster while runs are open (or just after a trigger), else at the pages' live pace.
    { intervalMs: polling ? HISTORY_POLL_MS : undefined },
  );

  const { reload } = history;
  useEffect(() => {
    if (refreshKey === 0) return;
    setPollUntil(Date.now() + POLL_AFTER_BUMP_MS);
    reload();
  }, [refreshKey, reload]);

  const inFlight = (history.data?.items ?? []).some((run) => OPEN_STATUSES.has(run.statusName));
  const fast = inFlight || Date.now() < pollUntil;
  useEffect(() => setPolling(fast), [fast]);
  const wasInFlight = useRef(false);
  const settled = useRef(onRunsSettled);
  settled.current = onRunsSettled;
  useEffect(() => {
    if (wasInFlight.current && !inFlight) settled.current?.();
    wasInFlight.current = inFlight;
  }, [inFlight]);
  // Re-evaluate the fast-poll window when it ends (nothing else re-renders then if the page is quiet).
  useEffect(() => {
    if (pollUntil <= Date.now()) return undefined;
    const id = window.setTimeout(() => setPollUntil(0), pollUntil - Date.now());
    return () => window.clearTimeout(id);
  }, [pollUntil]);

  const toggle = (id: string): void =>
    setExpanded((current) => {
      const next = new Set(current);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  /**
   * Follow a link of the chain from one run to another: the other run opens, marked, scrolled to, when it is on this
   * page; otherwise the run the link is on opens, its details naming the other run's id.
   */
  const showRun = (executionId: string, from: string): void => {
    const onPage = (history.data?.items ?? []).some((run) => run.executionId === executionId);
    const target = onPage ? executionId : from;
    setHighlighted(target);
    setExpanded((current) => new Set(current).add(target));
    document.getElementById(rowId(target))?.scrollIntoView?.({ block: 'center' });
  };

  const act = async (): Promise<void> => {
    if (!asking) return;
    const { run, action } = asking;
    setActing(true);
    setActionResult(undefined);
    setActionError(undefined);
    try {
      setActionResult(await api.executionAction(run.jobId, run.executionId, action));
      setPollUntil(Date.now() + POLL_AFTER_BUMP_MS);
      reload();
    } catch (e) {
      // A refusal (409: the run ended meanwhile, or the job has no place) is shown with the API's reason.
      setActionError(e);
    } finally {
      setActing(false);
      setAsking(undefined);
    }
  };

  const columns = jobLabel ? 10 : 9;
  return (
    <div className="history" data-testid="history">
      <div className="filters">
        {jobOptions && (
          <label>
            {t.filterJob}
            <select
              value={jobFilter ?? ''}
              onChange={(e) => {
                setJobFilter(e.target.value ? Number(e.target.value) : undefined);
                setPage(1);
              }}
              data-testid="filter-job"
            >
              <option value="">{t.all}</option>
              {jobOptions.map((job) => (
                <option key={job.id} value={job.id}>
                  {job.label}
                </option>
              ))}
            </select>
          </label>
        )}
        <label>
          {t.filterStatus}
          <select
            value={statusId ?? ''}
            onChange={(e) => {
              setStatusId(e.target.value ? Number(e.target.value) : undefined);
              setPage(1);
            }}
            data-testid="filter-status"
          >
            <option value="">{t.all}</option>
            {EXECUTION_STATUSES.map((status) => (
              <option key={status.id} value={status.id}>
                {statusLabel(t, status.name)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t.filterTrigger}
          <select
            value={trigger}
            onChange={(e) => {
              setTrigger(RUN_TRIGGERS.find((name) => name === e.target.value) ?? '');
              setPage(1);
            }}
            data-testid="filter-trigger"
          >
            <option value="">{t.all}</option>
            {RUN_TRIGGERS.map((name) => (
              <option key={name} value={name}>
                {triggerLabel(t, name)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t.filterFrom}
          <input
            type="datetime-local"
            dir="ltr"
            value={from}
            aria-invalid={from !== '' && !fromInstant}
            onChange={(e) => {
              setFrom(e.target.value);
              setPage(1);
            }}
            data-testid="filter-from"
          />
        </label>
        <label>
          {t.filterTo}
          <input
            type="datetime-local"
            dir="ltr"
            value={to}
            aria-invalid={to !== '' && !toInstant}
            onChange={(e) => {
              setTo(e.target.value);
              setPage(1);
            }}
            data-testid="filter-to"
          />
        </label>
        {filtered && (
          <button
            type="button"
            className="btn btn-small btn-ghost"
            onClick={() => {
              setJobFilter(undefined);
              setStatusId(undefined);
              setTrigger('');
              setFrom('');
              setTo('');
              setPage(1);
            }}
            data-testid="filter-clear"
          >
            {t.filterClear}
          </button>
        )}
        <button type="button" className="btn btn-small" onClick={reload} disabled={history.busy} data-testid="history-refresh">
          {t.refresh}
        </button>
        {fast && (
          <span className="muted small" data-testid="history-polling">
            {t.autoRefreshing}
          </span>
        )}
      </div>
      <ErrorBanner error={history.error} onRetry={reload} testId="history-error" />
      {actionResult && (
        <div className="banner banner-ok" role="status" data-testid="run-action-result" data-success={actionResult.success}>
          <div className="banner-body" dir="auto">
            {actionResult.message} · <Ltr>{actionResult.execution.executionId}</Ltr>
          </div>
          <div className="banner-actions">
            <button type="button" className="btn btn-small btn-ghost" onClick={() => setActionResult(undefined)} aria-label={t.dismiss}>
              ×
            </button>
          </div>
        </div>
      )}
      <ErrorBanner error={actionError} testId="run-action-error" onDismiss={() => setActionError(undefined)} />
      {history.loading ? (
        <Loading />
      ) : history.data && history.data.items.length === 0 ? (
        <Empty testId="history-empty">{filtered ? t.noHistoryFiltered : t.noHistory}</Empty>
      ) : history.data ? (
        <>
          <div className="table-wrap">
            <table className="table" data-testid="history-table">
              <thead>
                <tr>
                  <th>{t.colStatus}</th>
                  <th>{t.colAttempt}</th>
                  {jobLabel && <th>{t.colJob}</th>}
                  <th>{t.colScheduledAt}</th>
                  <th>{t.colStartedAt}</th>
                  <th className="num">{t.colDuration}</th>
                  <th>{t.colTrigger}</th>
                  <th>{t.colHost}</th>
                  <th>{t.colResult}</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {history.data.items.map((run) => (
                  <HistoryRow
                    key={run.executionId || run.id}
                    run={run}
                    jobLabel={jobLabel}
                    open={expanded.has(run.executionId)}
                    highlighted={highlighted === run.executionId}
                    onToggle={() => toggle(run.executionId)}
                    onShowRun={showRun}
                    onAction={(action) => {
                      setActionError(undefined);
                      setAsking({ run, action });
                    }}
                    columns={columns}
                  />
                ))}
              </tbody>
            </table>
          </div>
          <Pager
            page={page}
            pages={pageCount(history.data, HISTORY_PER_PAGE)}
            total={history.data.total}
            estimated={history.data.totalIsEstimate === true}
            onPage={setPage}
            testId="history-pager"
          />
        </>
      ) : null}
      {asking && (
        <ConfirmDialog
          testId="run-action-dialog"
          title={asking.action === 'cancel' ? t.runCancelTitle : t.runRerunTitle}
          confirmLabel={asking.action === 'cancel' ? t.runCancelConfirm : t.runRerunConfirm}
          dismissLabel={asking.action === 'cancel' ? t.keepRun : t.cancel}
          tone={asking.action === 'cancel' ? 'danger' : 'primary'}
          busy={acting}
          onConfirm={() => void act()}
          onCancel={() => setAsking(undefined)}
        >
          <p>{asking.action === 'cancel' ? t.runCancelText(asking.run.executionId) : t.runRerunText(asking.run.executionId)}</p>
        </ConfirmDialog>
      )}
    </div>
  );
}

function HistoryRow({ run, jobLabel, open, highlighted, onToggle, onShowRun, onAction, columns }: {
  run: Execution;
  jobLabel?: (jobId: number) => string;
  open: boolean;
  highlighted: boolean;
  onToggle: () => void;
  onShowRun: (executionId: string, from: string) => void;
  onAction: (action: ExecutionAction) => void;
  columns: number;
}) {
  const { t, lang, time } = useI18n();
  const summary = run.errorMessage ?? run.resultSummary;
  const detailsId = `run-${run.executionId}`;
  const action = runActionOf(run);
  // A retry (attempt 2 or later) belongs to its slot's chain, whose first attempt it links to.
  const retry = run.attempt > 1 && run.firstExecutionId !== run.executionId;
  const classes = [run.errorMessage ? 'row-failed' : '', retry ? 'row-retry' : '', highlighted ? 'row-highlight' : ''].filter(Boolean).join(' ');
  return (
    <Fragment>
      <tr
        id={rowId(run.executionId)}
        data-testid="execution-row"
        data-execution-id={run.executionId}
        data-status={run.statusName}
        data-job-id={run.jobId}
        data-trigger={run.trigger}
        data-attempt={run.attempt}
        data-first-execution-id={run.firstExecutionId}
        className={classes || undefined}
      >
        <td>
          <Badge tone={statusTone(run.statusName)} testId="execution-status">
            {statusLabel(t, run.statusName)}
          </Badge>
          {run.coalescedCount !== undefined && run.coalescedCount > 1 && <span className="muted small"> ×{run.coalescedCount}</span>}
        </td>
        <td className="attempt" data-testid="execution-attempt">
          {retry && <span className="chain-arrow" aria-hidden="true">↳ </span>}
          <Ltr>{run.attempt}</Ltr>
          {retry && (
            <button type="button" className="btn-link small" title={run.firstExecutionId} onClick={() => onShowRun(run.firstExecutionId, run.executionId)} data-testid="execution-first-attempt" data-target={run.firstExecutionId}>
              {t.firstAttempt}
            </button>
          )}
          {run.rerunOf && (
            <button type="button" className="btn-link small" title={run.rerunOf} onClick={() => onShowRun(run.rerunOf as string, run.executionId)} data-testid="execution-rerun-of" data-target={run.rerunOf}>
              {t.rerunOfShort}
            </button>
          )}
        </td>
        {jobLabel && (
          <td>
            <a href={href(`/jobs/${run.jobId}`)} data-testid="execution-job">
              {jobLabel(run.jobId)}
            </a>
          </td>
        )}
        <td>{time(run.scheduledAt)}</td>
        <td>{time(run.startedAt)}</td>
        <td className="num" data-testid="execution-duration">
          {formatDuration(run.durationMs, lang)}
        </td>
        <td>{triggerLabel(t, run.trigger)}</td>
        <td>
          <Ltr>{run.hostName || t.none}</Ltr>
        </td>
        <td className="truncate" title={summary} dir="auto">
          {summary ?? t.none}
        </td>
        <td>
          <div className="row-actions">
            <button type="button" className="btn btn-small btn-ghost" aria-expanded={open} aria-controls={detailsId} onClick={onToggle} data-testid="execution-toggle">
              {open ? t.hideDetails : t.showDetails}
            </button>
            {action === 'cancel' ? (
              <button type="button" className="btn btn-small" onClick={() => onAction('cancel')} disabled={run.cancelRequestedAt !== undefined} data-testid="execution-cancel">
                {t.runCancel}
              </button>
            ) : (
              <button type="button" className="btn btn-small" onClick={() => onAction('rerun')} data-testid="execution-rerun">
                {t.runRerun}
              </button>
            )}
          </div>
        </td>
      </tr>
      {open && (
        <tr className="details-row" id={detailsId} data-testid="execution-details">
          <td colSpan={columns}>
            <dl className="details">
              <dt>{t.executionId}</dt>
              <dd>
                <code>{run.executionId}</code>
              </dd>
              <dt>{t.completedAt}</dt>
              <dd>{time(run.completedAt)}</dd>
              <dt>{t.executor}</dt>
              <dd>
                <Ltr>{run.executorId || t.none}</Ltr>
              </dd>
              {retry && (
                <>
                  <dt>{t.detailFirstAttempt}</dt>
                  <dd data-testid="execution-detail-first-attempt">
                    <code>{run.firstExecutionId}</code>
                  </dd>
                </>
              )}
              {run.retriedBy && (
                <>
                  <dt>{t.detailRetriedBy}</dt>
                  <dd data-testid="execution-detail-retried-by">
                    <button type="button" className="btn-link" onClick={() => onShowRun(run.retriedBy as string, run.executionId)}>
                      <code>{run.retriedBy}</code>
                    </button>
                  </dd>
                </>
              )}
              {run.rerunOf && (
                <>
                  <dt>{t.detailRerunOf}</dt>
                  <dd>
                    <code>{run.rerunOf}</code>
                  </dd>
                </>
              )}
              {(
                [
                  ['claimedAt', run.claimedAt],
                  ['queuedAt', run.queuedAt],
                  ['releaseAt', run.releaseAt],
                  ['cancelRequestedAt', run.cancelRequestedAt],
                ] as const
              )
                .filter(([, value]) => value !== undefined)
                .map(([key, value]) => (
                  <Fragment key={key}>
                    <dt>{t[key]}</dt>
                    <dd>{time(value)}</dd>
                  </Fragment>
                ))}
              {run.cancelledBy && (
                <>
                  <dt>{t.cancelledBy}</dt>
                  <dd data-testid="execution-cancelled-by">
                    <Ltr>{run.cancelledBy}</Ltr>
                  </dd>
                </>
              )}
              {run.coalescedCount !== undefined && run.coalescedCount > 1 && (
                <>
                  <dt>{t.coalesce}</dt>
                  <dd>{t.coalescedRuns(run.coalescedCount)}</dd>
                </>
              )}
              {run.resultSummary && (
                <>
                  <dt>{t.colResult}</dt>
                  <dd data-testid="execution-result">{run.resultSummary}</dd>
                </>
              )}
              {run.errorMessage && (
                <>
                  <dt>{t.errorMessage}</dt>
                  <dd className="error-text" data-testid="execution-error">
                    {run.errorMessage}
                  </dd>
                </>
              )}
            </dl>
            {run.errorTraceback && (
              <details open>
                <summary>{t.traceback}</summary>
                <pre className="traceback" dir="ltr" data-testid="execution-traceback">
                  {run.errorTraceback}
                </pre>
              </details>
            )}
          </td>
        </tr>
      )}
    </Fragment>
  );
}
