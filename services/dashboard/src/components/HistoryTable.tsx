import { Fragment, useEffect, useRef, useState } from 'react';
import { pageCount } from '../api/client';
import { useApi } from '../api/context';
import { formatDateTime, formatDuration } from '../format/time';
import { useAsync, useInterval } from '../hooks/useAsync';
import { statusLabel, useI18n, type Messages } from '../i18n';
import { href } from '../router';
import { EXECUTION_STATUSES, type Execution } from '../types/api';
import { Badge, Empty, ErrorBanner, Loading, Ltr, Pager, statusTone } from './ui';

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

/**
 * Paged execution history with a status filter, of one job (jobId) or of all jobs. Rows expand to show
 * the error message and traceback.
 */
export function HistoryTable({ jobId, jobLabel, refreshKey = 0, onRunsSettled }: {
  jobId?: number;
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
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  const [pollUntil, setPollUntil] = useState(0);

  const history = useAsync(
    (signal) =>
      jobId === undefined
        ? api.allHistory({ page, perPage: HISTORY_PER_PAGE, statusId }, signal)
        : api.jobHistory(jobId, { page, perPage: HISTORY_PER_PAGE, statusId }, signal),
    [jobId, page, statusId],
  );

  const { reload } = history;
  useEffect(() => {
    if (refreshKey === 0) return;
    setPollUntil(Date.now() + POLL_AFTER_BUMP_MS);
    reload();
  }, [refreshKey, reload]);

  const inFlight = (history.data?.items ?? []).some((run) => run.statusName === 'pending' || run.statusName === 'running');
  const polling = inFlight || Date.now() < pollUntil;
  const wasInFlight = useRef(false);
  const settled = useRef(onRunsSettled);
  settled.current = onRunsSettled;
  useEffect(() => {
    if (wasInFlight.current && !inFlight) settled.current?.();
    wasInFlight.current = inFlight;
  }, [inFlight]);
  useInterval(() => {
    if (!history.busy) reload();
  }, HISTORY_POLL_MS, polling);

  const toggle = (id: string): void =>
    setExpanded((current) => {
      const next = new Set(current);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  const columns = jobLabel ? 9 : 8;
  return (
    <div className="history" data-testid="history">
      <div className="filters">
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
        <button type="button" className="btn btn-small" onClick={reload} disabled={history.busy} data-testid="history-refresh">
          {t.refresh}
        </button>
        {polling && (
          <span className="muted small" data-testid="history-polling">
            {t.autoRefreshing}
          </span>
        )}
      </div>
      <ErrorBanner error={history.error} onRetry={reload} testId="history-error" />
      {history.loading ? (
        <Loading />
      ) : history.data && history.data.items.length === 0 ? (
        <Empty testId="history-empty">{statusId ? t.noHistoryFiltered : t.noHistory}</Empty>
      ) : history.data ? (
        <>
          <div className="table-wrap">
            <table className="table" data-testid="history-table">
              <thead>
                <tr>
                  <th>{t.colStatus}</th>
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
                  <HistoryRow key={run.executionId || run.id} run={run} jobLabel={jobLabel} open={expanded.has(run.executionId)} onToggle={() => toggle(run.executionId)} columns={columns} />
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
    </div>
  );
}

function HistoryRow({ run, jobLabel, open, onToggle, columns }: {
  run: Execution;
  jobLabel?: (jobId: number) => string;
  open: boolean;
  onToggle: () => void;
  columns: number;
}) {
  const { t, lang } = useI18n();
  const summary = run.errorMessage ?? run.resultSummary;
  const detailsId = `run-${run.executionId}`;
  return (
    <Fragment>
      <tr data-testid="execution-row" data-execution-id={run.executionId} data-status={run.statusName} className={run.errorMessage ? 'row-failed' : undefined}>
        <td>
          <Badge tone={statusTone(run.statusName)} testId="execution-status">
            {statusLabel(t, run.statusName)}
          </Badge>
          {run.coalescedCount !== undefined && run.coalescedCount > 1 && <span className="muted small"> ×{run.coalescedCount}</span>}
        </td>
        {jobLabel && (
          <td>
            <a href={href(`/jobs/${run.jobId}`)} data-testid="execution-job">
              {jobLabel(run.jobId)}
            </a>
          </td>
        )}
        <td>{formatDateTime(run.scheduledAt, lang)}</td>
        <td>{formatDateTime(run.startedAt, lang)}</td>
        <td className="num" data-testid="execution-duration">
          {formatDuration(run.durationMs, lang)}
        </td>
        <td>{triggerLabel(t, run.trigger)}</td>
        <td>
          <Ltr>{run.hostName || t.none}</Ltr>
        </td>
        <td className="truncate" title={summary}>
          {summary ?? t.none}
        </td>
        <td>
          <button type="button" className="btn btn-small btn-ghost" aria-expanded={open} aria-controls={detailsId} onClick={onToggle} data-testid="execution-toggle">
            {open ? t.hideDetails : t.showDetails}
          </button>
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
              <dd>{formatDateTime(run.completedAt, lang)}</dd>
              <dt>{t.executor}</dt>
              <dd>
                <Ltr>{run.executorId || t.none}</Ltr>
              </dd>
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
