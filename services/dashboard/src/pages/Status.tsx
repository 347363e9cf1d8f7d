import { useState } from 'react';
import { useApi } from '../api/context';
import { Badge, Empty, ErrorBanner, Loading, Ltr, Stat, type BadgeTone } from '../components/ui';
import { ageSeconds, formatRelative, formatSeconds } from '../format/time';
import { useJobIndex } from '../hooks/data';
import { useAsync, useInterval, useNow } from '../hooks/useAsync';
import { jobName, labelOf, useI18n } from '../i18n';
import { href } from '../router';
import type { SchedulerInstanceInfo } from '../types/api';

/** Auto-refresh period of the status page, in milliseconds. */
export const STATUS_REFRESH_MS = 5_000;
/** A heartbeat older than this (seconds) is flagged: instances beat every few seconds. */
export const STALE_HEARTBEAT_SECONDS = 30;

const INSTANCE_TONES: Record<string, BadgeTone> = { running: 'green', starting: 'blue', paused: 'amber', stopped: 'grey' };

/** #/status: scheduler status, instances and running executions, refreshed every few seconds. */
export function Status() {
  const api = useApi();
  const { t, lang, time } = useI18n();
  const [auto, setAuto] = useState(true);
  const clientNow = useNow(1_000);

  const status = useAsync(async (signal) => {
    const result = await api.getStatus(signal);
    // The status carries the runs in progress (its schema makes them required).
    const running = result.status.executionsInProgress;
    // Server clock minus browser clock, so that ages do not depend on the browser's clock.
    const skewMs = result.serverTime ? result.serverTime.getTime() - Date.now() : 0;
    return { ...result, running, skewMs, fetchedAt: new Date() };
  }, []);
  const jobs = useJobIndex();
  useInterval(() => {
    if (!status.busy) status.reload();
  }, STATUS_REFRESH_MS, auto);

  const data = status.data;
  // HTTP Date has 1 s resolution: ignore skews below 2 s rather than jitter the ages.
  const now = new Date(clientNow.getTime() + (data && Math.abs(data.skewMs) >= 2_000 ? data.skewMs : 0));
  const age = (iso: string | undefined): string => {
    const seconds = ageSeconds(iso, now);
    return seconds === undefined ? t.none : formatSeconds(seconds, lang);
  };
  /** An instance's heartbeat age: the API's (database clock) plus the time since it answered. */
  const instanceAge = (instance: SchedulerInstanceInfo): number | undefined =>
    instance.heartbeatAgeSeconds !== undefined && data
      ? instance.heartbeatAgeSeconds + Math.max(0, (clientNow.getTime() - data.fetchedAt.getTime()) / 1000)
      : ageSeconds(instance.lastHeartbeat, now);

  return (
    <section data-testid="page-status">
      <div className="page-header">
        <h1>{t.statusTitle}</h1>
        <div className="header-actions">
          <label className="check">
            <input type="checkbox" checked={auto} onChange={(e) => setAuto(e.target.checked)} data-testid="status-autorefresh" />
            {t.autoRefresh}
          </label>
          <button type="button" className="btn btn-small" onClick={status.reload} disabled={status.busy} data-testid="status-refresh">
            {t.refresh}
          </button>
          {data && (
            <span className="muted small" data-testid="status-updated">
              {t.updatedAgo(formatRelative(data.fetchedAt.toISOString(), clientNow, lang, true))}
            </span>
          )}
        </div>
      </div>
      <ErrorBanner error={status.error} onRetry={status.reload} />
      <ErrorBanner error={jobs.error} testId="jobs-error" />

      {status.loading ? (
        <Loading />
      ) : data ? (
        <>
          <div className="cards" data-testid="status-summary">
            <Stat
              label={t.colInstanceStatus}
              value={data.status.isRunning ? <Badge tone="green">{t.running}</Badge> : <Badge tone="red">{t.stopped}</Badge>}
              testId="status-running"
            />
            <Stat label={t.mode} value={labelOf(t, 'mode_', data.status.mode)} testId="status-mode" />
            <Stat label={t.activeInstances} value={data.status.activeInstances} testId="status-active-instances" />
            <Stat label={t.totalJobs} value={data.status.totalJobs} testId="status-total-jobs" />
            <Stat label={t.enabledJobs} value={data.status.enabledJobs} testId="status-enabled-jobs" />
            <Stat label={t.runningExecutions} value={data.status.runningExecutions} testId="status-running-executions" />
            <Stat label={t.lastHeartbeat} value={age(data.status.lastHeartbeat)} title={time(data.status.lastHeartbeat)} testId="status-heartbeat-age" />
            <Stat label={t.instanceId} value={<code className="small">{data.status.instanceId}</code>} testId="status-instance-id" wide />
          </div>

          <div className="card">
            <h2>{t.instancesTitle}</h2>
            {!data.status.instances || data.status.instances.length === 0 ? (
              <Empty testId="instances-empty">{t.noInstances}</Empty>
            ) : (
              <div className="table-wrap">
                <table className="table" data-testid="instances-table">
                  <thead>
                    <tr>
                      <th>{t.colInstanceName}</th>
                      <th>{t.colHostPid}</th>
                      <th>{t.colMode}</th>
                      <th>{t.colRole}</th>
                      <th>{t.colInstanceStatus}</th>
                      <th>{t.colHeartbeatAge}</th>
                      <th>{t.colStarted}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.status.instances.map((instance) => {
                      const seconds = instanceAge(instance);
                      const stale =
                        instance.isLive === false ||
                        (instance.status !== 'stopped' && seconds !== undefined && seconds > STALE_HEARTBEAT_SECONDS);
                      return (
                        <tr key={instance.id} data-testid="instance-row" data-instance-id={instance.id} data-status={instance.status}>
                          <td>
                            {instance.name}
                            {instance.id === data.status.instanceId && <span className="muted small"> ★</span>}
                          </td>
                          <td>
                            <Ltr>
                              {instance.hostName}
                              {instance.processId !== undefined ? ` / ${instance.processId}` : ''}
                            </Ltr>
                          </td>
                          <td>{labelOf(t, 'mode_', instance.mode)}</td>
                          <td>{instance.role ?? t.none}</td>
                          <td>
                            <Badge tone={INSTANCE_TONES[instance.status] ?? 'grey'}>{labelOf(t, 'instance_', instance.status)}</Badge>
                          </td>
                          <td title={time(instance.lastHeartbeat)} data-testid="instance-heartbeat-age" className={stale ? 'error-text' : undefined}>
                            {seconds === undefined ? t.none : formatSeconds(seconds, lang)}
                            {stale && (
                              <>
                                {' '}
                                <Badge tone="red" title={t.staleHeartbeat}>
                                  !
                                </Badge>
                              </>
                            )}
                          </td>
                          <td>{time(instance.startedAt)}</td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            )}
          </div>

          <div className="card">
            <h2>{t.runningTitle}</h2>
            {data.running.length === 0 ? (
              <Empty testId="running-empty">{t.noRunning}</Empty>
            ) : (
              <div className="table-wrap">
                <table className="table" data-testid="running-table">
                  <thead>
                    <tr>
                      <th>{t.colJob}</th>
                      <th>{t.executionId}</th>
                      <th>{t.colStartedAt}</th>
                      <th>{t.colDuration}</th>
                      <th>{t.colHost}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.running.map((run) => {
                      const job = jobs.data?.get(run.jobId);
                      return (
                        <tr key={run.executionId} data-testid="running-row" data-execution-id={run.executionId}>
                          <td>
                            <a href={href(`/jobs/${run.jobId}`)}>{job ? jobName(job, lang) : `#${run.jobId}`}</a>
                          </td>
                          <td>
                            <code className="small">{run.executionId}</code>
                          </td>
                          <td>{time(run.startedAt)}</td>
                          <td>{age(run.startedAt)}</td>
                          <td>
                            <Ltr>{run.hostName || t.none}</Ltr>
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            )}
          </div>
        </>
      ) : null}
    </section>
  );
}
