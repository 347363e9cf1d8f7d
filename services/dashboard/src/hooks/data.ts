import { useEffect, useMemo, useState } from 'react';
import { useApi } from '../api/context';
import { taskName, type Lang } from '../i18n';
import type { Execution, Job, TaskFunctionInfo } from '../types/api';
import { useAsync, type AsyncState } from './useAsync';

export function useTaskFunctions(): AsyncState<TaskFunctionInfo[]> {
  const api = useApi();
  return useAsync((signal) => api.taskFunctions(signal), []);
}

/** Task display name by task function id (falls back to the job's task key). */
export function useTaskNames(tasks: TaskFunctionInfo[] | undefined, lang: Lang): (job: Pick<Job, 'taskFunctionId' | 'taskFunctionKey'>) => string {
  return useMemo(() => {
    const byId = new Map((tasks ?? []).map((task) => [task.id, task]));
    return (job) => {
      const task = byId.get(job.taskFunctionId);
      return task ? taskName(task, lang) : job.taskFunctionKey;
    };
  }, [tasks, lang]);
}

export type LastOutcome = { execution?: Execution; error?: unknown };

/**
 * The latest execution of each job that has run, for the "last run" column. The job list carries only
 * lastRunAt, so this asks each job's history for its newest entry (one small request per job on the page).
 */
export function useLastOutcomes(jobs: Job[] | undefined): Map<number, LastOutcome> {
  const api = useApi();
  const [outcomes, setOutcomes] = useState<Map<number, LastOutcome>>(new Map());
  const key = (jobs ?? []).map((job) => `${job.id}@${job.lastRunAt ?? ''}`).join(',');
  useEffect(() => {
    const controller = new AbortController();
    const ran = (jobs ?? []).filter((job) => job.lastRunAt);
    if (ran.length === 0) {
      setOutcomes(new Map());
      return () => controller.abort();
    }
    void Promise.allSettled(ran.map((job) => api.jobHistory(job.id, { page: 1, perPage: 1 }, controller.signal))).then((results) => {
      if (controller.signal.aborted) return;
      const next = new Map<number, LastOutcome>();
      results.forEach((result, index) => {
        const job = ran[index];
        if (!job) return;
        next.set(job.id, result.status === 'fulfilled' ? { execution: result.value.items[0] } : { error: result.reason });
      });
      setOutcomes(next);
    });
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps -- `key` captures what matters in `jobs`
  }, [api, key]);
  return outcomes;
}

/** Names of jobs by id, for the history of all jobs (first 100 jobs; others show as #id). */
export function useJobIndex(): AsyncState<Map<number, Job>> {
  const api = useApi();
  return useAsync(async (signal) => {
    const page = await api.listJobs({ page: 1, perPage: 100 }, signal);
    return new Map(page.items.map((job) => [job.id, job]));
  }, []);
}
