import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { makeExecution, makeJob, page } from '../test/fakeApi';
import { renderApp } from '../test/render';
import { overviewOf, recentHistory } from './overview';

const now = new Date('2025-01-07T12:00:00Z');
const hoursAgo = (h: number): string => new Date(now.getTime() - h * 3_600_000).toISOString();

describe('overview', () => {
  it('counts the runs of the last 24 h by status, lists failing jobs worst first, then silent jobs', () => {
    const jobs = [
      makeJob({ id: 1, nameEn: 'ok', consecutiveFailures: 0, nextRunAt: hoursAgo(-1) }),
      makeJob({ id: 2, nameEn: 'one failure', consecutiveFailures: 1, lastRunAt: hoursAgo(1) }),
      makeJob({ id: 3, nameEn: 'three failures', consecutiveFailures: 3, lastRunAt: hoursAgo(2) }),
      makeJob({ id: 4, nameEn: 'paused by failures', consecutiveFailures: 2, isPaused: true, pausedReason: 'paused after 2 failed runs' }),
      makeJob({ id: 5, nameEn: 'overdue 2 h', nextRunAt: hoursAgo(2), misfireGraceTime: 60 }),
      makeJob({ id: 6, nameEn: 'overdue 5 h', nextRunAt: hoursAgo(5), misfireGraceTime: 60 }),
      makeJob({ id: 7, nameEn: 'paused, overdue', nextRunAt: hoursAgo(5), isPaused: true }),
      makeJob({ id: 8, nameEn: 'disabled, overdue', nextRunAt: hoursAgo(5), isEnabled: false }),
      makeJob({ id: 9, nameEn: 'within grace', nextRunAt: new Date(now.getTime() - 90_000).toISOString(), misfireGraceTime: 60 }),
    ];
    const runs = [
      makeExecution({ statusName: 'success', scheduledAt: hoursAgo(1) }),
      makeExecution({ statusName: 'success', scheduledAt: hoursAgo(23) }),
      makeExecution({ statusName: 'failed', scheduledAt: hoursAgo(3) }),
      makeExecution({ statusName: 'failed', scheduledAt: hoursAgo(25) }),
    ];
    const overview = overviewOf(jobs, runs, now);
    expect(overview.counts).toEqual({ success: 2, failed: 1 });
    expect(overview.total).toBe(3);
    expect(overview.failing.map((j) => j.id)).toEqual([4, 3, 2]);
    expect(overview.silent.map((j) => j.id)).toEqual([6, 5]);
  });

  it('reads history pages until one lies wholly before the window', async () => {
    const pages = [
      [makeExecution({ scheduledAt: hoursAgo(1) }), makeExecution({ scheduledAt: hoursAgo(30) })], // a backfill: old slot, new id
      [makeExecution({ scheduledAt: hoursAgo(20) })],
      [makeExecution({ scheduledAt: hoursAgo(26) })],
      [makeExecution({ scheduledAt: hoursAgo(27) })],
    ];
    const asked: number[] = [];
    const result = await recentHistory(async (p) => {
      asked.push(p);
      return { items: pages[p - 1] ?? [], total: 100 };
    }, now);
    expect(asked).toEqual([1, 2, 3]);
    expect(result.complete).toBe(true);
  });

  it('page shows the counts, failing and silent jobs, linked', async () => {
    const recent = new Date(Date.now() - 3_600_000).toISOString();
    renderApp('#/overview', {
      'GET /jobs': () =>
        page([
          makeJob({ id: 2, nameEn: 'Flaky', consecutiveFailures: 1 }),
          makeJob({ id: 4, nameEn: 'Broken', consecutiveFailures: 2, isPaused: true, pausedReason: 'paused after 2 failed runs' }),
          makeJob({ id: 6, nameEn: 'Stuck', nextRunAt: new Date(Date.now() - 3 * 3_600_000).toISOString() }),
        ]),
      'GET /history': () => page([makeExecution({ statusName: 'failed', scheduledAt: recent }), makeExecution({ statusName: 'success', scheduledAt: recent })], { total: 2 }),
    });
    const counts = await screen.findByTestId('overview-counts');
    expect(counts).toHaveAttribute('data-total', '2');
    const rows = within(screen.getByTestId('overview-failing')).getAllByTestId('overview-failing-row');
    expect(rows.map((r) => r.getAttribute('data-job-id'))).toEqual(['4', '2']);
    expect(within(screen.getByTestId('overview-silent')).getByText('Stuck')).toHaveAttribute('href', '#/jobs/6');
    expect(screen.getByTestId('nav-overview')).toHaveAttribute('aria-current', 'page');
  });
});
