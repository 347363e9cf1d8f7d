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
const STATUS_NAMES = { 1: 'pending', 2: 'running', 3: 'success', 4: 'failed', 5: 'missed', 6: 'skipped', 7: 'cancelled', 8: 'waiting' };
const OPEN = new Set([1, 2, 8]);
const MAX_BACKFILL_SLOTS = 1000;

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

const WRITABLE = ['nameEn', 'nameAr', 'descriptionEn', 'descriptionAr', 'intervalSeconds', 'intervalMinutes', 'intervalHours', 'intervalDays', 'cronExpression', 'timezone', 'priority', 'maxInstances', 'misfireGraceTime', 'coalesce', 'isEnabled', 'parameters', 'timeoutSeconds',
  'maxRetries', 'retryDelaySeconds', 'retryBackoffFactor', 'retryMaxDelaySeconds', 'overlapPolicy', 'pauseAfterFailures'];
// Run control's defaults (the API's).
const RUN_CONTROL = { maxRetries: 0, retryDelaySeconds: 10, retryBackoffFactor: 2, retryMaxDelaySeconds: 3600, overlapPolicy: 'skip', pauseAfterFailures: 0 };

function present(job) {
  const task = TASKS.find((t) => t.id === job.taskFunctionId);
  const full = {
    nameEn: null, nameAr: null, descriptionEn: null, descriptionAr: null, cronExpression: null,
    intervalSeconds: null, intervalMinutes: null, intervalHours: null, intervalDays: null, parameters: null,
    lastRunAt: null, nextRunAt: null, updatedAt: null, pausedReason: null, consecutiveFailures: 0, ...RUN_CONTROL, ...job,
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
  const rc = { ...RUN_CONTROL, ...j };
  if (!Number.isInteger(rc.maxRetries) || rc.maxRetries < 0 || rc.maxRetries > 10) errors.push({ field: 'maxRetries', message: 'Input should be less than or equal to 10' });
  if (typeof rc.retryBackoffFactor !== 'number' || rc.retryBackoffFactor < 1 || rc.retryBackoffFactor > 10) errors.push({ field: 'retryBackoffFactor', message: 'must be between 1 and 10' });
  if (!['skip', 'queue', 'replace'].includes(rc.overlapPolicy)) errors.push({ field: 'overlapPolicy', message: "Input should be 'skip', 'queue' or 'replace'" });
  if (rc.retryMaxDelaySeconds < rc.retryDelaySeconds) errors.push({ field: 'retryMaxDelaySeconds', message: `must not be less than retryDelaySeconds (${rc.retryDelaySeconds}); raise it, or lower the delay` });
  const task = TASKS.find((t) => t.id === j.taskFunctionId);
  const props = task?.parametersSchema.properties ?? {};
  for (const key of Object.keys(j.parameters ?? {})) if (!(key in props)) errors.push({ field: `parameters.${key}`, message: 'extra inputs are not permitted' });
  for (const key of task?.parametersSchema.required ?? []) if (!j.parameters || !(key in j.parameters)) errors.push({ field: `parameters.${key}`, message: 'field required' });
  const url = j.parameters?.url;
  if (typeof url === 'string' && !/^https?:\/\/\S+$/.test(url)) errors.push({ field: 'parameters.url', message: 'Input should be a valid URL' });
  return errors;
}

// ----- executions ----------------------------------------------------------------------------------------

const timers = new Map(); // executionId -> the timer of its next step

function newExecution(job, trigger, extra = {}) {
  const executionId = randomUUID();
  const execution = {
    id: nextExecutionId++, jobId: job.id, executionId, scheduledAt: nowIso(), startedAt: null, completedAt: null,
    durationMs: null, statusId: 1, statusName: 'pending', errorMessage: null, errorTraceback: null, resultSummary: null,
    executorId: '', hostName: '', trigger, coalescedCount: 1, attempt: 1, firstExecutionId: executionId, retriedBy: null,
    claimedAt: null, queuedAt: null, releaseAt: null, rerunOf: null, cancelRequestedAt: null, cancelledBy: null, ...extra,
  };
  executions.push(execution);
  return execution;
}

function setStatus(execution, statusId, fields = {}) {
  Object.assign(execution, { statusId, statusName: STATUS_NAMES[statusId], ...fields });
}

/** pending -> running -> success | failed, as the task's key says; a failure is retried per the job's policy. */
function start(job, execution, delayMs = 300) {
  const task = TASKS.find((t) => t.id === job.taskFunctionId);
  const seconds = task?.key === 'sleep' ? Number(job.parameters?.seconds ?? 1) : 0.6;
  timers.set(execution.executionId, setTimeout(() => {
    const started = nowIso();
    setStatus(execution, 2, { startedAt: started, claimedAt: started, executorId: instanceId, hostName: 'mock-host', errorMessage: null, releaseAt: null });
    timers.set(execution.executionId, setTimeout(() => finish(job, execution, task), Math.max(200, seconds * 1000)));
  }, delayMs));
}

function finish(job, execution, task) {
  timers.delete(execution.executionId);
  const failed = task?.key === 'fail';
  const message = String(job.parameters?.message ?? 'failed on purpose');
  setStatus(execution, failed ? 4 : 3, {
    completedAt: nowIso(),
    durationMs: Date.now() - Date.parse(execution.startedAt),
    resultSummary: failed ? null : task?.key === 'sleep' ? `slept ${job.parameters?.seconds ?? 1} s` : 'nothing to do',
    errorMessage: failed ? `TaskFailed: ${message}` : null,
    errorTraceback: failed ? `Traceback (most recent call last):\n  File "scheduler_core/tasks/builtin.py", line 69, in fail\n    raise TaskFailed(params.message)\nTaskFailed: ${message}` : null,
  });
  job.lastRunAt = execution.startedAt;
  if (!failed) {
    job.consecutiveFailures = 0;
    return;
  }
  const rc = { ...RUN_CONTROL, ...job };
  if (execution.attempt <= rc.maxRetries) {
    const delay = Math.min(rc.retryDelaySeconds * rc.retryBackoffFactor ** (execution.attempt - 1), rc.retryMaxDelaySeconds);
    const retry = newExecution(job, execution.trigger, {
      scheduledAt: execution.scheduledAt, attempt: execution.attempt + 1, firstExecutionId: execution.firstExecutionId,
      statusId: 8, statusName: 'waiting', releaseAt: new Date(Date.now() + delay * 1000).toISOString(),
      errorMessage: `retry: attempt ${execution.attempt + 1} waits ${delay.toFixed(1)} s after the previous one failed`,
    });
    execution.retriedBy = retry.executionId;
    start(job, retry, delay * 1000);
    return;
  }
  job.consecutiveFailures = (job.consecutiveFailures ?? 0) + 1;
  if (rc.pauseAfterFailures > 0 && job.consecutiveFailures >= rc.pauseAfterFailures && !job.isPaused) {
    job.isPaused = true;
    job.pausedReason = `paused after ${job.consecutiveFailures} consecutive failed run(s) (pause_after_failures=${rc.pauseAfterFailures}); resume it to go on`;
  }
}

function runNow(job, trigger, extra = {}) {
  const execution = newExecution(job, trigger, extra);
  start(job, execution);
  return execution;
}

/** The job's slots in [from, to]: an interval job's grid from its creation, a cron job's minutes (UTC). */
function slotsBetween(job, from, to, limit) {
  const out = [];
  const period = intervalSeconds(job);
  if (period) {
    const anchor = Date.parse(job.createdAt);
    let k = Math.ceil((from.getTime() - anchor) / (period * 1000));
    for (let t = anchor + k * period * 1000; t <= to.getTime() && out.length < limit; k += 1, t = anchor + k * period * 1000) out.push(new Date(t).toISOString());
    return out;
  }
  const match = cronMatcher(job.cronExpression ?? '');
  const t = new Date(Math.ceil(from.getTime() / 60_000) * 60_000);
  for (; t <= to && out.length < limit; t.setTime(t.getTime() + 60_000)) if (match?.(t)) out.push(t.toISOString());
  return out;
}

function page(items, url) {
  const p = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
  const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? 20) || 20));
  return { items: items.slice((p - 1) * perPage, p * perPage), total: items.length, page: p, perPage, totalPages: Math.max(1, Math.ceil(items.length / perPage)) };
}

