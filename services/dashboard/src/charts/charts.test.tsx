import { screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { makeExecution, makeJob, page, TASKS } from '../test/fakeApi';
import type { FakeCall } from '../test/fakeApi';
import { renderApp } from '../test/render';
import type { Execution } from '../types/api';
import { percentiles, runPoints, seriesOf, statusBuckets } from './runStats';

/** A seeded pseudo-random generator (mulberry32), so that the data is random but the test repeatable. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const STATUSES = ['success', 'failed', 'missed', 'running', 'cancelled'] as const;

function randomRuns(count: number, seed: number): Execution[] {
  const random = seeded(seed);
  const base = Date.parse('2025-01-07T00:00:00Z');
  return Array.from({ length: count }, (_, i) => {
    const slot = base + Math.floor(random() * 86_400_000);
    const status = STATUSES[Math.floor(random() * STATUSES.length)] ?? 'success';
    const started = status === 'missed' ? undefined : slot + Math.floor(random() * 5_000);
    return makeExecution({
      id: i + 1,
      executionId: `run-${i}`,
      statusName: status,
      scheduledAt: new Date(slot).toISOString(),
      startedAt: started === undefined ? undefined : new Date(started).toISOString(),
      durationMs: status === 'success' || status === 'failed' ? Math.floor(random() * 10_000) : undefined,
    });
  });
}

describe('run statistics', () => {
  it.each([1, 2, 3, 4, 5])('count every run once, by status group, in time order (seed %i)', (seed) => {
    const runs = randomRuns(1 + Math.floor(seeded(seed)() * 300), seed);
    const points = runPoints(runs);
    expect(points.map((p) => p.t)).toEqual([...points.map((p) => p.t)].sort((a, b) => a - b));
    const buckets = statusBuckets(points, 24);
    expect(buckets.starts.length).toBeLessThanOrEqual(24);
    const total = (g: 'success' | 'failed' | 'other'): number => buckets.counts[g].reduce((a, b) => a + b, 0);
    expect(total('success')).toBe(runs.filter((r) => r.statusName === 'success').length);
    expect(total('failed')).toBe(runs.filter((r) => r.statusName === 'failed').length);
    expect(total('success') + total('failed') + total('other')).toBe(runs.length);
    // Each point lands in the bucket that spans its slot.
    for (const point of points) {
      const index = Math.min(buckets.starts.length - 1, Math.floor((point.t - (buckets.starts[0] ?? 0)) / buckets.width));
      expect(point.t).toBeGreaterThanOrEqual(buckets.starts[index] ?? Infinity);
    }
    const [, lateness] = seriesOf(points, 'latenessS');
    expect(lateness.length).toBe(runs.filter((r) => r.startedAt).length);
    for (const value of lateness) expect(value).toBeGreaterThanOrEqual(0);
  });

  it('lateness is the start minus the slot, duration in seconds', () => {
    const [point] = runPoints([makeExecution({ scheduledAt: '2025-01-07T10:00:00Z', startedAt: '2025-01-07T10:00:02.500Z', durationMs: 1500 })]);
    expect(point).toMatchObject({ latenessS: 2.5, durationS: 1.5, group: 'success' });
  });

  it('percentiles by nearest rank', () => {
    expect(percentiles([])).toBeUndefined();
    expect(percentiles([5, 1, 3, 2, 4])).toEqual({ p50: 3, p95: 5 });
  });
});

describe('job charts', () => {
  it('render from the job history (several pages) with their captions', async () => {
    const runs = randomRuns(250, 7).sort((a, b) => b.id - a.id);
    const history = (call: FakeCall) => {
      const p = Number(call.query.get('page') ?? 1);
      const per = Number(call.query.get('per_page') ?? 20);
      return page(runs.slice((p - 1) * per, p * per), { total: runs.length });
    };
    const { calls } = renderApp('#/jobs/1', {
      'GET /jobs/1': () => makeJob({ id: 1 }),
      'GET /task-functions': () => TASKS,
      'GET /jobs/1/preview': () => ({ fireTimes: [] }),
      'GET /jobs/1/history': history,
    });
    const charts = await screen.findByTestId('job-charts');
    expect(charts).toHaveAttribute('data-runs', '250');
    const success = runs.filter((r) => r.statusName === 'success').length;
    const failed = runs.filter((r) => r.statusName === 'failed').length;
    expect(screen.getByTestId('chart-status-caption')).toHaveTextContent(`Last 250 runs by slot: ${success} succeeded, ${failed} failed, ${250 - success - failed} other`);
    expect(Number(screen.getByTestId('chart-duration').getAttribute('data-points'))).toBe(runs.filter((r) => r.durationMs !== undefined).length);
    expect(screen.getByTestId('chart-lateness-caption')).toHaveTextContent(/median .*95th percentile/);
    await waitFor(() => expect(calls.filter((c) => c.path === '/jobs/1/history' && c.query.get('per_page') === '100').map((c) => c.query.get('page'))).toEqual(expect.arrayContaining(['1', '2', '3'])));
  });

  it('say so when the job has not run', async () => {
    renderApp('#/jobs/1', { 'GET /jobs/1': () => makeJob({ id: 1 }), 'GET /task-functions': () => TASKS, 'GET /jobs/1/preview': () => ({ fireTimes: [] }), 'GET /jobs/1/history': () => page([]) });
    expect(await screen.findByTestId('charts-empty')).toBeInTheDocument();
  });
});
