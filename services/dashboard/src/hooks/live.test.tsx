import { act, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { makeExecution, makeJob, page, TASKS } from '../test/fakeApi';
import { renderApp } from '../test/render';

function setVisibility(state: 'visible' | 'hidden'): void {
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state });
  document.dispatchEvent(new Event('visibilitychange'));
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('live updates', () => {
  afterEach(() => setVisibility('visible'));

  it('refetch the jobs list while visible, not while the tab is hidden, and at once when it shows again', async () => {
    const { calls } = renderApp('#/jobs', { 'GET /jobs': () => page([makeJob()]), 'GET /task-functions': () => TASKS }, { refreshMs: 40 });
    await screen.findAllByTestId('job-row');
    const listCalls = (): number => calls.filter((c) => c.path === '/jobs').length;
    await waitFor(() => expect(listCalls()).toBeGreaterThanOrEqual(3));

    act(() => setVisibility('hidden'));
    await sleep(60); // a request in flight when the tab hid may still land
    const hiddenAt = listCalls();
    await sleep(300);
    expect(listCalls()).toBe(hiddenAt);

    act(() => setVisibility('visible'));
    await waitFor(() => expect(listCalls()).toBeGreaterThan(hiddenAt));
  });

  it('show a run that finished on the job page without a reload', async () => {
    let status: 'running' | 'succeeded' = 'running';
    let job = makeJob({ id: 1, nameEn: 'Sync', lastRunAt: undefined });
    renderApp(
      '#/jobs/1',
      {
        'GET /jobs/1': () => job,
        'GET /task-functions': () => TASKS,
        'GET /jobs/1/preview': () => ({ jobId: 1, fireTimes: [] }),
        'GET /jobs/1/history': () =>
          page([makeExecution({ statusName: status, statusId: status === 'running' ? 2 : 3, executionId: 'run-1' })]),
      },
      { refreshMs: 40 },
    );
    expect(await screen.findByTestId('execution-status')).toHaveTextContent(/running/i);
    expect(screen.getByTestId('detail-last-run')).toHaveTextContent('never');
    status = 'succeeded';
    job = { ...job, lastRunAt: new Date().toISOString() };
    await waitFor(() => expect(screen.getByTestId('detail-last-run')).not.toHaveTextContent('never'));
    await waitFor(() => expect(screen.getByTestId('execution-status')).toHaveTextContent(/succeeded/i), { timeout: 4000 });
  });
});
