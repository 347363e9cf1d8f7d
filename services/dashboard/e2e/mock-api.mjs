#!/usr/bin/env node
// An in-memory stand-in for the scheduler API (the reference's contract, plus the endpoints the dashboard
// assumes), serving dist/ at "/" like the real API. For developing the dashboard and for exercising the
// end-to-end script before the Python API exists. NOT the product: no real scheduling, no persistence.
//
//   node e2e/mock-api.mjs            # PORT (default 8765), TOKEN (default "dev-token")
import http from 'node:http';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { serveStatic } from './static-server.mjs';

const PREFIX = '/api/v1/scheduler';
const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist');

const TASKS = [
  { id: 1, key: 'noop', nameEn: 'No operation', nameAr: 'بدون عملية', descriptionEn: 'Does nothing and succeeds.', descriptionAr: 'لا يفعل شيئًا وينجح.', isActive: true,
    parametersSchema: { additionalProperties: false, properties: {}, title: 'NoParameters', type: 'object' } },
  { id: 2, key: 'sleep', nameEn: 'Sleep', nameAr: 'انتظار', descriptionEn: 'Sleeps, then succeeds.', descriptionAr: 'ينتظر ثم ينجح.', isActive: true,
    parametersSchema: { additionalProperties: false, properties: { seconds: { default: 1, description: 'How long to sleep, in seconds.', maximum: 86400, minimum: 0, title: 'Seconds', type: 'number' } }, title: 'SleepParams', type: 'object' } },
  { id: 3, key: 'fail', nameEn: 'Fail', nameAr: 'فشل', descriptionEn: 'Always raises.', descriptionAr: 'يفشل دائمًا.', isActive: true,
    parametersSchema: { additionalProperties: false, properties: { message: { default: 'failed on purpose', maxLength: 1000, title: 'Message', type: 'string' } }, title: 'FailParams', type: 'object' } },
  { id: 4, key: 'http_request', nameEn: 'HTTP request', nameAr: 'طلب HTTP', descriptionEn: 'Sends an HTTP request.', descriptionAr: 'يرسل طلب HTTP.', isActive: true,
    parametersSchema: {
      additionalProperties: false, title: 'HttpRequestParams', type: 'object', required: ['url'],
      properties: {
        method: { default: 'GET', enum: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'], title: 'Method', type: 'string' },
        url: { format: 'uri', maxLength: 2083, minLength: 1, title: 'Url', type: 'string' },
        headers: { additionalProperties: { type: 'string' }, title: 'Headers', type: 'object' },
        body: { anyOf: [{ type: 'string' }, { type: 'null' }], default: null, description: 'Request body, sent as is.', title: 'Body' },
        json_body: { anyOf: [{ additionalProperties: true, type: 'object' }, { items: {}, type: 'array' }, { type: 'null' }], default: null, description: 'Body sent as JSON.', title: 'Json Body' },
        timeout_seconds: { default: 30, exclusiveMinimum: 0, maximum: 3600, title: 'Timeout Seconds', type: 'number' },
      },
    } },
];
const STATUS_NAMES = { 1: 'pending', 2: 'running', 3: 'success', 4: 'failed', 5: 'missed', 6: 'skipped' };

const instanceId = randomUUID();
const startedAt = new Date();
const jobs = new Map();
const executions = [];
let nextJobId = 1;
let nextExecutionId = 1;

const nowIso = () => new Date().toISOString();

// ----- schedule maths (enough for a mock: UTC only) ------------------------------------------------------

function intervalSeconds(j) {
  const parts = [j.intervalSeconds, j.intervalMinutes, j.intervalHours, j.intervalDays];
  if (parts.every((v) => v === undefined || v === null)) return undefined;
  return (j.intervalSeconds ?? 0) + (j.intervalMinutes ?? 0) * 60 + (j.intervalHours ?? 0) * 3600 + (j.intervalDays ?? 0) * 86400;
}

const ALIASES = { '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *', '@monthly': '0 0 1 * *', '@weekly': '0 0 * * 0', '@daily': '0 0 * * *', '@midnight': '0 0 * * *', '@hourly': '0 * * * *' };

function cronMatcher(expression) {
  const fields = (ALIASES[expression.trim().toLowerCase()] ?? expression.trim()).split(/\s+/);
  if (fields.length !== 5) return undefined;
  const ranges = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 7]];
  const sets = [];
  for (let i = 0; i < 5; i += 1) {
    const [min, max] = ranges[i];
    const set = new Set();
    for (const part of fields[i].split(',')) {
      const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
      if (!m) return undefined;
      const from = m[1] === '*' ? min : Number(m[2]);
      const to = m[1] === '*' ? max : m[3] !== undefined ? Number(m[3]) : m[4] ? max : from;
      const step = m[4] ? Number(m[4]) : 1;
      if (from < min || to > max || from > to || step < 1) return undefined;
      for (let v = from; v <= to; v += step) set.add(i === 4 && v === 7 ? 0 : v);
    }
    sets.push(set);
  }
  return (d) => sets[0].has(d.getUTCMinutes()) && sets[1].has(d.getUTCHours()) && sets[2].has(d.getUTCDate()) && sets[3].has(d.getUTCMonth() + 1) && sets[4].has(d.getUTCDay());
}

