import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { makeExecution, makeJob, page, TASKS } from '../test/fakeApi';
import { renderApp } from '../test/render';

const jobs = [
  makeJob({ id: 1, nameEn: 'Nightly sync', intervalMinutes: 30, lastRunAt: '2025-01-07T10:00:00Z', nextRunAt: '2999-01-01T00:00:00Z' }),
  makeJob({ id: 2, nameEn: 'Report', taskFunctionId: 4, taskFunctionKey: 'http_request', jobTypeId: 2, jobTypeName: 'cron', intervalMinutes: undefined, cronExpression: '0 2 * * *', timezone: 'Asia/Riyadh', isPaused: true, isPrimary: true }),
  makeJob({ id: 3, nameEn: 'Off', isEnabled: false }),
];

describe('jobs list', () => {
  it('shows name, task, schedule in words, runs, priority and state badges', async () => {
    const { calls } = renderApp('#/jobs', {
      'GET /jobs': () => page(jobs, { total: 45, totalPages: 3 }),
      'GET /task-functions': () => TASKS,
      'GET /jobs/1/history': () => page([makeExecution({ statusName: 'failed', statusId: 4 })]),
    });
    const rows = await screen.findAllByTestId('job-row');
    expect(rows).toHaveLength(3);
    const [first, second, third] = rows as [HTMLElement, HTMLElement, HTMLElement];

    expect(within(first).getByTestId('job-link')).toHaveAttribute('href', '#/jobs/1');
    expect(first).toHaveTextContent('No operation');
    expect(within(first).getByTestId('job-schedule')).toHaveTextContent('every 30 minutes');
    expect(within(first).getByTestId('job-next-run')).toHaveTextContent(/^in /);
    // Paused (second) and disabled (third) jobs show no next run.
    expect(within(second).getByTestId('job-next-run')).toHaveTextContent('—');
    expect(within(third).getByTestId('job-next-run')).toHaveTextContent('—');
    expect(await within(first).findByTestId('job-last-status')).toHaveTextContent('failed');
    expect(within(first).getByTestId('badge-enabled')).toBeInTheDocument();

    expect(second).toHaveTextContent('HTTP request');
    expect(within(second).getByTestId('job-schedule')).toHaveTextContent('at 02:00 every day (Asia/Riyadh)');
    expect(within(second).getByTestId('badge-paused')).toBeInTheDocument();
    expect(within(second).getByTestId('badge-primary')).toBeInTheDocument();
    expect(within(second).getByTestId('job-last-run')).toHaveTextContent('never');

    expect(within(third).getByTestId('badge-disabled')).toBeInTheDocument();
    expect(screen.getByTestId('pager-info')).toHaveTextContent('Page 1 of 3 · 45 total');
    // Only the job that has run is asked for its last outcome.
    expect(calls.filter((c) => c.path.endsWith('/history')).map((c) => c.path)).toEqual(['/jobs/1/history']);
  });

  it('filters by enabled and type, and pages, through the API query', async () => {
    const { calls } = renderApp('#/jobs', { 'GET /jobs': () => page(jobs, { total: 45, totalPages: 3 }), 'GET /task-functions': () => TASKS, 'GET /jobs/1/history': () => page([]) });
    await screen.findAllByTestId('job-row');
    await userEvent.selectOptions(screen.getByTestId('filter-enabled'), 'false');
    await waitFor(() => expect(calls.filter((c) => c.path === '/jobs').at(-1)?.query.get('is_enabled')).toBe('false'));
    await userEvent.selectOptions(screen.getByTestId('filter-type'), '2');
    await waitFor(() => expect(calls.filter((c) => c.path === '/jobs').at(-1)?.query.get('job_type_id')).toBe('2'));
    expect(window.location.hash).toBe('#/jobs?enabled=false&type=2');
    await screen.findAllByTestId('job-row');
    await userEvent.click(screen.getByTestId('pager-next'));
    await waitFor(() => expect(calls.filter((c) => c.path === '/jobs').at(-1)?.query.get('page')).toBe('2'));
    expect(calls.filter((c) => c.path === '/jobs').at(-1)?.query.get('per_page')).toBe('20');
  });

  it('has an empty state that offers to create a job', async () => {
    renderApp('#/jobs', { 'GET /jobs': () => page([]), 'GET /task-functions': () => TASKS });
    expect(await screen.findByTestId('empty')).toHaveTextContent('No jobs yet.');
    expect(screen.getByTestId('job-new-empty')).toHaveAttribute('href', '#/jobs/new');
  });

  it('shows a loading state, then API errors with a retry', async () => {
    let fail = true;
    renderApp('#/jobs', {
      'GET /jobs': () => (fail ? { status: 500, body: { detail: 'database is locked' } } : page(jobs)),
      'GET /task-functions': () => TASKS,
      'GET /jobs/1/history': () => page([]),
    });
    expect(screen.getByTestId('loading')).toBeInTheDocument();
    const banner = await screen.findByTestId('error-banner');
    expect(banner).toHaveTextContent('database is locked');
    expect(banner).toHaveTextContent('HTTP 500');
    fail = false;
    await userEvent.click(screen.getByTestId('error-banner-retry'));
    expect(await screen.findAllByTestId('job-row')).toHaveLength(3);
    expect(screen.queryByTestId('error-banner')).not.toBeInTheDocument();
  });

  it('lays out in Arabic', async () => {
    renderApp('#/jobs', { 'GET /jobs': () => page([jobs[0]!]), 'GET /task-functions': () => TASKS, 'GET /jobs/1/history': () => page([]) }, { lang: 'ar' });
    const row = await screen.findByTestId('job-row');
    expect(document.documentElement).toHaveAttribute('dir', 'rtl');
    expect(within(row).getByTestId('job-link')).toHaveTextContent('مزامنة ليلية');
    expect(within(row).getByTestId('job-schedule')).toHaveTextContent('كل 30 دقيقة');
    expect(within(row).getByTestId('badge-enabled')).toHaveTextContent('مفعّلة');
  });
});
