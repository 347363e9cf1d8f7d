import { useState } from 'react';
import { pageCount } from '../api/client';
import { useApi } from '../api/context';
import { JobBadges } from '../components/JobBadges';
import { Badge, Empty, ErrorBanner, Loading, Ltr, Pager, statusTone } from '../components/ui';
import { describeSchedule } from '../format/schedule';
import { formatRelative } from '../format/time';
import { useLastOutcomes, useTaskFunctions, useTaskNames } from '../hooks/data';
import { useLive } from '../hooks/live';
import { useNow } from '../hooks/useAsync';
import { jobName, statusLabel, useI18n } from '../i18n';
import { href, intParam, navigate } from '../router';
import { JOB_TYPE_CRON, JOB_TYPE_INTERVAL } from '../types/api';

export const JOBS_PER_PAGE = 20;
export function JobsList({ query }: { query: URLSearchParams }) {
  const { t, lang, time } = useI18n();
  const api = useApi();
  const now = useNow(5_000);
  const page = intParam(query, 'page', 1);
  const enabled = query.get('enabled') ?? '';
  const type = query.get('type') ?? '';
  const search = query.get('q') ?? '';
  const [typed, setTyped] = useState(search);

  const jobs = useLive(
    ['jobs', page, enabled, type, search],
    (signal) =>
      api.listJobs(
        {
          page,
          perPage: JOBS_PER_PAGE,
          name: search || undefined, // the API's search: English or Arabic name, any case
          isEnabled: enabled === 'true' ? true : enabled === 'false' ? false : undefined,
          jobTypeId: type ? Number(type) : undefined,
        },
        signal,
      ),
  );
  const shown = jobs.data?.items;
  const tasks = useTaskFunctions();
  const taskLabel = useTaskNames(tasks.data, lang);
  const outcomes = useLastOutcomes(shown);
  const outcomeErrors = [...outcomes.values()].filter((o) => o.error !== undefined);

  const go = (changes: Record<string, string | number | undefined>): void => {
    navigate('/jobs', { q: search || undefined, enabled: enabled || undefined, type: type || undefined, page: page > 1 ? page : undefined, ...changes });
  };
  const filtered = Boolean(enabled || type || search);

  return (
    <section data-testid="page-jobs">
      <div className="page-header">
        <h1>{t.jobsTitle}</h1>
        <a className="btn btn-primary" href="#/jobs/new" data-testid="job-new">
          {t.newJob}
        </a>
      </div>

      <div className="filters">
        <form
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            go({ q: typed.trim() || undefined, page: undefined });
          }}
        >
          <label>
            {t.searchJobs}
            <input
              type="search"
              value={typed}
              onChange={(e) => {
                setTyped(e.target.value);
                if (e.target.value === '') go({ q: undefined, page: undefined });
              }}
              onBlur={() => {
                if (typed.trim() !== search) go({ q: typed.trim() || undefined, page: undefined });
              }}
              data-testid="jobs-search"
            />
          </label>
        </form>
        <label>
          {t.filterEnabled}
          <select value={enabled} onChange={(e) => go({ enabled: e.target.value || undefined, page: undefined })} data-testid="filter-enabled">
            <option value="">{t.all}</option>
            <option value="true">{t.filterEnabledOnly}</option>
            <option value="false">{t.filterDisabledOnly}</option>
          </select>
        </label>
        <label>
          {t.filterType}
          <select value={type} onChange={(e) => go({ type: e.target.value || undefined, page: undefined })} data-testid="filter-type">
            <option value="">{t.all}</option>
            <option value={String(JOB_TYPE_INTERVAL)}>{t.typeInterval}</option>
            <option value={String(JOB_TYPE_CRON)}>{t.typeCron}</option>
          </select>
        </label>
        <button type="button" className="btn btn-small" onClick={jobs.reload} disabled={jobs.busy} data-testid="jobs-refresh">
          {t.refresh}
        </button>
      </div>

      {query.get('deleted') && (
        <div className="banner banner-ok" role="status" data-testid="job-deleted">
          {t.deleted}
        </div>
      )}
      <ErrorBanner error={jobs.error} onRetry={jobs.reload} />
      <ErrorBanner error={tasks.error} onRetry={tasks.reload} testId="tasks-error" />
      {outcomeErrors.length > 0 && <ErrorBanner error={outcomeErrors[0]?.error} testId="outcomes-error" />}

      {jobs.loading ? (
        <Loading />
      ) : jobs.data && shown && shown.length === 0 ? (
        <Empty>
          {filtered ? t.noJobsFiltered : t.noJobs}{' '}
          {!filtered && (
            <a href="#/jobs/new" data-testid="job-new-empty">
              {t.createFirstJob}
            </a>
          )}
        </Empty>
      ) : jobs.data ? (
        <>
          <div className="table-wrap">
            <table className="table" data-testid="jobs-table">
              <thead>
                <tr>
                  <th>{t.colName}</th>
                  <th>{t.colTask}</th>
                  <th>{t.colSchedule}</th>
                  <th>{t.colNextRun}</th>
                  <th>{t.colLastRun}</th>
                  <th className="num">{t.colPriority}</th>
                  <th>{t.colState}</th>
                </tr>
              </thead>
              <tbody>
                {(shown ?? []).map((job) => {
                  const outcome = outcomes.get(job.id);
                  const last = outcome?.execution;
                  return (
                    <tr key={job.id} data-testid="job-row" data-job-id={job.id}>
                      <td>
                        <a href={href(`/jobs/${job.id}`)} data-testid="job-link">
                          {jobName(job, lang)}
                        </a>
                      </td>
                      <td>{taskLabel(job)}</td>
                      <td data-testid="job-schedule">{describeSchedule(job, lang)}</td>
                      <td title={job.isPaused || !job.isEnabled ? undefined : time(job.nextRunAt)} data-testid="job-next-run">
                        {/* A paused or disabled job does not run at its next slot: no countdown that would mislead. */}
                        {job.isPaused || !job.isEnabled ? t.none : job.nextRunAt ? formatRelative(job.nextRunAt, now, lang) : t.none}
                      </td>
                      <td title={time(job.lastRunAt)} data-testid="job-last-run">
                        {job.lastRunAt ? formatRelative(job.lastRunAt, now, lang, true) : t.never}{' '}
                        {last && (
                          <Badge tone={statusTone(last.statusName)} testId="job-last-status">
                            {statusLabel(t, last.statusName)}
                          </Badge>
                        )}
                      </td>
                      <td className="num">
                        <Ltr>{job.priority}</Ltr>
                      </td>
                      <td>
                        <JobBadges job={job} />
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          {search ? (
            <p className="muted small" data-testid="jobs-search-count">
              {t.searchHint(jobs.data.total)}
            </p>
          ) : null}
          <Pager page={page} pages={pageCount(jobs.data, JOBS_PER_PAGE)} total={jobs.data.total} onPage={(p) => go({ page: p })} />
        </>
      ) : null}
    </section>
  );
}
