// A fake fetch for component tests: routes "METHOD /path" (path after /api/v1/scheduler, no query) to
// handlers, records every call.
import type { Job, Execution, SchedulerStatusInfo, TaskFunctionInfo } from '../types/api';

export interface FakeCall {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  headers: Record<string, string>;
}

export interface FakeResponse {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Handler = (call: FakeCall) => FakeResponse | unknown;

export function fakeFetch(routes: Record<string, Handler>) {
  const calls: FakeCall[] = [];
  // The API client calls fetch(request) (openapi-fetch); (url, init) is accepted too.
  const fetchImpl = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(new URL(String(input), 'http://localhost'), init);
    const url = new URL(request.url);
    const path = url.pathname.replace(/^.*\/api\/v1\/scheduler/, '');
    const method = request.method;
    const sent = await request.text();
    const headers: Record<string, string> = {};
    // Header names as the API reads them: case-insensitive, recorded here as Title-Case ("Authorization").
    request.headers.forEach((value, name) => {
      headers[name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase())] = value;
    });
    const call: FakeCall = { method, path, query: url.searchParams, body: sent ? JSON.parse(sent) : undefined, headers };
    calls.push(call);
    const key = `${method} ${path}`;
    const handler = routes[key] ?? Object.entries(routes).find(([pattern]) => new RegExp(`^${pattern.replace(/:\w+/g, '[^/]+')}$`).test(key))?.[1];
    if (!handler) return new Response(JSON.stringify({ detail: `no fake for ${key}` }), { status: 404, headers: { 'Content-Type': 'application/json' } });
    const result = handler(call);
    const response: FakeResponse = isFakeResponse(result) ? result : { body: result };
    const status = response.status ?? 200;
    if (status === 204 || response.body === undefined) return new Response(null, { status, headers: response.headers });
    const text = typeof response.body === 'string' ? response.body : JSON.stringify(response.body);
    return new Response(text, {
      status,
      headers: { 'Content-Type': typeof response.body === 'string' ? 'text/plain' : 'application/json', ...response.headers },
    });
  };
  return { fetchImpl: fetchImpl as typeof fetch, calls };
}

function isFakeResponse(value: unknown): value is FakeResponse {
  return typeof value === 'object' && value !== null && ('status' in value || 'headers' in value) && !('id' in value);
}

export function makeJob(overrides: Partial<Job> = {}): Job {
  return {
    id: 1,
    taskFunctionId: 1,
    taskFunctionKey: 'noop',
    jobTypeId: 1,
    jobTypeName: 'interval',
    nameEn: 'Nightly sync',
    nameAr: 'مزامنة ليلية',
    intervalMinutes: 30,
    priority: 5,
    maxInstances: 1,
    misfireGraceTime: 60,
    coalesce: true,
    isEnabled: true,
    isActive: true,
    isPrimary: false,
    isPaused: false,
    timezone: 'UTC',
    createdAt: '2025-01-07T10:00:00Z',
    maxRetries: 0,
    retryDelaySeconds: 10,
    retryBackoffFactor: 2,
    retryMaxDelaySeconds: 3600,
    overlapPolicy: 'skip',
    pauseAfterFailures: 0,
    consecutiveFailures: 0,
    ...overrides,
  };
}

export function makeExecution(overrides: Partial<Execution> = {}): Execution {
  const executionId = overrides.executionId ?? 'exec-100';
  return {
    id: 100,
    jobId: 1,
    executionId,
    scheduledAt: '2025-01-07T10:00:00Z',
    startedAt: '2025-01-07T10:00:01Z',
    completedAt: '2025-01-07T10:00:05Z',
    durationMs: 4000,
    statusId: 3,
    statusName: 'success',
    resultSummary: 'Synced 150 records',
    executorId: 'executor-1',
    hostName: 'host-a',
    trigger: 'schedule',
    createdAt: '2025-01-07T10:00:00Z',
    coalescedCount: 1,
    attempt: 1,
    firstExecutionId: executionId,
    ...overrides,
  };
}

export const TASKS: TaskFunctionInfo[] = [
  { id: 1, key: 'noop', nameEn: 'No operation', nameAr: 'بدون عملية', isActive: true, parametersSchema: { properties: {}, type: 'object' } },
  {
    id: 4,
    key: 'http_request',
    nameEn: 'HTTP request',
    nameAr: 'طلب HTTP',
    isActive: true,
    parametersSchema: {
      type: 'object',
      required: ['url'],
      properties: {
        method: { default: 'GET', enum: ['GET', 'POST'], title: 'Method', type: 'string' },
        url: { format: 'uri', minLength: 1, title: 'Url', type: 'string' },
        timeout_seconds: { default: 30, exclusiveMinimum: 0, title: 'Timeout Seconds', type: 'number' },
      },
    },
  },
];

export function makeStatus(overrides: Partial<SchedulerStatusInfo> = {}): SchedulerStatusInfo {
  return {
    isRunning: true,
    mode: 'embedded',
    instanceId: 'inst-1',
    activeInstances: 1,
    totalJobs: 3,
    enabledJobs: 2,
    runningExecutions: 0,
    lastHeartbeat: new Date().toISOString(),
    instances: [],
    executionsInProgress: [],
    ...overrides,
  };
}

export const page = <T,>(items: T[], extra: Record<string, unknown> = {}) => ({ items, total: items.length, page: 1, perPage: 20, totalPages: 1, ...extra });