function fireTimes(j, count, after = new Date()) {
  const out = [];
  const period = intervalSeconds(j);
  if (period) {
    for (let i = 1; i <= count; i += 1) out.push(new Date(after.getTime() + i * period * 1000).toISOString());
    return out;
  }
  const match = cronMatcher(j.cronExpression ?? '');
  if (!match) return out;
  const t = new Date(after.getTime());
  t.setUTCSeconds(0, 0);
  for (let i = 0; i < 60 * 24 * 366 * 2 && out.length < count; i += 1) {
    t.setTime(t.getTime() + 60_000);
    if (match(t)) out.push(t.toISOString());
  }
  return out;
}

function validateSchedule(j, errors) {
  const period = intervalSeconds(j);
  const cron = j.cronExpression;
  if (cron && period !== undefined) errors.push({ field: 'cronExpression', message: 'give either a cron expression or an interval, not both' });
  else if (!cron && period === undefined) errors.push({ field: 'intervalSeconds', message: 'a job needs a schedule: set cronExpression, or at least one interval field' });
  else if (period !== undefined && period <= 0) errors.push({ field: 'intervalMinutes', message: 'the interval adds up to 0 seconds; at least one field must be > 0' });
  else if (cron && !cronMatcher(cron)) errors.push({ field: 'cronExpression', message: `'${cron}' is not a valid cron expression: expected 5 fields (minute hour day month weekday)` });
  if (cron && j.timezone && !/^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$|^UTC$/.test(j.timezone)) errors.push({ field: 'timezone', message: `unknown time zone '${j.timezone}'` });
}

function describe(j) {
  const period = intervalSeconds(j);
  return period ? `every ${period} seconds` : `cron ${j.cronExpression} (${j.timezone ?? 'UTC'})`;
}

function previewOf(j, count) {
  const cron = Boolean(j.cronExpression);
  return { jobTypeId: cron ? 2 : 1, jobTypeName: cron ? 'cron' : 'interval', description: describe(j), timezone: j.timezone ?? 'UTC', fireTimes: fireTimes(j, count) };
}

// ----- jobs ----------------------------------------------------------------------------------------------

const WRITABLE = ['nameEn', 'nameAr', 'descriptionEn', 'descriptionAr', 'intervalSeconds', 'intervalMinutes', 'intervalHours', 'intervalDays', 'cronExpression', 'timezone', 'priority', 'maxInstances', 'misfireGraceTime', 'coalesce', 'isEnabled', 'parameters', 'timeoutSeconds'];

