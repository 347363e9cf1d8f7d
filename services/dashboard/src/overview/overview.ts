// What the overview page shows, computed from the jobs and the recent history. Pure functions of their inputs.
import type { Execution, Job } from '../types/api';

/** The overview's window, in milliseconds. */
export const OVERVIEW_WINDOW_MS = 24 * 3_600_000;
/** A job whose next slot is this many seconds overdue (beyond its misfire grace) has gone silent. */
export const SILENT_AFTER_SECONDS = 60;

export interface Overview {
  /** Runs whose slot lies in the window, by status name. */
  counts: Record<string, number>;
  total: number;
  /** Jobs whose last run failed, worst first: paused by failures, then most failures in a row. */
  failing: Job[];
  /** Enabled, unpaused jobs whose next slot is overdue: the scheduler is not firing them. */
  silent: Job[];
}

const ms = (iso: string | null | undefined): number | undefined => {
  if (!iso) return undefined;
  const value = new Date(iso).getTime();
  return Number.isNaN(value) ? undefined : value;
};

/** How long past its next slot (and its misfire grace) a job is, in seconds; undefined when it is not overdue. */
export function overdueSeconds(job: Job, now: Date): number | undefined {
  if (!job.isEnabled || job.isPaused) return undefined;
  const next = ms(job.nextRunAt);
  if (next === undefined) return undefined;
  const late = (now.getTime() - next) / 1000 - (job.misfireGraceTime ?? 0);
  return late > SILENT_AFTER_SECONDS ? late : undefined;
}

export function overviewOf(jobs: readonly Job[], runs: readonly Execution[], now: Date): Overview {
  const since = now.getTime() - OVERVIEW_WINDOW_MS;
  const counts: Record<string, number> = {};
  let total = 0;
  for (const run of runs) {
    const at = ms(run.scheduledAt) ?? ms(run.startedAt);
    if (at === undefined || at < since || at > now.getTime()) continue;
    counts[run.statusName] = (counts[run.statusName] ?? 0) + 1;
    total += 1;
  }
  const pausedByFailures = (job: Job): boolean => Boolean(job.isPaused && job.pausedReason);
  const failing = jobs
    .filter((job) => job.consecutiveFailures > 0 || pausedByFailures(job))
    .sort(
      (a, b) =>
        Number(pausedByFailures(b)) - Number(pausedByFailures(a)) ||
        b.consecutiveFailures - a.consecutiveFailures ||
        (ms(b.lastRunAt) ?? 0) - (ms(a.lastRunAt) ?? 0) ||
        a.id - b.id,
    );
  const silent = jobs
    .filter((job) => overdueSeconds(job, now) !== undefined)
    .sort((a, b) => (overdueSeconds(b, now) ?? 0) - (overdueSeconds(a, now) ?? 0) || a.id - b.id);
  return { counts, total, failing, silent };
}

/** The runs of the window, newest first: pages of the history until one reaches past the window (at most maxPages). */
export async function recentHistory(
  load: (page: number) => Promise<{ items: Execution[]; total: number }>,
  now: Date,
  maxPages = 5,
): Promise<{ runs: Execution[]; complete: boolean }> {
  const since = now.getTime() - OVERVIEW_WINDOW_MS;
  const runs: Execution[] = [];
  for (let page = 1; page <= maxPages; page += 1) {
    const result = await load(page);
    runs.push(...result.items);
    // Newest first by id, not by slot (a backfill adds old slots): stop at a page wholly before the window.
    const reachedPast = result.items.length > 0 && result.items.every((run) => (ms(run.scheduledAt) ?? Infinity) < since);
    if (reachedPast || result.items.length === 0 || runs.length >= result.total) return { runs, complete: true };
  }
  return { runs, complete: false };
}
