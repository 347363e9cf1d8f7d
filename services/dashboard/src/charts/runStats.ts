// What the job detail's charts plot, computed from the job's recent history. Pure functions of the runs.
import type { Execution } from '../types/api';

/** Status groups of the "runs by status" chart, in drawing order. */
export const STATUS_GROUPS = ['success', 'failed', 'other'] as const;
export type StatusGroup = (typeof STATUS_GROUPS)[number];

export function statusGroup(statusName: string): StatusGroup {
  if (statusName === 'success') return 'success';
  if (statusName === 'failed') return 'failed';
  return 'other';
}

export interface RunPoint {
  /** The run's slot (scheduledAt, else when it started), in seconds since the epoch (uPlot's x unit). */
  t: number;
  group: StatusGroup;
  /** How long it ran, in seconds (ended runs only). */
  durationS?: number;
  /** startedAt − scheduledAt, in seconds (started runs only): how late it started. */
  latenessS?: number;
}

const seconds = (iso: string | null | undefined): number | undefined => {
  if (!iso) return undefined;
  const ms = new Date(iso).getTime();
  return Number.isNaN(ms) ? undefined : ms / 1000;
};

/** One point per run, oldest slot first (the API's order is not relied on). */
export function runPoints(runs: readonly Execution[]): RunPoint[] {
  const points: RunPoint[] = [];
  for (const run of runs) {
    const scheduled = seconds(run.scheduledAt);
    const started = seconds(run.startedAt);
    const t = scheduled ?? started;
    if (t === undefined) continue;
    points.push({
      t,
      group: statusGroup(run.statusName),
      durationS: run.durationMs !== undefined && run.durationMs !== null ? run.durationMs / 1000 : undefined,
      latenessS: scheduled !== undefined && started !== undefined ? started - scheduled : undefined,
    });
  }
  return points.sort((a, b) => a.t - b.t);
}

export interface StatusBuckets {
  /** Start of each bucket, seconds since the epoch. */
  starts: number[];
  /** Bucket width, seconds. */
  width: number;
  counts: Record<StatusGroup, number[]>;
}

/** Runs counted by status group in `buckets` equal time buckets spanning the runs' slots (at least 1 minute each). */
export function statusBuckets(points: readonly RunPoint[], buckets = 24): StatusBuckets {
  const counts: Record<StatusGroup, number[]> = { success: [], failed: [], other: [] };
  if (points.length === 0) return { starts: [], width: 60, counts };
  const first = points[0]?.t ?? 0;
  const last = points[points.length - 1]?.t ?? first;
  const width = Math.max(60, Math.ceil((last - first + 1) / buckets));
  const n = Math.max(1, Math.min(buckets, Math.floor((last - first) / width) + 1));
  const starts = Array.from({ length: n }, (_, i) => first + i * width);
  for (const group of STATUS_GROUPS) counts[group] = new Array<number>(n).fill(0);
  for (const point of points) {
    const index = Math.min(n - 1, Math.floor((point.t - first) / width));
    counts[point.group][index] = (counts[point.group][index] ?? 0) + 1;
  }
  return { starts, width, counts };
}

/** The x values and one y series of the points that have `key` (null where a run has none: uPlot leaves a gap). */
export function seriesOf(points: readonly RunPoint[], key: 'durationS' | 'latenessS'): [number[], Array<number | null>] {
  const withValue = points.filter((point) => point[key] !== undefined);
  return [withValue.map((point) => point.t), withValue.map((point) => point[key] ?? null)];
}

/** Median and 95th percentile (nearest rank) of the values, for the chart captions. */
export function percentiles(values: readonly number[]): { p50: number; p95: number } | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? 0;
  return { p50: rank(0.5), p95: rank(0.95) };
}