function present(job) {
  const task = TASKS.find((t) => t.id === job.taskFunctionId);
  const full = {
    nameEn: null, nameAr: null, descriptionEn: null, descriptionAr: null, cronExpression: null,
    intervalSeconds: null, intervalMinutes: null, intervalHours: null, intervalDays: null, parameters: null,
    lastRunAt: null, nextRunAt: null, updatedAt: null, ...job,
  };
  full.taskFunctionKey = task?.key ?? '?';
  full.jobTypeId = job.cronExpression ? 2 : 1;
  full.jobTypeName = job.cronExpression ? 'cron' : 'interval';
  full.nextRunAt = job.isEnabled && !job.isPaused ? (fireTimes(job, 1)[0] ?? null) : null;
  full.scheduleDescription = describe(job);
  full.timeoutSeconds = job.timeoutSeconds ?? null;
  return full;
}

function validateJob(j, creating) {
  const errors = [];
  if (creating && !TASKS.some((t) => t.id === j.taskFunctionId)) errors.push({ field: 'taskFunctionId', message: `task function ${j.taskFunctionId} does not exist` });
  validateSchedule(j, errors);
  if (!Number.isInteger(j.maxInstances) || j.maxInstances < 1 || j.maxInstances > 10) errors.push({ field: 'maxInstances', message: 'must be between 1 and 10' });
  if (!Number.isInteger(j.misfireGraceTime) || j.misfireGraceTime < 0) errors.push({ field: 'misfireGraceTime', message: 'must be 0 or more seconds' });
  const task = TASKS.find((t) => t.id === j.taskFunctionId);
  const props = task?.parametersSchema.properties ?? {};
  for (const key of Object.keys(j.parameters ?? {})) if (!(key in props)) errors.push({ field: `parameters.${key}`, message: 'extra inputs are not permitted' });
  for (const key of task?.parametersSchema.required ?? []) if (!j.parameters || !(key in j.parameters)) errors.push({ field: `parameters.${key}`, message: 'field required' });
  const url = j.parameters?.url;
  if (typeof url === 'string' && !/^https?:\/\/\S+$/.test(url)) errors.push({ field: 'parameters.url', message: 'Input should be a valid URL' });
  return errors;
}

// ----- executions ----------------------------------------------------------------------------------------

function runNow(job, trigger) {
  const task = TASKS.find((t) => t.id === job.taskFunctionId);
  const execution = {
    id: nextExecutionId++, jobId: job.id, executionId: randomUUID(), scheduledAt: nowIso(), startedAt: null, completedAt: null,
    durationMs: null, statusId: 1, statusName: 'pending', errorMessage: null, errorTraceback: null, resultSummary: null,
    executorId: '', hostName: '', trigger, coalescedCount: 1,
  };
  executions.push(execution);
  const seconds = task?.key === 'sleep' ? Number(job.parameters?.seconds ?? 1) : 0.6;
  setTimeout(() => {
    Object.assign(execution, { statusId: 2, statusName: 'running', startedAt: nowIso(), executorId: instanceId, hostName: 'mock-host' });
    setTimeout(() => {
      const failed = task?.key === 'fail';
      Object.assign(execution, {
        statusId: failed ? 4 : 3, statusName: failed ? 'failed' : 'success', completedAt: nowIso(),
        durationMs: Date.parse(nowIso()) - Date.parse(execution.startedAt),
        resultSummary: failed ? null : task?.key === 'sleep' ? `slept ${seconds} s` : 'nothing to do',
        errorMessage: failed ? String(job.parameters?.message ?? 'failed on purpose') : null,
        errorTraceback: failed ? `Traceback (most recent call last):\n  File "scheduler_core/tasks/builtin.py", line 71, in fail\n    raise TaskFailed(params.message)\nTaskFailed: ${job.parameters?.message ?? 'failed on purpose'}` : null,
      });
      job.lastRunAt = execution.startedAt;
    }, Math.max(200, seconds * 1000));
  }, 300);
  return execution;
}

