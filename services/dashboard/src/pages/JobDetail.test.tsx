import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { FakeCall } from '../test/fakeApi';
import { makeExecution, makeJob, page, TASKS } from '../test/fakeApi';
import { renderApp } from '../test/render';
import { actionApplies } from './JobDetail';

function detailRoutes(overrides: Record<string, (call: FakeCall) => unknown> = {}) {
  let job = makeJob({ id: 7, lastRunAt: '2025-01-07T10:00:00Z' });
  const runs = [
    makeExecution({ id: 2, executionId: 'run-2', statusId: 4, statusName: 'failed', resultSummary: undefined, errorMessage: 'ConnectionError: refused', errorTraceback: 'Traceback (most recent call last):\n  File "x.py"\nConnectionError: refused' }),
    makeExecution({ id: 1, executionId: 'run-1', durationMs: 4000 }),
  ];
  return {
    'GET /task-functions': () => TASKS,
    'GET /jobs/7': () => job,
    'GET /jobs/7/history': (call: FakeCall) => {
      const status = call.query.get('status_id');
      return page(status ? runs.filter((r) => String(r.statusId) === status) : runs);
    },
    'POST /jobs/7/action': (call: FakeCall) => {
      const { action } = call.body as { action: string };
      if (action === 'pause') job = { ...job, isPaused: true };
      if (action === 'disable') return { status: 409, body: { error: 'conflict', message: 'Primary jobs cannot be disabled', fields: [] } };
      return { success: true, message: action === 'trigger' ? 'Job triggered successfully' : `Job ${action}d`, executionId: action === 'trigger' ? 'new-run' : null, job };
    },
    'DELETE /jobs/7': () => ({ status: 204 }),
    'GET /jobs/7/preview': () => ({ fireTimes: ['2999-01-01T00:30:00Z', '2999-01-01T01:00:00Z'], description: 'every 30 minutes', timezone: 'UTC' }),
    'GET /jobs': () => page([]),
    ...overrides,
  };
}

describe('job detail', () => {
  it('shows the job and its history with duration, and expands error and traceback', async () => {
    renderApp('#/jobs/7', detailRoutes());
    expect(await screen.findByTestId('job-title')).toHaveTextContent('Nightly sync');
    expect(screen.getByTestId('detail-schedule')).toHaveTextContent('every 30 minutes');
    expect(screen.getByTestId('detail-task')).toHaveTextContent('No operation (noop)');
    expect((await screen.findByTestId('job-fire-times')).querySelectorAll('li')).toHaveLength(2);
    const rows = await screen.findAllByTestId('execution-row');
    expect(rows.map((r) => r.getAttribute('data-status'))).toEqual(['failed', 'success']);
    expect(within(rows[1]!).getByTestId('execution-duration')).toHaveTextContent('4.0s');
    expect(screen.queryByTestId('execution-traceback')).not.toBeInTheDocument();

    await userEvent.click(within(rows[0]!).getByTestId('execution-toggle'));
    expect(screen.getByTestId('execution-error')).toHaveTextContent('ConnectionError: refused');
    expect(screen.getByTestId('execution-traceback')).toHaveTextContent('Traceback (most recent call last):');
    await userEvent.click(within(rows[0]!).getByTestId('execution-toggle'));
    expect(screen.queryByTestId('execution-traceback')).not.toBeInTheDocument();
  });

  it('filters the history by status', async () => {
    const { calls } = renderApp('#/jobs/7', detailRoutes());
    await screen.findAllByTestId('execution-row');
    await userEvent.selectOptions(screen.getByTestId('filter-status'), '3');
    await waitFor(() => expect(screen.getAllByTestId('execution-row')).toHaveLength(1));
    expect(calls.filter((c) => c.path === '/jobs/7/history').at(-1)?.query.get('status_id')).toBe('3');
  });

  it('performs the actions and shows their result', async () => {
    const { calls } = renderApp('#/jobs/7', detailRoutes());
    await screen.findByTestId('job-title');
    expect(screen.getByTestId('action-enable')).toBeDisabled();
    expect(screen.getByTestId('action-resume')).toBeDisabled();

    await userEvent.click(screen.getByTestId('action-trigger'));
    expect(await screen.findByTestId('action-result')).toHaveTextContent('Job triggered successfully');
    expect(screen.getByTestId('action-execution-id')).toHaveTextContent('new-run');

    await userEvent.click(screen.getByTestId('action-pause'));
    expect(await screen.findByTestId('badge-paused')).toBeInTheDocument();
    expect(screen.getByTestId('action-resume')).toBeEnabled();
    expect(screen.getByTestId('action-pause')).toBeDisabled();
    expect(calls.filter((c) => c.path === '/jobs/7/action').map((c) => c.body)).toEqual([{ action: 'trigger' }, { action: 'pause' }]);
  });

  it('shows a refused action as an error', async () => {
    renderApp('#/jobs/7', detailRoutes());
    await screen.findByTestId('job-title');
    await userEvent.click(screen.getByTestId('action-disable'));
    const error = await screen.findByTestId('action-error');
    expect(error).toHaveTextContent('Primary jobs cannot be disabled');
    expect(error).toHaveTextContent('HTTP 409');
  });

  it('deletes only after confirmation', async () => {
    const { calls } = renderApp('#/jobs/7', detailRoutes());
    await screen.findByTestId('job-title');
    await userEvent.click(screen.getByTestId('job-delete'));
    expect(screen.getByTestId('confirm-dialog')).toHaveTextContent('Nightly sync');
    await userEvent.click(screen.getByTestId('confirm-dialog-cancel'));
    expect(screen.queryByTestId('confirm-dialog')).not.toBeInTheDocument();
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false);

    await userEvent.click(screen.getByTestId('job-delete'));
    await userEvent.click(screen.getByTestId('confirm-dialog-confirm'));
    await waitFor(() => expect(window.location.hash).toBe('#/jobs?deleted=7'));
    expect(calls.filter((c) => c.method === 'DELETE').map((c) => c.path)).toEqual(['/jobs/7']);
    expect(await screen.findByTestId('job-deleted')).toBeInTheDocument();
  });

  it('shows a missing job as an error, not a blank page', async () => {
    renderApp('#/jobs/7', detailRoutes({ 'GET /jobs/7': () => ({ status: 404, body: { detail: 'Job 7 not found' } }) }));
    expect(await screen.findByTestId('error-banner')).toHaveTextContent('Job 7 not found');
  });
});

describe('actionApplies', () => {
  it('offers the actions that change something', () => {
    const running = { isEnabled: true, isPaused: false };
    expect(['enable', 'disable', 'trigger', 'pause', 'resume'].filter((a) => actionApplies(a as never, running))).toEqual(['disable', 'trigger', 'pause']);
    const paused = { isEnabled: true, isPaused: true };
    expect(actionApplies('resume', paused)).toBe(true);
    expect(actionApplies('pause', paused)).toBe(false);
  });
});
