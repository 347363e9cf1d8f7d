import { HistoryTable } from '../components/HistoryTable';
import { ErrorBanner } from '../components/ui';
import { useJobIndex } from '../hooks/data';
import { jobName, useI18n } from '../i18n';

/** #/history: runs of all jobs. */
export function History() {
  const { t, lang } = useI18n();
  const jobs = useJobIndex();
  const label = (jobId: number): string => {
    const job = jobs.data?.get(jobId);
    return job ? jobName(job, lang) : `#${jobId}`;
  };
  const jobOptions = [...(jobs.data?.values() ?? [])].map((job) => ({ id: job.id, label: jobName(job, lang) })).sort((a, b) => a.label.localeCompare(b.label));
  return (
    <section data-testid="page-history">
      <div className="page-header">
        <h1>{t.allHistoryTitle}</h1>
      </div>
      <ErrorBanner error={jobs.error} onRetry={jobs.reload} testId="jobs-error" />
      <div className="card">
        <HistoryTable jobLabel={label} jobOptions={jobOptions} />
      </div>
    </section>
  );
}
