import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { FakeCall } from '../test/fakeApi';
import { makeExecution, makeJob, page, TASKS } from '../test/fakeApi';
import { renderApp } from '../test/render';
import { defaultBackfillRange } from '../components/BackfillDialog';
import { fromLocalInput } from '../format/time';
import { actionApplies } from './JobDetail';

const AUDIT = {
  items: [
    {
      id: 2, occurredAt: '2025-01-07T11:00:00Z', actorSubject: 'alice-id', actorName: 'Alice Example', action: 'update', jobId: 7,
      target: null, changes: { priority: { before: 0, after: 5 } }, clientAddress: '203.0.113.9', requestId: 'r-2',
    },
    {
      id: 1, occurredAt: '2025-01-07T10:00:00Z', actorSubject: 'bob', actorName: null, action: 'trigger', jobId: 7,
      target: 'run-1', changes: null, clientAddress: null, requestId: 'r-1',
    },
  ],
  total: 2, page: 1, perPage: 20, totalPages: 1, nextCursor: null,
};

function detailRoutes(overrides: Record<string, (call: FakeCall) => unknown> = {}) {
  let job = makeJob({ id: 7, lastRunAt: '2025-01-07T10:00:00Z' });
  const runs = [
    makeExecution({ id: 2, jobId: 7, executionId: 'run-2', statusId: 4, statusName: 'failed', resultSummary: undefined, errorMessage: 'ConnectionError: refused', errorTraceback: 'Traceback (most recent call last):\n  File "x.py"\nConnectionError: refused' }),
    makeExecution({ id: 1, jobId: 7, executionId: 'run-1', durationMs: 4000 }),
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
    'GET /jobs/7/audit': () => AUDIT,
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

  it('lists who changed what in the job\'s Changes section', async () => {
    renderApp('#/jobs/7', detailRoutes());
    const rows = await within(await screen.findByTestId('job-changes')).findAllByTestId('change-row');
    expect(rows.map((r) => r.getAttribute('data-action'))).toEqual(['update', 'trigger']);
    expect(within(rows[0]!).getByTestId('change-who')).toHaveTextContent('Alice Example (alice-id)');
    expect(within(rows[0]!).getByTestId('change-what')).toHaveTextContent('priority: 0 → 5');
    expect(within(rows[1]!).getByTestId('change-who')).toHaveTextContent('bob');
    expect(within(rows[1]!).getByTestId('change-what')).toHaveTextContent('run-1');
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

describe('job detail: run control', () => {
  const selfPaused = () =>
    makeJob({
      id: 7,
      isPaused: true,
      pausedReason: 'paused after 3 consecutive failed run(s) (pause_after_failures=3); resume it to go on',
      consecutiveFailures: 3,
      pauseAfterFailures: 3,
      maxRetries: 2,
      retryDelaySeconds: 10,
      retryBackoffFactor: 2,
      retryMaxDelaySeconds: 3600,
      overlapPolicy: 'queue',
    });

  it('shows why the job paused itself, and resume clears it', async () => {
    let job = selfPaused();
    const { calls } = renderApp(
      '#/jobs/7',
      detailRoutes({
        'GET /jobs/7': () => job,
        'POST /jobs/7/action': () => {
          job = { ...job, isPaused: false, pausedReason: undefined, consecutiveFailures: 0 };
          return { success: true, message: 'Job resumed', executionId: null, job };
        },
      }),
    );
    const banner = await screen.findByTestId('paused-reason');
    expect(banner).toHaveTextContent('The scheduler paused this job');
    expect(screen.getByTestId('paused-reason-text')).toHaveTextContent('paused after 3 consecutive failed run(s)');
    expect(screen.getByTestId('badge-paused')).toHaveAttribute('title', job.pausedReason);
    expect(screen.getByTestId('detail-consecutive-failures')).toHaveTextContent('3');
    expect(screen.getByTestId('detail-retries')).toHaveTextContent('2, after 10 s, ×2 each, at most 3600 s');
    expect(screen.getByTestId('detail-overlap')).toHaveTextContent('Queue: The new run waits for a free place');
    expect(screen.getByTestId('detail-pause-after')).toHaveTextContent('after 3 failed run(s) in a row');

    await userEvent.click(screen.getByTestId('paused-reason-resume'));
    await waitFor(() => expect(screen.queryByTestId('paused-reason')).not.toBeInTheDocument());
    expect(screen.queryByTestId('badge-paused')).not.toBeInTheDocument();
    expect(screen.getByTestId('detail-consecutive-failures')).toHaveTextContent('0');
    expect(calls.filter((c) => c.path === '/jobs/7/action').map((c) => c.body)).toEqual([{ action: 'resume' }]);
  });

  it('shows no reason for a job paused by hand', async () => {
    renderApp('#/jobs/7', detailRoutes({ 'GET /jobs/7': () => makeJob({ id: 7, isPaused: true }) }));
    await screen.findByTestId('badge-paused');
    expect(screen.queryByTestId('paused-reason')).not.toBeInTheDocument();
    expect(screen.getByTestId('detail-retries')).toHaveTextContent('none');
    expect(screen.getByTestId('detail-pause-after')).toHaveTextContent('never');
  });

  it('previews the fire times from a date', async () => {
    const { calls } = renderApp('#/jobs/7', detailRoutes());
    await screen.findByTestId('job-fire-times');
    await waitFor(() => expect(calls.some((c) => c.path === '/jobs/7/preview')).toBe(true));
    expect(calls.find((c) => c.path === '/jobs/7/preview')?.query.has('from')).toBe(false);
    fireEvent.change(screen.getByTestId('preview-from'), { target: { value: '2027-03-27T00:00' } });
    await waitFor(() => expect(calls.filter((c) => c.path === '/jobs/7/preview').at(-1)?.query.get('from')).toBe(fromLocalInput('2027-03-27T00:00')));
  });
});

describe('backfill dialog', () => {
  const setRange = (from: string, to: string): void => {
    fireEvent.change(screen.getByTestId('field-from'), { target: { value: from } });
    fireEvent.change(screen.getByTestId('field-to'), { target: { value: to } });
  };

  it('backfills a range and shows how many runs it created and how many slots had one', async () => {
    const { calls } = renderApp(
      '#/jobs/7',
      detailRoutes({
        'POST /jobs/7/backfill': () => ({ success: true, message: '24 run(s) created for 25 slot(s); 1 had a run', slots: 25, created: 24, existing: 1, executionIds: [] }),
      }),
    );
    await userEvent.click(await screen.findByTestId('action-backfill'));
    const dialog = screen.getByTestId('backfill-dialog');
    // It opens on the last day, to the minute.
    expect(screen.getByTestId('field-from')).toHaveValue(defaultBackfillRange(new Date()).from);
    setRange('2025-01-01T00:00', '2025-01-02T00:00');
    const historyCalls = calls.filter((c) => c.path === '/jobs/7/history').length;
    await userEvent.click(within(dialog).getByTestId('backfill-submit'));

    const result = await screen.findByTestId('backfill-result');
    expect(result).toHaveTextContent('24 run(s) created; 1 slot(s) already had a run (25 in the range).');
    expect(result).toHaveAttribute('data-created', '24');
    expect(calls.find((c) => c.path === '/jobs/7/backfill')?.body).toEqual({ from: fromLocalInput('2025-01-01T00:00'), to: fromLocalInput('2025-01-02T00:00') });
    // The history shows the new runs.
    await waitFor(() => expect(calls.filter((c) => c.path === '/jobs/7/history').length).toBeGreaterThan(historyCalls));

    await userEvent.click(screen.getByTestId('backfill-close'));
    expect(screen.queryByTestId('backfill-dialog')).not.toBeInTheDocument();
  });

  it('shows the API reason for a range too large or in the future at the field', async () => {
    renderApp(
      '#/jobs/7',
      detailRoutes({
        'POST /jobs/7/backfill': (call) => {
          const { to } = call.body as { to: string };
          const reason = to.startsWith('2999')
            ? 'must not be in the future: backfill runs past slots'
            : "the range holds more than 1000 slots of the job's schedule; backfill it in parts";
          return { status: 422, body: { error: 'validation_error', message: 'invalid input: to', fields: [{ field: 'to', reason }] } };
        },
      }),
    );
    await userEvent.click(await screen.findByTestId('action-backfill'));
    setRange('2025-01-01T00:00', '2999-01-01T00:00');
    await userEvent.click(screen.getByTestId('backfill-submit'));
    expect(await screen.findByTestId('error-to')).toHaveTextContent('must not be in the future');
    expect(screen.getByTestId('field-to')).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByTestId('backfill-error')).toHaveTextContent('invalid input: to');
    expect(screen.queryByTestId('backfill-result')).not.toBeInTheDocument();

    setRange('2020-01-01T00:00', '2025-01-01T00:00');
    expect(screen.queryByTestId('error-to')).not.toBeInTheDocument();
    await userEvent.click(screen.getByTestId('backfill-submit'));
    expect(await screen.findByTestId('error-to')).toHaveTextContent('more than 1000 slots');
  });

  it('shows a problem with the range as a whole, and checks the inputs before asking', async () => {
    const { calls } = renderApp(
      '#/jobs/7',
      detailRoutes({
        'POST /jobs/7/backfill': () => ({ status: 422, body: { error: 'validation_error', message: 'invalid input: body', fields: [{ field: 'body', reason: '`to` must not be before `from`' }] } }),
      }),
    );
    await userEvent.click(await screen.findByTestId('action-backfill'));
    setRange('', '2025-01-01T00:00');
    await userEvent.click(screen.getByTestId('backfill-submit'));
    expect(screen.getByTestId('error-from')).toHaveTextContent('Required.');
    expect(calls.some((c) => c.path === '/jobs/7/backfill')).toBe(false);

    setRange('2025-01-02T00:00', '2025-01-01T00:00');
    await userEvent.click(screen.getByTestId('backfill-submit'));
    expect(await screen.findByTestId('backfill-error')).toHaveTextContent('`to` must not be before `from`');
  });
});

describe('history rows: attempts, cancel and re-run', () => {
  const runs = () => [
    makeExecution({ id: 5, jobId: 7, executionId: 'run-5', statusId: 2, statusName: 'running', completedAt: undefined, durationMs: undefined, resultSummary: undefined }),
    makeExecution({
      id: 4,
      jobId: 7,
      executionId: 'run-4',
      statusId: 8,
      statusName: 'waiting',
      attempt: 2,
      firstExecutionId: 'run-2',
      startedAt: undefined,
      completedAt: undefined,
      durationMs: undefined,
      resultSummary: undefined,
      errorMessage: 'retry: attempt 2 waits 10.0 s after the previous one failed',
      releaseAt: '2025-01-07T10:05:10Z',
    }),
    makeExecution({ id: 3, jobId: 7, executionId: 'run-3', statusId: 7, statusName: 'cancelled', cancelledBy: 'user 3f1c', resultSummary: undefined, errorMessage: 'cancelled: user 3f1c' }),
    makeExecution({ id: 2, jobId: 7, executionId: 'run-2', statusId: 4, statusName: 'failed', retriedBy: 'run-4', resultSummary: undefined, errorMessage: 'TaskFailed: boom' }),
    makeExecution({ id: 1, jobId: 7, executionId: 'run-1', trigger: 'backfill' }),
  ];

  it('labels the new statuses, offers cancel on open runs and re-run on ended ones, and links a retry to its first attempt', async () => {
    renderApp('#/jobs/7', detailRoutes({ 'GET /jobs/7/history': () => page(runs()) }));
    const rows = await screen.findAllByTestId('execution-row');
    const byId = (id: string) => rows.find((row) => row.getAttribute('data-execution-id') === id)!;
    expect(within(byId('run-4')).getByTestId('execution-status')).toHaveTextContent('waiting');
    expect(within(byId('run-4')).getByTestId('execution-status')).toHaveClass('badge-teal');
    expect(within(byId('run-3')).getByTestId('execution-status')).toHaveTextContent('cancelled');
    expect(within(byId('run-3')).getByTestId('execution-status')).toHaveClass('badge-slate');
    expect(byId('run-1')).toHaveTextContent('backfill');
    for (const id of ['run-5', 'run-4']) {
      expect(within(byId(id)).getByTestId('execution-cancel')).toBeInTheDocument();
      expect(within(byId(id)).queryByTestId('execution-rerun')).not.toBeInTheDocument();
    }
    for (const id of ['run-3', 'run-2', 'run-1']) {
      expect(within(byId(id)).getByTestId('execution-rerun')).toBeInTheDocument();
      expect(within(byId(id)).queryByTestId('execution-cancel')).not.toBeInTheDocument();
    }
    // Both new statuses can be filtered on.
    expect(within(screen.getByTestId('filter-status')).getByRole('option', { name: 'cancelled' })).toHaveValue('7');
    expect(within(screen.getByTestId('filter-status')).getByRole('option', { name: 'waiting' })).toHaveValue('8');

    // The chain: attempt 2 links to attempt 1, which opens, marked.
    expect(byId('run-4')).toHaveAttribute('data-attempt', '2');
    expect(byId('run-4')).toHaveClass('row-retry');
    expect(within(byId('run-4')).getByTestId('execution-attempt')).toHaveTextContent('2');
    expect(within(byId('run-2')).queryByTestId('execution-first-attempt')).not.toBeInTheDocument();
    await userEvent.click(within(byId('run-4')).getByTestId('execution-first-attempt'));
    expect(byId('run-2')).toHaveClass('row-highlight');
    expect(screen.getByTestId('execution-error')).toHaveTextContent('TaskFailed: boom');
    expect(screen.getByTestId('execution-detail-retried-by')).toHaveTextContent('run-4');
  });

  it('cancels a run after confirmation', async () => {
    const { calls } = renderApp(
      '#/jobs/7',
      detailRoutes({
        'GET /jobs/7/history': () => page(runs()),
        'POST /jobs/7/executions/:id/action': (call) => ({
          success: true,
          message: 'Cancellation requested: the executor stops the run within a heartbeat',
          execution: makeExecution({ executionId: call.path.split('/')[4], statusId: 2, statusName: 'running', cancelRequestedAt: '2025-01-07T10:00:03Z' }),
        }),
      }),
    );
    const rows = await screen.findAllByTestId('execution-row');
    await userEvent.click(within(rows[0]!).getByTestId('execution-cancel'));
    expect(screen.getByTestId('run-action-dialog')).toHaveTextContent('Run run-5 stops');
    await userEvent.click(screen.getByTestId('run-action-dialog-cancel'));
    expect(screen.queryByTestId('run-action-dialog')).not.toBeInTheDocument();
    expect(calls.some((c) => c.path.includes('/executions/'))).toBe(false);

    await userEvent.click(within(rows[0]!).getByTestId('execution-cancel'));
    await userEvent.click(screen.getByTestId('run-action-dialog-confirm'));
    expect(await screen.findByTestId('run-action-result')).toHaveTextContent('Cancellation requested');
    expect(calls.filter((c) => c.path.includes('/executions/')).map((c) => [c.method, c.path, c.body])).toEqual([
      ['POST', '/jobs/7/executions/run-5/action', { action: 'cancel' }],
    ]);
  });

  it('re-runs an ended run, and shows the reason when the API refuses', async () => {
    let refuse = false;
    const { calls } = renderApp(
      '#/jobs/7',
      detailRoutes({
        'GET /jobs/7/history': () => page(runs()),
        'POST /jobs/7/executions/:id/action': () =>
          refuse
            ? { status: 409, body: { error: 'conflict', message: 'job 7 has 1 run(s) running (max_instances=1): a new run would only be skipped', fields: [] } }
            : { success: true, message: 'Run started again', execution: makeExecution({ executionId: 'run-6', statusId: 1, statusName: 'pending', rerunOf: 'run-1' }) },
      }),
    );
    const rows = await screen.findAllByTestId('execution-row');
    await userEvent.click(within(rows[4]!).getByTestId('execution-rerun'));
    expect(screen.getByTestId('run-action-dialog')).toHaveTextContent('linked to run run-1');
    await userEvent.click(screen.getByTestId('run-action-dialog-confirm'));
    expect(await screen.findByTestId('run-action-result')).toHaveTextContent('Run started again · run-6');
    expect(calls.filter((c) => c.path.includes('/executions/')).at(-1)).toMatchObject({ path: '/jobs/7/executions/run-1/action', body: { action: 'rerun' } });

    refuse = true;
    await userEvent.click(within(rows[3]!).getByTestId('execution-rerun'));
    await userEvent.click(screen.getByTestId('run-action-dialog-confirm'));
    const error = await screen.findByTestId('run-action-error');
    expect(error).toHaveTextContent('HTTP 409');
    expect(error).toHaveTextContent('a new run would only be skipped');
    expect(screen.queryByTestId('run-action-result')).not.toBeInTheDocument();
  });
});
