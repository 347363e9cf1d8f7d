import { useApi } from '../api/context';
import { Badge, Empty, ErrorBanner, Loading, Ltr, Stat, statusTone } from '../components/ui';
import { formatRelative, formatSeconds } from '../format/time';
import { useLive } from '../hooks/live';
import { useNow } from '../hooks/useAsync';
import { jobName, statusLabel, useI18n } from '../i18n';
import { overdueSeconds, overviewOf, recentHistory } from '../overview/overview';
import { href } from '../router';
import { EXECUTION_STATUSES } from '../types/api';

/** The overview reads the first this many jobs (the API's largest page). */
const JOBS_READ = 100;

/** #/overview: the last 24 h of runs by status, failing jobs first, then silent ones. */
export function Overview() {
  const api = useApi();
  const { t, lang, time } = useI18n();
  const now = useNow(5_000);
  const jobs = useLive(['overview-jobs'], (signal) => api.listJobs({ page: 1, perPage: JOBS_READ }, signal));
  const history = useLive(['overview-history'], (signal) => recentHistory((page) => api.allHistory({ page, perPage: 100 }, signal), new Date()));
  const overview = overviewOf(jobs.data?.items ?? [], history.data?.runs ?? [], now);

  return (
    <section data-testid="page-overview">
      <div className="page-header">
        <h1>{t.overviewTitle}</h1>
      </div>
      <ErrorBanner error={jobs.error} onRetry={jobs.reload} testId="overview-jobs-error" />
      <ErrorBanner error={history.error} onRetry={history.reload} testId="overview-history-error" />
      {jobs.loading || history.loading ? (
        <Loading />
      ) : (
        <>
          <div className="card">
            <h2>{t.overviewLast24h}</h2>
            <div className="cards" data-testid="overview-counts" data-total={overview.total}>
              {EXECUTION_STATUSES.filter((s) => (overview.counts[s.name] ?? 0) > 0 || s.name === 'success' || s.name === 'failed').map((s) => (
                <Stat
                  key={s.name}
                  cardTestId="overview-count"
                  data={{ status: s.name }}
                  label={<Badge tone={statusTone(s.name)}>{statusLabel(t, s.name)}</Badge>}
                  value={<Ltr>{overview.counts[s.name] ?? 0}</Ltr>}
                />
              ))}
            </div>
            {history.data && !history.data.complete && <p className="muted small">{t.overviewPartial(history.data.runs.length)}</p>}
          </div>

          <div className="card">
            <h2>{t.overviewFailing}</h2>
            {overview.failing.length === 0 ? (
              <Empty testId="overview-failing-empty">{t.overviewNoFailing}</Empty>
            ) : (
              <div className="table-wrap">
                <table className="table" data-testid="overview-failing">
                  <thead>
                    <tr>
                      <th>{t.colName}</th>
                      <th className="num">{t.detailConsecutiveFailures}</th>
                      <th>{t.colLastRun}</th>
                      <th>{t.colState}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {overview.failing.map((job) => (
                      <tr key={job.id} data-testid="overview-failing-row" data-job-id={job.id}>
                        <td>
                          <a href={href(`/jobs/${job.id}`)}>{jobName(job, lang)}</a>
                        </td>
                        <td className="num error-text">
                          <Ltr>{job.consecutiveFailures}</Ltr>
                        </td>
                        <td title={time(job.lastRunAt)}>{job.lastRunAt ? formatRelative(job.lastRunAt, now, lang, true) : t.never}</td>
                        <td dir="auto">{job.isPaused && job.pausedReason ? <Badge tone="amber" title={job.pausedReason}>{t.pausedByScheduler}</Badge> : t.none}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </div>

          <div className="card">
            <h2>{t.overviewSilent}</h2>
            <p className="muted small">{t.overviewSilentHint}</p>
            {overview.silent.length === 0 ? (
              <Empty testId="overview-silent-empty">{t.overviewNoSilent}</Empty>
            ) : (
              <div className="table-wrap">
                <table className="table" data-testid="overview-silent">
                  <thead>
                    <tr>
                      <th>{t.colName}</th>
                      <th>{t.colNextRun}</th>
                      <th>{t.overviewOverdue}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {overview.silent.map((job) => (
                      <tr key={job.id} data-testid="overview-silent-row" data-job-id={job.id}>
                        <td>
                          <a href={href(`/jobs/${job.id}`)}>{jobName(job, lang)}</a>
                        </td>
                        <td>{time(job.nextRunAt)}</td>
                        <td>{formatSeconds(overdueSeconds(job, now) ?? 0, lang)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </div>
        </>
      )}
    </section>
  );
}
