import { describe, expect, it, vi } from 'vitest';
import { fakeFetch, makeExecution, makeJob, page } from '../test/fakeApi';
import { ApiError, defaultApiBase, pageCount, SchedulerApi, stripNulls, UnauthorizedError } from './client';

function client(routes: Parameters<typeof fakeFetch>[0], token: string | null = 'tok') {
  const fake = fakeFetch(routes);
  const onUnauthorized = vi.fn();
  const api = new SchedulerApi({ baseUrl: '/api/v1/scheduler', getToken: () => token, onUnauthorized, fetch: fake.fetchImpl });
  return { api, calls: fake.calls, onUnauthorized };
}

describe('SchedulerApi', () => {
  it('sends the bearer token and the snake_case query of the reference', async () => {
    const { api, calls } = client({ 'GET /jobs': () => page([makeJob()]) });
    const result = await api.listJobs({ page: 2, perPage: 20, isEnabled: false, jobTypeId: 2 });
    expect(result.items).toHaveLength(1);
    const [call] = calls;
    expect(call?.headers.Authorization).toBe('Bearer tok');
    expect(Object.fromEntries(call?.query ?? [])).toEqual({ page: '2', per_page: '20', is_enabled: 'false', job_type_id: '2' });
  });

  it('leaves unset filters out of the query', async () => {
    const { api, calls } = client({ 'GET /history': () => page([]) });
    await api.allHistory({ page: 1 });
    expect(calls[0]?.query.toString()).toBe('page=1');
  });

  it('posts actions and job bodies as JSON', async () => {
    const { api, calls } = client({
      'POST /jobs/:id/action': () => ({ success: true, message: 'Job triggered successfully', executionId: 'e-1', job: makeJob() }),
      'POST /jobs': () => ({ status: 201, body: makeJob({ id: 9 }) }),
    });
    const result = await api.performAction(1, 'trigger');
    expect(result.executionId).toBe('e-1');
    expect(calls[0]).toMatchObject({ method: 'POST', path: '/jobs/1/action', body: { action: 'trigger' } });
    const created = await api.createJob({ taskFunctionId: 1, intervalMinutes: 5 });
    expect(created.id).toBe(9);
    expect(calls[1]?.body).toEqual({ taskFunctionId: 1, intervalMinutes: 5 });
  });

  it('on 401 calls onUnauthorized and throws UnauthorizedError', async () => {
    const { api, onUnauthorized } = client({ 'GET /jobs/:id': () => ({ status: 401, body: { error: 'unauthorized', message: 'Token expired', fields: [] } }) });
    const error = await api.getJob(3).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnauthorizedError);
    expect((error as ApiError).status).toBe(401);
    expect((error as ApiError).message).toBe('Token expired');
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
  });

  it('checkToken uses the given token and does not sign out on 401', async () => {
    const { api, calls, onUnauthorized } = client({ 'GET /status': () => ({ status: 401, body: { detail: 'Not authenticated' } }) }, null);
    await expect(api.checkToken('candidate')).rejects.toBeInstanceOf(UnauthorizedError);
    expect(calls[0]?.headers.Authorization).toBe('Bearer candidate');
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it('turns a 422 into field errors', async () => {
    const { api, onUnauthorized } = client({
      'POST /jobs': () => ({ status: 422, body: { error: 'validation_error', message: 'Invalid input', fields: [{ field: 'cronExpression', reason: 'bad cron' }] } }),
    });
    const error = (await api.createJob({ taskFunctionId: 1, cronExpression: 'x' }).catch((e: unknown) => e)) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect(error).not.toBeInstanceOf(UnauthorizedError);
    expect(error.status).toBe(422);
    expect(error.fieldErrors).toEqual({ cronExpression: 'bad cron' });
    expect(error.message).toBe('Invalid input');
    expect(error.hasFieldErrors).toBe(true);
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it('reports a network failure as status 0', async () => {
    const api = new SchedulerApi({ getToken: () => 't', fetch: () => Promise.reject(new TypeError('Failed to fetch')) });
    const error = (await api.getStatus().catch((e: unknown) => e)) as ApiError;
    expect(error.status).toBe(0);
    expect(error.message).toContain('Failed to fetch');
  });

  it('rejects a 200 that is not JSON (e.g. the SPA fallback answering an unknown API path)', async () => {
    const { api } = client({ 'GET /status': () => '<!doctype html><html></html>' });
    await expect(api.getStatus()).rejects.toThrow(/Expected JSON/);
  });

  it('accepts an empty 204 for delete', async () => {
    const { api, calls } = client({ 'DELETE /jobs/:id': () => ({ status: 204 }) });
    await expect(api.deleteJob(4)).resolves.toBeUndefined();
    expect(calls[0]?.method).toBe('DELETE');
  });

  it('turns JSON nulls into absent properties', async () => {
    const { api } = client({ 'GET /jobs/:id/history': () => page([{ ...makeExecution(), errorMessage: null, completedAt: null }]) });
    const history = await api.jobHistory(1);
    expect(history.items[0]).not.toHaveProperty('errorMessage');
    expect(history.items[0]).not.toHaveProperty('completedAt');
  });

  it('reads the server clock from the Date header of /status', async () => {
    const { api } = client({ 'GET /status': () => ({ body: { isRunning: true }, headers: { Date: 'Tue, 07 Jan 2025 10:30:00 GMT' } }) });
    const { serverTime } = await api.getStatus();
    expect(serverTime?.toISOString()).toBe('2025-01-07T10:30:00.000Z');
  });

  it('asks for a job preview with the count', async () => {
    const { api, calls } = client({ 'GET /jobs/:id/preview': () => ({ fireTimes: [], description: 'every hour', timezone: 'UTC' }) });
    await api.jobPreview(3, 5);
    expect(calls[0]?.path).toBe('/jobs/3/preview');
    expect(calls[0]?.query.get('count')).toBe('5');
    expect(calls[0]?.query.has('from')).toBe(false);
    await api.jobPreview(3, 10, undefined, '2027-03-27T00:00:00.000Z');
    expect(calls[1]?.query.toString()).toBe('count=10&from=2027-03-27T00%3A00%3A00.000Z');
  });

  it('posts a run action and a backfill to their endpoints', async () => {
    const { api, calls } = client({
      'POST /jobs/:id/executions/:eid/action': () => ({ success: true, message: 'Run started again', execution: makeExecution({ executionId: 'new', rerunOf: 'old' }) }),
      'POST /jobs/:id/backfill': () => ({ success: true, message: '2 run(s) created', slots: 3, created: 2, existing: 1, executionIds: ['a', 'b'] }),
    });
    const rerun = await api.executionAction(3, 'old', 'rerun');
    expect(rerun.execution.rerunOf).toBe('old');
    expect(calls[0]).toMatchObject({ method: 'POST', path: '/jobs/3/executions/old/action', body: { action: 'rerun' } });
    const filled = await api.backfill(3, { from: '2025-01-01T00:00:00.000Z', to: '2025-01-02T00:00:00.000Z' });
    expect(filled).toMatchObject({ created: 2, existing: 1 });
    expect(calls[1]).toMatchObject({ method: 'POST', path: '/jobs/3/backfill', body: { from: '2025-01-01T00:00:00.000Z', to: '2025-01-02T00:00:00.000Z' } });
  });

  it('reads task functions as the bare array the API documents', async () => {
    const task = { id: 1, key: 'noop', nameEn: 'No-op', nameAr: 'لا شيء' };
    expect(await client({ 'GET /task-functions': () => [task] }).api.taskFunctions()).toEqual([task]);
  });
});

describe('notification channels', () => {
  const channel = { id: 5, name: 'ops', url: 'https://hooks.example.com/x', events: ['job.paused'], jobIds: null, format: 'json', enabled: true, hasSecret: false, createdAt: '2025-01-07T10:00:00Z', updatedAt: null };

  it('creates, updates and deletes through the channel paths', async () => {
    const { api, calls } = client({
      'POST /notification-channels': () => ({ status: 201, body: channel }),
      'PUT /notification-channels/:id': () => ({ ...channel, secret: undefined, hasSecret: true }),
      'DELETE /notification-channels/:id': () => channel,
    });
    const created = await api.createChannel({ name: 'ops', url: channel.url, events: ['job.paused'], jobIds: null, secret: null });
    expect(created).not.toHaveProperty('jobIds');
    expect(calls[0]).toMatchObject({ method: 'POST', path: '/notification-channels', body: { name: 'ops', events: ['job.paused'], jobIds: null, secret: null } });
    expect((await api.updateChannel(5, { secret: 'sixteen-chars-ok' })).hasSecret).toBe(true);
    expect(calls[1]).toMatchObject({ method: 'PUT', path: '/notification-channels/5', body: { secret: 'sixteen-chars-ok' } });
    await api.deleteChannel(5);
    expect(calls[2]).toMatchObject({ method: 'DELETE', path: '/notification-channels/5' });
  });

  it("lists a channel's deliveries with the status filter", async () => {
    const { api, calls } = client({ 'GET /notification-channels/:id/deliveries': () => page([]) });
    await api.channelDeliveries(5, { page: 2, perPage: 10, status: 'failed' });
    expect(calls[0]?.path).toBe('/notification-channels/5/deliveries');
    expect(calls[0]?.query.toString()).toBe('page=2&per_page=10&status=failed');
  });

  it('shows every field error of a 422 at once, and a 409 reason as the message', async () => {
    const fields = [
      { field: 'name', reason: 'String should have at least 1 character' },
      { field: 'url', reason: 'String should match pattern' },
      { field: 'events', reason: 'List should have at least 1 item' },
    ];
    const { api } = client({
      'POST /notification-channels': () => ({ status: 422, body: { error: 'validation_error', message: 'Invalid input', fields } }),
      'POST /jobs/:id/executions/:eid/action': () => ({ status: 409, body: { error: 'conflict', message: 'The run has ended: nothing to cancel', fields: [] } }),
    });
    const invalid = (await api.createChannel({ name: '', url: 'x', events: [] }).catch((e: unknown) => e)) as ApiError;
    expect(invalid.fieldErrors).toEqual({ name: fields[0]?.reason, url: fields[1]?.reason, events: fields[2]?.reason });
    expect(invalid.path).toBe('/notification-channels');
    const conflict = (await api.executionAction(1, 'e-1', 'cancel').catch((e: unknown) => e)) as ApiError;
    expect(conflict).toMatchObject({ status: 409, message: 'The run has ended: nothing to cancel', method: 'POST', path: '/jobs/1/executions/e-1/action' });
  });
});

describe('stripNulls', () => {
  it('removes null properties deeply but keeps array elements', () => {
    expect(stripNulls({ a: null, b: { c: null, d: 1 }, e: [null, { f: null }] })).toEqual({ b: { d: 1 }, e: [null, {}] });
  });
});

describe('pageCount', () => {
  it('prefers totalPages, else computes it', () => {
    expect(pageCount({ total: 50, totalPages: 3 }, 20)).toBe(3);
    expect(pageCount({ total: 50 }, 20)).toBe(3);
    expect(pageCount({ total: 0 }, 20)).toBe(1);
  });
});

describe('defaultApiBase', () => {
  it('puts the API next to the dashboard, under the prefix a gateway serves it at', () => {
    expect(defaultApiBase('http://127.0.0.1:8000/')).toBe('/api/v1/scheduler');
    expect(defaultApiBase('https://gw.example/scheduler/')).toBe('/scheduler/api/v1/scheduler');
    expect(defaultApiBase('https://gw.example/scheduler/index.html')).toBe('/scheduler/api/v1/scheduler');
    expect(defaultApiBase('https://gw.example/tools/scheduler/#/jobs/7')).toBe('/tools/scheduler/api/v1/scheduler');
  });

  it('follows the <base href> the API injects, so a deep link calls the same API', async () => {
    const base = document.createElement('base');
    base.href = '/scheduler/';
    document.head.append(base);
    try {
      const fake = fakeFetch({ 'GET /jobs': () => page([]) });
      const api = new SchedulerApi({ getToken: () => 'tok', fetch: fake.fetchImpl });
      expect(api.url('/jobs')).toBe('/scheduler/api/v1/scheduler/jobs');
    } finally {
      base.remove();
    }
    expect(new SchedulerApi({ getToken: () => null }).url('/jobs')).toBe('/api/v1/scheduler/jobs');
  });
});