function page(items, url) {
  const p = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
  const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? 20) || 20));
  return { items: items.slice((p - 1) * perPage, p * perPage), total: items.length, page: p, perPage, totalPages: Math.max(1, Math.ceil(items.length / perPage)) };
}

function history(url, jobId) {
  const status = url.searchParams.get('status_id');
  const items = executions.filter((e) => (jobId === undefined || e.jobId === jobId) && (!status || e.statusId === Number(status))).slice().reverse();
  return page(items, url);
}

// ----- HTTP ----------------------------------------------------------------------------------------------

const ERROR_KINDS = { 401: 'unauthorized', 404: 'not_found', 409: 'conflict', 422: 'validation_error', 500: 'internal_error' };

/** The API's one error body: {error, message, fields: [{field, reason}]}. */
function fail(response, status, message, fields = []) {
  return send(response, status, { error: ERROR_KINDS[status] ?? 'error', message, fields });
}

function invalid(response, errors) {
  return fail(response, 422, 'Invalid input', errors.map(({ field, message }) => ({ field, reason: message })));
}

function send(response, status, body) {
  if (body === undefined) return response.writeHead(status).end();
  const text = JSON.stringify(body);
  response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), Date: new Date().toUTCString() });
  return response.end(text);
}

async function readJson(request) {
  let raw = '';
  for await (const chunk of request) raw += chunk;
  if (!raw) return {};
  return JSON.parse(raw);
}

