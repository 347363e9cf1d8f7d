import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { makeExecution, makeJob, makeStatus, page } from '../test/fakeApi';
import { renderApp } from '../test/render';

const now = Date.now();
const iso = (secondsAgo: number) => new Date(now - secondsAgo * 1000).toISOString();

describe('status page', () => {
  it('shows the summary, instances with mode, status and heartbeat age, and running executions', async () => {
    const { calls } = renderApp('#/status', {
      'GET /status': () => ({
        ...makeStatus({
          totalJobs: 15,
          enabledJobs: 12,
          runningExecutions: 1,
          lastHeartbeat: iso(3),
          executionsInProgress: [makeExecution({ executionId: 'live-1', statusId: 2, statusName: 'running', completedAt: undefined, durationMs: undefined })],
        }),
        // Raw JSON (the handler's answer is not typed): an older API's instance without heartbeatAgeSeconds.
        instances: [
          { id: 'inst-1', name: 'api-1', hostName: 'node-a', processId: 42, mode: 'standalone', role: 'timekeeper', status: 'running', lastHeartbeat: iso(5), startedAt: iso(3600), heartbeatAgeSeconds: 5, isLive: true },
          // No heartbeatAgeSeconds: the age comes from lastHeartbeat.
          { id: 'inst-2', name: 'executor-9', hostName: 'node-b', mode: 'standalone', role: 'executor', status: 'running', lastHeartbeat: iso(400), startedAt: iso(7200) },
        ],
      }),
      'GET /jobs': () => page([makeJob({ id: 1, nameEn: 'Nightly sync' })]),
    });
    expect(await screen.findByTestId('status-total-jobs')).toHaveTextContent('15');
    expect(screen.getByTestId('status-enabled-jobs')).toHaveTextContent('12');
    expect(screen.getByTestId('status-mode')).toHaveTextContent('embedded');
    const rows = screen.getAllByTestId('instance-row');
    expect(rows).toHaveLength(2);
    expect(rows[0]).toHaveTextContent('node-a / 42');
    expect(rows[0]).toHaveTextContent('standalone');
    expect(within(rows[0]!).getByTestId('instance-heartbeat-age')).toHaveTextContent(/^[5-7]s$/);
    // A silent instance is flagged.
    expect(within(rows[1]!).getByTestId('instance-heartbeat-age')).toHaveTextContent(/6m/);
    expect(within(rows[1]!).getByTestId('instance-heartbeat-age')).toHaveClass('error-text');
    const running = screen.getByTestId('running-row');
    expect(running).toHaveAttribute('data-execution-id', 'live-1');
    expect(await within(running).findByText('Nightly sync')).toBeInTheDocument();
    // The runs in progress come with the status: no extra history call.
    expect(calls.some((c) => c.path === '/history')).toBe(false);
    expect(screen.getByTestId('status-autorefresh')).toBeChecked();
  });

  it('flags an instance the API says is not live', async () => {
    renderApp('#/status', {
      'GET /status': () =>
        makeStatus({
          instances: [{ id: 'i', name: 'tk', hostName: 'h', processId: 1, mode: 'standalone', role: 'timekeeper', status: 'running', lastHeartbeat: iso(9), startedAt: iso(60), heartbeatAgeSeconds: 9, isLive: false }],
          executionsInProgress: [],
        }),
      'GET /jobs': () => page([]),
    });
    expect(await screen.findByTestId('instance-heartbeat-age')).toHaveClass('error-text');
  });

  it('shows the runs in progress the status carries, without asking the history', async () => {
    const { calls } = renderApp('#/status', { 'GET /status': () => makeStatus(), 'GET /jobs': () => page([]) });
    expect(await screen.findByTestId('running-empty')).toBeInTheDocument();
    expect(calls.some((c) => c.path === '/history')).toBe(false);
  });

  it('has empty states', async () => {
    renderApp('#/status', { 'GET /status': () => makeStatus({ instances: [], executionsInProgress: [] }), 'GET /jobs': () => page([]) });
    expect(await screen.findByTestId('instances-empty')).toBeInTheDocument();
    expect(screen.getByTestId('running-empty')).toBeInTheDocument();
  });

  it('shows the API error', async () => {
    renderApp('#/status', { 'GET /status': () => ({ status: 500, body: 'Internal Server Error' }), 'GET /history': () => page([]), 'GET /jobs': () => page([]) });
    expect(await screen.findByTestId('error-banner')).toHaveTextContent('Internal Server Error');
  });
});
