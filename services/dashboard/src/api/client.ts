// The ONE module that talks HTTP to the scheduler API (/api/v1/scheduler). Endpoint paths, query parameter
// names and body shapes live here; screens call these methods and never build URLs themselves.

import type {
  ActionResult,
  BackfillRequest,
  BackfillResponse,
  Execution,
  ExecutionAction,
  ExecutionActionResult,
  Job,
  JobAction,
  JobWritePayload,
  Page,
  SchedulePreviewRequest,
  SchedulePreviewResponse,
  SchedulerStatusInfo,
  TaskFunctionInfo,
} from '../types/api';
import type { components } from '../types/api.generated';
import { parseErrorBody } from './errors';

/** A page of the audit trail, as generated from the API's OpenAPI (its nulls arrive as absent properties). */
export type AuditPage = components['schemas']['AuditPage'];

/** The API's path relative to the dashboard: both are served by the API, the dashboard at its root. */
const API_PATH = 'api/v1/scheduler';

/**
 * Where the API is: VITE_API_BASE when the build sets one, else API_PATH under the page's base URL. The API serves
 * index.html with a `<base href>` naming where the dashboard is mounted, a gateway's path prefix included
 * ("/scheduler/"), so the calls go through the same gateway route as the page: /scheduler/api/v1/scheduler.
 */
export function defaultApiBase(baseURI: string = document.baseURI): string {
  return import.meta.env.VITE_API_BASE ?? new URL(API_PATH, baseURI).pathname;
}

/** An API call that failed: HTTP status (0 = network failure), a message, and field errors of a 4xx. */
export class ApiError extends Error {
  readonly status: number;
  readonly fieldErrors: Record<string, string>;
  readonly body: unknown;
  readonly method: string;
  readonly path: string;

  constructor(init: { status: number; message: string; fieldErrors?: Record<string, string>; body?: unknown; method: string; path: string }) {
    super(init.message);
    this.name = 'ApiError';
    this.status = init.status;
    this.fieldErrors = init.fieldErrors ?? {};
    this.body = init.body;
    this.method = init.method;
    this.path = init.path;
  }

  get hasFieldErrors(): boolean {
    return Object.keys(this.fieldErrors).length > 0;
  }
}

/** The token was missing, wrong or expired (HTTP 401). The client has already signalled onUnauthorized. */
export class UnauthorizedError extends ApiError {
  constructor(init: ConstructorParameters<typeof ApiError>[0]) {
    super(init);
    this.name = 'UnauthorizedError';
  }
}

export function isAbortError(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}

/** JSON null -> absent property (the reference's types say `field?: T`). Array elements are kept. */
export function stripNulls<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => (v === null ? v : stripNulls(v))) as T;
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) if (v !== null) out[key] = stripNulls(v);
    return out as T;
  }
  return value;
}

type Query = Record<string, string | number | boolean | undefined | null>;

interface RequestOptions {
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
  /** Use this token instead of the stored one, and do not call onUnauthorized on 401 (sign-in check). */
  token?: string;
}

export interface ApiClientOptions {
  baseUrl?: string;
  getToken: () => string | null;
  /** Called on every 401 (except the sign-in check): the app drops the token and shows sign-in. */
  onUnauthorized?: () => void;
  fetch?: typeof fetch;
}

export interface StatusResult {
  status: SchedulerStatusInfo;
  /** The server's clock (HTTP Date header), for heartbeat ages independent of the browser's clock. */
  serverTime?: Date;
}

export interface JobListParams {
  page?: number;
  perPage?: number;
  isEnabled?: boolean;
  jobTypeId?: number;
  /** Part of the English or Arabic name, any case (the API's `name`). */
  name?: string;
}

export interface HistoryParams {
  page?: number;
  perPage?: number;
  statusId?: number;
  /** All-jobs history only: runs of this job. */
  jobId?: number;
  /** "schedule" | "manual" | "backfill". */
  trigger?: string;
  /** Slots at or after this instant (ISO 8601 with an offset). */
  from?: string;
  /** Slots before this instant (ISO 8601 with an offset). */
  to?: string;
}

