import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { makeExecution, makeJob, page } from '../test/fakeApi';
import { renderApp } from '../test/render';

describe('history of all jobs', () => {
  it('lists runs of every job with the job name, pages and filters', async () => {
    const { calls } = renderApp('#/history', {
      'GET /history': () =>
        page(
          [
            makeExecution({ executionId: 'a', jobId: 1 }),
            makeExecution({ executionId: 'b', jobId: 99, statusId: 5, statusName: 'missed', startedAt: undefined, durationMs: undefined, resultSummary: undefined, coalescedCount: 3 }),
          ],
          { total: 41, totalPages: 3, totalIsEstimate: false },
        ),
      'GET /jobs': () => page([makeJob({ id: 1, nameEn: 'Nightly sync' })]),
    });
    const rows = await screen.findAllByTestId('execution-row');
    await waitFor(() => expect(within(rows[0]!).getByTestId('execution-job')).toHaveTextContent('Nightly sync'));
    expect(within(rows[0]!).getByTestId('execution-job')).toHaveAttribute('href', '#/jobs/1');
    // A job outside the first page of jobs is still linked, by id.
    expect(within(rows[1]!).getByTestId('execution-job')).toHaveTextContent('#99');
    expect(within(rows[1]!).getByTestId('execution-status')).toHaveTextContent('missed');
    expect(within(rows[1]!).getByTestId('execution-duration')).toHaveTextContent('—');
    expect(rows[1]).toHaveTextContent('×3');

    expect(screen.getByTestId('history-pager-info')).toHaveTextContent('Page 1 of 3 · 41 total');

    await userEvent.click(screen.getByTestId('history-pager-next'));
    await waitFor(() => expect(calls.filter((c) => c.path === '/history').at(-1)?.query.get('page')).toBe('2'));
    await screen.findAllByTestId('execution-row');
    await userEvent.selectOptions(screen.getByTestId('filter-status'), '4');
    await waitFor(() => expect(calls.filter((c) => c.path === '/history').at(-1)?.query.toString()).toBe('page=1&per_page=20&status_id=4'));
  });

  it("acts on each run through its own job, and shows the chain's links", async () => {
    const { calls } = renderApp('#/history', {
      'GET /history': () =>
        page([
          makeExecution({ executionId: 'r', jobId: 99, statusId: 1, statusName: 'pending', trigger: 'manual', rerunOf: 'c', startedAt: undefined, completedAt: undefined, durationMs: undefined, resultSummary: undefined }),
          makeExecution({ executionId: 'c', jobId: 99, statusId: 7, statusName: 'cancelled', cancelledBy: 'replaced by run q', errorMessage: 'cancelled: replaced by run q', resultSummary: undefined }),
          makeExecution({ executionId: 'a', jobId: 1, attempt: 3, firstExecutionId: 'gone', statusId: 4, statusName: 'failed', errorMessage: 'boom', resultSummary: undefined }),
        ]),
      'GET /jobs': () => page([makeJob({ id: 1, nameEn: 'Nightly sync' })]),
      'POST /jobs/99/executions/c/action': () => ({ success: true, message: 'Run started again', execution: makeExecution({ executionId: 'r2', jobId: 99, rerunOf: 'c' }) }),
      'POST /jobs/99/executions/r/action': () => ({ success: true, message: 'Run cancelled before it started', execution: makeExecution({ executionId: 'r', jobId: 99, statusId: 7, statusName: 'cancelled' }) }),
    });
    const rows = await screen.findAllByTestId('execution-row');
    // A re-run links to the run it repeats; a retry whose first attempt is not on this page still names it.
    expect(within(rows[0]!).getByTestId('execution-rerun-of')).toHaveAttribute('data-target', 'c');
    await userEvent.click(within(rows[2]!).getByTestId('execution-first-attempt'));
    expect(screen.getByTestId('execution-detail-first-attempt')).toHaveTextContent('gone');
    await userEvent.click(within(rows[1]!).getByTestId('execution-toggle'));
    expect(screen.getByTestId('execution-cancelled-by')).toHaveTextContent('replaced by run q');

    await userEvent.click(within(rows[0]!).getByTestId('execution-cancel'));
    await userEvent.click(screen.getByTestId('run-action-dialog-confirm'));
    expect(await screen.findByTestId('run-action-result')).toHaveTextContent('Run cancelled before it started');
    await userEvent.click(within(screen.getAllByTestId('execution-row')[1]!).getByTestId('execution-rerun'));
    await userEvent.click(screen.getByTestId('run-action-dialog-confirm'));
    await waitFor(() => expect(screen.getByTestId('run-action-result')).toHaveTextContent('Run started again · r2'));
    expect(calls.filter((c) => c.method === 'POST').map((c) => [c.path, c.body])).toEqual([
      ['/jobs/99/executions/r/action', { action: 'cancel' }],
      ['/jobs/99/executions/c/action', { action: 'rerun' }],
    ]);
  });

  it('says "about" when the total is the database\'s estimate', async () => {
    renderApp('#/history', {
      'GET /history': () => page([makeExecution({ executionId: 'a', jobId: 1 })], { total: 2_000_016, totalPages: 100_001, totalIsEstimate: true }),
      'GET /jobs': () => page([makeJob({ id: 1 })]),
    });
    await screen.findAllByTestId('execution-row');
    expect(screen.getByTestId('history-pager-info')).toHaveTextContent('Page 1 of about 100001 · about 2000016 total');
  });
});