/** The history's filters as the API takes them (issue 21): job_id, status_id, trigger, slot range [from, to). */
function history(url, jobId) {
  const q = url.searchParams;
  const status = q.get('status_id');
  const job = jobId ?? (q.get('job_id') ? Number(q.get('job_id')) : undefined);
  const trigger = q.get('trigger');
  const from = q.get('from') ? Date.parse(q.get('from')) : undefined;
  const to = q.get('to') ? Date.parse(q.get('to')) : undefined;
  const items = executions
    .filter((e) => (job === undefined || e.jobId === job) && (!status || e.statusId === Number(status)) && (!trigger || e.trigger === trigger))
    .filter((e) => (from === undefined || Date.parse(e.scheduledAt) >= from) && (to === undefined || Date.parse(e.scheduledAt) < to))
    .slice()
    .reverse();
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
        const name = (url.searchParams.get('name') ?? '').toLowerCase();
        const named = (j) => !name || [j.nameEn, j.nameAr].some((text) => (text ?? '').toLowerCase().includes(name));
        const list = [...jobs.values()].filter((j) => j.isActive).map(present)
          .filter((j) => (enabled === null || String(j.isEnabled) === enabled) && (!type || j.jobTypeId === Number(type)) && named(j))
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
          case 'resume': job.isPaused = false; job.pausedReason = null; job.consecutiveFailures = 0; break;
          case 'trigger': executionId = runNow(job, 'manual').executionId; break;
          default: return invalid(response, [{ field: 'action', message: `unknown action '${action}'` }]);
        }
        const messages = { enable: 'Job enabled', disable: 'Job disabled', pause: 'Job paused', resume: 'Job resumed', trigger: 'Job triggered successfully' };
        return send(response, 200, { success: true, message: messages[action], executionId, job: present(job) });
      }
      if ((m = /^\/jobs\/(\d+)\/preview$/.exec(route)) && method === 'GET') {
        const job = jobs.get(Number(m[1]));
        if (!job || !job.isActive) return fail(response, 404, `job ${m[1]} does not exist`);
        const count = Math.min(50, Number(url.searchParams.get('count') ?? 5));
        const from = url.searchParams.get('from');
        if (from === null) return send(response, 200, previewOf(job, count));
        if (Number.isNaN(Date.parse(from))) return invalid(response, [{ field: 'from', message: 'Input should be a valid datetime' }]);
        return send(response, 200, { ...previewOf(job, 0), fireTimes: slotsBetween(job, new Date(from), new Date(8.64e15), count) });
      }
      if ((m = /^\/jobs\/(\d+)\/executions\/([^/]+)\/action$/.exec(route)) && method === 'POST') {
        const job = jobs.get(Number(m[1]));
        if (!job || !job.isActive) return fail(response, 404, `job ${m[1]} does not exist`);
        const execution = executions.find((e) => e.executionId === decodeURIComponent(m[2]) && e.jobId === job.id);
        if (!execution) return fail(response, 404, `job ${job.id} has no run ${m[2]}`);
        const { action } = await readJson(request);
        if (action === 'cancel') {
          if (!OPEN.has(execution.statusId)) return fail(response, 409, `run ${execution.executionId} has ended already: there is nothing to cancel`);
          const by = 'user mock';
          if (execution.statusId === 2) {
            // Running: its "executor" stops it a moment later.
            execution.cancelRequestedAt = nowIso();
            clearTimeout(timers.get(execution.executionId));
            timers.set(execution.executionId, setTimeout(() => setStatus(execution, 7, { completedAt: nowIso(), cancelledBy: by, errorMessage: `cancelled: ${by}` }), 500));
            return send(response, 200, { success: true, message: 'Cancellation requested: the executor stops the run within a heartbeat', execution });
          }
          clearTimeout(timers.get(execution.executionId));
          setStatus(execution, 7, { completedAt: nowIso(), cancelRequestedAt: nowIso(), cancelledBy: by, errorMessage: `cancelled: ${by}` });
          return send(response, 200, { success: true, message: 'Run cancelled before it started', execution });
        }
        if (action === 'rerun') {
          if (OPEN.has(execution.statusId)) return fail(response, 409, `run ${execution.executionId} has not ended yet: cancel it, or wait for it, before a re-run`);
          return send(response, 200, { success: true, message: 'Run started again', execution: runNow(job, 'manual', { rerunOf: execution.executionId }) });
        }
        return invalid(response, [{ field: 'action', message: "Input should be 'cancel' or 'rerun'" }]);
      }
      if ((m = /^\/jobs\/(\d+)\/backfill$/.exec(route)) && method === 'POST') {
        const job = jobs.get(Number(m[1]));
        if (!job || !job.isActive) return fail(response, 404, `job ${m[1]} does not exist`);
        const body = await readJson(request);
        const errors = ['from', 'to'].filter((f) => typeof body[f] !== 'string' || Number.isNaN(Date.parse(body[f]))).map((field) => ({ field, message: 'Input should be a valid datetime' }));
        if (errors.length) return invalid(response, errors);
        const from = new Date(body.from);
        const to = new Date(body.to);
        if (to < from) return invalid(response, [{ field: 'body', message: '`to` must not be before `from`' }]);
        if (to > new Date()) return invalid(response, [{ field: 'to', message: 'must not be in the future: backfill runs past slots' }]);
        const slots = slotsBetween(job, from, to, MAX_BACKFILL_SLOTS + 1);
        if (slots.length > MAX_BACKFILL_SLOTS) return invalid(response, [{ field: 'to', message: `the range holds more than ${MAX_BACKFILL_SLOTS} slots of the job's schedule; backfill it in parts` }]);
        const taken = new Set(executions.filter((e) => e.jobId === job.id).map((e) => e.scheduledAt));
        const created = slots.filter((slot) => !taken.has(slot)).map((slot) => runNow(job, 'backfill', { scheduledAt: slot }).executionId);
        return send(response, 200, {
          success: true, message: `${created.length} run(s) created for ${slots.length} slot(s); ${slots.length - created.length} had a run`,
          slots: slots.length, created: created.length, existing: slots.length - created.length, executionIds: created,
        });
      }
      if ((m = /^\/jobs\/(\d+)\/history$/.exec(route)) && method === 'GET') return send(response, 200, history(url, Number(m[1])));
      if (route === '/history' && method === 'GET') return send(response, 200, history(url, undefined));
      // The mock keeps no audit trail: every job's Changes section is empty.
      if (/^\/jobs\/(\d+)\/audit$/.test(route) && method === 'GET') {
        return send(response, 200, { items: [], total: 0, page: 1, perPage: 20, totalPages: 0, nextCursor: null });
      }
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