/** The history endpoints' query parameters of the filters (the job's own history takes its job from the path). */
function historyQuery(params: HistoryParams, withJob: boolean) {
  return {
    page: params.page,
    per_page: params.perPage,
    job_id: withJob ? params.jobId : undefined,
    status_id: params.statusId,
    trigger: params.trigger,
    from: params.from,
    to: params.to,
  };
}

export class SchedulerApi {
  private readonly baseUrl: string;
  private readonly getToken: () => string | null;
  private readonly onUnauthorized: () => void;
  private readonly fetchImpl: typeof fetch;

  constructor(options: ApiClientOptions) {
    this.baseUrl = (options.baseUrl ?? defaultApiBase()).replace(/\/+$/, '');
    this.getToken = options.getToken;
    this.onUnauthorized = options.onUnauthorized ?? (() => undefined);
    // Bound: window.fetch throws "Illegal invocation" when called as a method of another object.
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  url(path: string, query?: Query): string {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
    }
    const qs = params.toString();
    return `${this.baseUrl}${path}${qs ? `?${qs}` : ''}`;
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<{ data: T; response: Response }> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    const token = options.token ?? this.getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.body);
    }

    let response: Response;
    try {
      response = await this.fetchImpl(this.url(path, options.query), {
        method,
        headers,
        body,
        signal: options.signal,
        credentials: 'same-origin',
      });
    } catch (error) {
      if (isAbortError(error)) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new ApiError({ status: 0, message: `Network error: ${reason}`, method, path });
    }

    const raw = await response.text();
    let parsed: unknown = raw;
    if (raw && (response.headers.get('Content-Type') ?? '').includes('json')) {
      try {
        parsed = JSON.parse(raw);
      } catch {
        parsed = raw;
      }
    }

    if (!response.ok) {
      const { message, fieldErrors } = parseErrorBody(response.status, parsed, response.statusText);
      const init = { status: response.status, message, fieldErrors, body: parsed, method, path };
      if (response.status === 401) {
        if (options.token === undefined) this.onUnauthorized();
        throw new UnauthorizedError(init);
      }
      throw new ApiError(init);
    }
    if (raw && typeof parsed === 'string' && response.status !== 204) {
      // Typically the dashboard's own index.html: a static server or proxy answered instead of the API.
      const what = /^\s*<(!doctype|html)/i.test(raw) ? 'an HTML page' : `"${raw.slice(0, 120)}"`;
      throw new ApiError({
        status: response.status,
        message: `Expected JSON from ${method} ${this.url(path)}, got ${what}: is the scheduler API served on this origin?`,
        method,
        path,
        body: raw,
      });
    }
    return { data: stripNulls(parsed === '' ? undefined : parsed) as T, response };
  }

  private async get<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
    return (await this.request<T>('GET', path, { query, signal })).data;
  }

  // ----- jobs -------------------------------------------------------------------------------------------

  listJobs(params: JobListParams = {}, signal?: AbortSignal): Promise<Page<Job>> {
    return this.get<Page<Job>>(
      '/jobs',
      { page: params.page, per_page: params.perPage, is_enabled: params.isEnabled, job_type_id: params.jobTypeId, name: params.name },
      signal,
    );
  }

  getJob(jobId: number, signal?: AbortSignal): Promise<Job> {
    return this.get<Job>(`/jobs/${jobId}`, undefined, signal);
  }

  async createJob(payload: JobWritePayload & { taskFunctionId: number }): Promise<Job> {
    return (await this.request<Job>('POST', '/jobs', { body: payload })).data;
  }

  async updateJob(jobId: number, payload: JobWritePayload): Promise<Job> {
    return (await this.request<Job>('PUT', `/jobs/${jobId}`, { body: payload })).data;
  }

  async deleteJob(jobId: number): Promise<void> {
    await this.request<unknown>('DELETE', `/jobs/${jobId}`);
  }

  async performAction(jobId: number, action: JobAction): Promise<ActionResult> {
    return (await this.request<ActionResult>('POST', `/jobs/${jobId}/action`, { body: { action } })).data;
  }

  /** Cancel a run not ended yet, or run a finished one again (409 with the reason when it does not apply). */
  async executionAction(jobId: number, executionId: string, action: ExecutionAction): Promise<ExecutionActionResult> {
    const path = `/jobs/${jobId}/executions/${encodeURIComponent(executionId)}/action`;
    return (await this.request<ExecutionActionResult>('POST', path, { body: { action } })).data;
  }

  /** Run the job's past slots in [from, to] that have no run yet (422 naming `to` past 1,000 slots or in the future). */
  async backfill(jobId: number, range: BackfillRequest): Promise<BackfillResponse> {
    return (await this.request<BackfillResponse>('POST', `/jobs/${jobId}/backfill`, { body: range })).data;
  }

  // ----- history ----------------------------------------------------------------------------------------

  jobHistory(jobId: number, params: HistoryParams = {}, signal?: AbortSignal): Promise<Page<Execution>> {
    return this.get<Page<Execution>>(
      `/jobs/${jobId}/history`,
      historyQuery(params, false),
      signal,
    );
  }

  allHistory(params: HistoryParams = {}, signal?: AbortSignal): Promise<Page<Execution>> {
    return this.get<Page<Execution>>('/history', historyQuery(params, true), signal);
  }

  // ----- audit trail ------------------------------------------------------------------------------------

  jobAudit(jobId: number, params: { page?: number; perPage?: number } = {}, signal?: AbortSignal): Promise<AuditPage> {
    return this.get<AuditPage>(`/jobs/${jobId}/audit`, { page: params.page, per_page: params.perPage }, signal);
  }

  // ----- status, lookups, preview -------------------------------------------------------------------------

  async getStatus(signal?: AbortSignal): Promise<StatusResult> {
    const { data, response } = await this.request<SchedulerStatusInfo>('GET', '/status', { signal });
    const date = response.headers.get('Date');
    const serverTime = date ? new Date(date) : undefined;
    return { status: data, serverTime: serverTime && !Number.isNaN(serverTime.getTime()) ? serverTime : undefined };
  }

  /** Accepts a bare array (as documented) or a {items: [...]} wrapper. */
  async taskFunctions(signal?: AbortSignal): Promise<TaskFunctionInfo[]> {
    const data = await this.get<TaskFunctionInfo[] | { items: TaskFunctionInfo[] }>('/task-functions', undefined, signal);
    return Array.isArray(data) ? data : data.items;
  }

  async previewSchedule(request: SchedulePreviewRequest, signal?: AbortSignal): Promise<SchedulePreviewResponse> {
    return (await this.request<SchedulePreviewResponse>('POST', '/schedule/preview', { body: request, signal })).data;
  }

  /** The job's next `count` fire times, from its next slot or at or after `from` (ISO 8601 with an offset). */
  jobPreview(jobId: number, count: number, signal?: AbortSignal, from?: string): Promise<SchedulePreviewResponse> {
    return this.get<SchedulePreviewResponse>(`/jobs/${jobId}/preview`, { count, from }, signal);
  }

  /** Sign-in: is this token accepted? Resolves on success, throws ApiError (401: UnauthorizedError) otherwise. */
  async checkToken(token: string): Promise<void> {
    await this.request<unknown>('GET', '/status', { token });
  }
}

/** Total number of pages of a Page, whether or not the API sent totalPages. */
export function pageCount(page: Pick<Page<unknown>, 'total' | 'totalPages' | 'perPage'>, perPage: number): number {
  if (typeof page.totalPages === 'number') return Math.max(1, page.totalPages);
  return Math.max(1, Math.ceil(page.total / (page.perPage ?? perPage)));
}