export function createMockApi({ token = 'dev-token', dist = DIST } = {}) {
  return http.createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    try {
      if (!url.pathname.startsWith(PREFIX)) {
        if (await serveStatic(dist, request, response)) return;
        return fail(response, 404, `no such endpoint: ${url.pathname}`);
      }
      if (request.headers.authorization !== `Bearer ${token}`) return fail(response, 401, 'Missing or invalid bearer token');
      const route = url.pathname.slice(PREFIX.length);
      const method = request.method;
      let m;

      if (route === '/jobs' && method === 'GET') {
        const enabled = url.searchParams.get('is_enabled');
        const type = url.searchParams.get('job_type_id');
        const list = [...jobs.values()].filter((j) => j.isActive).map(present)
          .filter((j) => (enabled === null || String(j.isEnabled) === enabled) && (!type || j.jobTypeId === Number(type)))
          .sort((a, b) => b.priority - a.priority || a.id - b.id);
        return send(response, 200, page(list, url));
      }
      if (route === '/jobs' && method === 'POST') {
        const body = await readJson(request);
        const job = {
          id: nextJobId, taskFunctionId: body.taskFunctionId, priority: 0, maxInstances: 1, misfireGraceTime: 60, coalesce: true,
          isEnabled: true, isActive: true, isPrimary: false, isPaused: false, timezone: 'UTC', createdAt: nowIso(),
        };
        for (const key of WRITABLE) if (body[key] !== undefined && body[key] !== null) job[key] = body[key];
        const errors = validateJob(job, true);
        if (errors.length) return invalid(response, errors);
        nextJobId += 1;
        jobs.set(job.id, job);
        return send(response, 201, present(job));
      }
      if ((m = /^\/jobs\/(\d+)$/.exec(route))) {
        const job = jobs.get(Number(m[1]));
        if (!job || !job.isActive) return fail(response, 404, `job ${m[1]} does not exist`);
        if (method === 'GET') return send(response, 200, present(job));
        if (method === 'DELETE') {
          job.isActive = false;
          return send(response, 200, present(job));
        }
        if (method === 'PUT') {
          const body = await readJson(request);
          const next = { ...job };
          for (const key of WRITABLE) if (key in body) next[key] = body[key] === null ? undefined : body[key];
          if (body.taskFunctionId !== undefined) next.taskFunctionId = body.taskFunctionId;
          const errors = validateJob(next, body.taskFunctionId !== undefined);
          if (errors.length) return invalid(response, errors);
          Object.assign(job, next, { updatedAt: nowIso() });
          for (const key of WRITABLE) if (job[key] === undefined) delete job[key];
          return send(response, 200, present(job));
        }
      }
      if ((m = /^\/jobs\/(\d+)\/action$/.exec(route)) && method === 'POST') {
        const job = jobs.get(Number(m[1]));
        if (!job || !job.isActive) return fail(response, 404, `job ${m[1]} does not exist`);
        const { action } = await readJson(request);
        let executionId = null;
        switch (action) {
          case 'enable': job.isEnabled = true; break;
          case 'disable': job.isEnabled = false; break;
          case 'pause': job.isPaused = true; break;
          case 'resume': job.isPaused = false; break;
          case 'trigger': executionId = runNow(job, 'manual').executionId; break;
          default: return invalid(response, [{ field: 'action', message: `unknown action '${action}'` }]);
        }
        const messages = { enable: 'Job enabled', disable: 'Job disabled', pause: 'Job paused', resume: 'Job resumed', trigger: 'Job triggered successfully' };
        return send(response, 200, { success: true, message: messages[action], executionId, job: present(job) });
      }
      if ((m = /^\/jobs\/(\d+)\/preview$/.exec(route)) && method === 'GET') {
        const job = jobs.get(Number(m[1]));
        if (!job || !job.isActive) return fail(response, 404, `job ${m[1]} does not exist`);
        return send(response, 200, previewOf(job, Math.min(50, Number(url.searchParams.get('count') ?? 5))));
      }
      if ((m = /^\/jobs\/(\d+)\/history$/.exec(route)) && method === 'GET') return send(response, 200, history(url, Number(m[1])));
      if (route === '/history' && method === 'GET') return send(response, 200, history(url, undefined));
      if (route === '/status' && method === 'GET') {
        const active = [...jobs.values()].filter((j) => j.isActive);
        const heartbeat = new Date(Date.now() - 2000).toISOString();
        const running = executions.filter((e) => e.statusId === 2);
        return send(response, 200, {
          isRunning: true, mode: 'embedded', instanceId, activeInstances: 1, totalJobs: active.length,
          enabledJobs: active.filter((j) => j.isEnabled).length, runningExecutions: running.length,
          lastHeartbeat: heartbeat,
          instances: [{ id: instanceId, name: 'embedded-1', hostName: 'mock-host', processId: process.pid, mode: 'embedded', role: 'embedded', status: 'running', lastHeartbeat: heartbeat, startedAt: startedAt.toISOString(), heartbeatAgeSeconds: 2, isLive: true }],
          executionsInProgress: running,
        });
      }
      if (route === '/task-functions' && method === 'GET') return send(response, 200, TASKS);
      if (route === '/job-types' && method === 'GET') return send(response, 200, [{ id: 1, name: 'interval', nameEn: 'Interval', nameAr: 'فاصل زمني' }, { id: 2, name: 'cron', nameEn: 'Cron', nameAr: 'كرون' }]);
      if (route === '/execution-statuses' && method === 'GET') return send(response, 200, Object.entries(STATUS_NAMES).map(([id, name]) => ({ id: Number(id), name, nameEn: name, nameAr: name })));
      if (route === '/schedule/preview' && method === 'POST') {
        const body = await readJson(request);
        const errors = [];
        validateSchedule(body, errors);
        if (errors.length) return invalid(response, errors);
        return send(response, 200, previewOf(body, Math.min(50, body.count ?? 5)));
      }
      return fail(response, 404, `no such endpoint: ${url.pathname}`);
    } catch (error) {
      return fail(response, 500, `mock error: ${error instanceof Error ? error.message : String(error)}`);
    }
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const port = Number(process.env.PORT ?? 8765);
  const token = process.env.TOKEN ?? 'dev-token';
  createMockApi({ token }).listen(port, '127.0.0.1', () => {
    console.log(`mock scheduler API + dashboard on http://127.0.0.1:${port}/ (token: ${token})`);
  });
}
