import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { fromLocalInput } from '../format/time';
import { makeExecution, makeJob, page, TASKS } from '../test/fakeApi';
import { renderApp } from '../test/render';

describe('history filters', () => {
  it('build the API query from job, status, trigger and slot range, and clear', async () => {
    const { calls } = renderApp('#/history', {
      'GET /history': () => page([makeExecution({ executionId: 'a', jobId: 1 })], { total: 1 }),
      'GET /jobs': () => page([makeJob({ id: 1, nameEn: 'Nightly sync' }), makeJob({ id: 2, nameEn: 'Report' })]),
    });
    await screen.findAllByTestId('execution-row');
    const last = (): URLSearchParams => calls.filter((c) => c.path === '/history').at(-1)?.query ?? new URLSearchParams();
    await waitFor(() => expect(within(screen.getByTestId('filter-job')).getByText('Report')).toBeInTheDocument());
    await userEvent.selectOptions(screen.getByTestId('filter-job'), '2');
    await userEvent.selectOptions(screen.getByTestId('filter-status'), '4');
    await userEvent.selectOptions(screen.getByTestId('filter-trigger'), 'backfill');
    fireEvent.change(screen.getByTestId('filter-from'), { target: { value: '2025-01-07T00:00' } });
    fireEvent.change(screen.getByTestId('filter-to'), { target: { value: '2025-01-08T00:00' } });
    await waitFor(() =>
      expect(Object.fromEntries(last())).toEqual({
        page: '1',
        per_page: '20',
        job_id: '2',
        status_id: '4',
        trigger: 'backfill',
        from: fromLocalInput('2025-01-07T00:00'),
        to: fromLocalInput('2025-01-08T00:00'),
      }),
    );
    await userEvent.click(screen.getByTestId('filter-clear'));
    await waitFor(() => expect(last().toString()).toBe('page=1&per_page=20'));
  });

  it("a job's own history sends its filters but no job_id", async () => {
    const { calls } = renderApp('#/jobs/7', {
      'GET /jobs/7': () => makeJob({ id: 7 }),
      'GET /task-functions': () => TASKS,
      'GET /jobs/7/preview': () => ({ fireTimes: [] }),
      'GET /jobs/7/history': () => page([makeExecution({ jobId: 7 })]),
    });
    await screen.findByTestId('filter-trigger');
    expect(screen.queryByTestId('filter-job')).toBeNull();
    await userEvent.selectOptions(screen.getByTestId('filter-trigger'), 'manual');
    await waitFor(() => expect(calls.filter((c) => c.path === '/jobs/7/history' && c.query.get('per_page') === '20').at(-1)?.query.toString()).toBe('page=1&per_page=20&trigger=manual'));
  });
});

describe('job search', () => {
  it("asks the API for the jobs whose name contains the text, and says how many match", async () => {
    const { calls } = renderApp('#/jobs', {
      'GET /jobs': (call) => (call.query.get('name') === 'SYNC' ? page([makeJob({ id: 1, nameEn: 'Nightly sync' }), makeJob({ id: 3, nameEn: 'Sync users' })], { total: 2 }) : page([makeJob({ id: 2 })], { total: 1 })),
      'GET /task-functions': () => TASKS,
    });
    await screen.findAllByTestId('job-row');
    await userEvent.type(screen.getByTestId('jobs-search'), 'SYNC{enter}');
    await waitFor(() => expect(screen.getAllByTestId('job-row').map((r) => r.getAttribute('data-job-id'))).toEqual(['1', '3']));
    expect(window.location.hash).toBe('#/jobs?q=SYNC');
    expect(calls.filter((c) => c.path === '/jobs').at(-1)?.query.toString()).toBe('page=1&per_page=20&name=SYNC');
    expect(screen.getByTestId('jobs-search-count')).toHaveTextContent('2 jobs match');
  });

  it('searches from the URL, in Arabic too', async () => {
    const { calls } = renderApp(`#/jobs?q=${encodeURIComponent('ليلية')}`, { 'GET /jobs': () => page([makeJob({ id: 1, nameAr: 'مزامنة ليلية' })], { total: 1 }), 'GET /task-functions': () => TASKS });
    await screen.findAllByTestId('job-row');
    expect(calls.filter((c) => c.path === '/jobs').at(-1)?.query.get('name')).toBe('ليلية');
    expect(screen.getByTestId('jobs-search')).toHaveValue('ليلية');
  });
});
