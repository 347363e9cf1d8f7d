// The ONE module that talks HTTP to the scheduler API (/api/v1/scheduler). Every call goes through one openapi-fetch
// client typed by the generated `paths` (types/api.generated.ts, from the committed OpenAPI snapshot): a path, its
// path and query parameters and its body that the API does not take fail `npm run typecheck`. Screens call the
// methods here and never build URLs themselves.

import createClient, { type Client } from 'openapi-fetch';
import type { paths } from '../types/api.generated';
import type {
  ActionResult,
  AuditPage,
  BackfillRequest,
  BackfillResponse,
  CreateJobBody,
  Denull,
  ExecutionAction,
  ExecutionActionResult,
  ExecutionPage,
  Job,
  JobAction,
  JobPage,
  JobWritePayload,
  NotificationChannel,
  NotificationChannelCreate,
  NotificationChannelPage,
  NotificationChannelUpdate,
  NotificationDeliveryPage,
  PageInfo,
  RunTrigger,
  SchedulePreviewRequest,
  SchedulePreviewResponse,
  SchedulerStatusInfo,
  TaskFunctionInfo,
} from '../types/api';
import { parseErrorBody } from './errors';

export type { AuditPage };

/** The API's path relative to the dashboard: both are served by the API, the dashboard at its root. */
const API_PATH = 'api/v1/scheduler';
/** Every generated path begins with it; the client's base URL is what comes before it (a gateway's prefix). */
const API_PREFIX = '/api/v1/scheduler';

/**
 * Where the API is: VITE_API_BASE when the build sets one, else API_PATH under the page's base URL. The API serves
 * index.html with a `<base href>` naming where the dashboard is mounted, a gateway's path prefix included
 * ("/scheduler/"), so the calls go through the same gateway route as the page: /scheduler/api/v1/scheduler.
 */
export function defaultApiBase(baseURI: string = document.baseURI): string {
  return import.meta.env.VITE_API_BASE ?? new URL(API_PATH, baseURI).pathname;
}

/**
 * The openapi-fetch base URL for an API base: absolute (a Request needs one outside a page) and without the
 * /api/v1/scheduler the generated paths carry. "/scheduler/api/v1/scheduler" -> "http://host/scheduler".
 */
export function clientBaseUrl(apiBase: string, baseURI: string = document.baseURI): string {
  const absolute = new URL(apiBase, baseURI).href.replace(/\/+$/, '');
  if (!absolute.endsWith(API_PREFIX)) throw new Error(`The API base "${apiBase}" must end with ${API_PREFIX}`);
  return absolute.slice(0, -API_PREFIX.length);
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
  return (error instanceof DOMException || error instanceof Error) && error.name === 'AbortError';
}

/** JSON null -> absent property (the reference's types say `field?: T`). Array elements are kept. */
export function stripNulls<T>(value: T): Denull<T> {
  if (Array.isArray(value)) return value.map((v: unknown) => (v === null ? v : stripNulls(v))) as Denull<T>;
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) if (v !== null) out[key] = stripNulls(v);
    return out as Denull<T>;
  }
  return value as Denull<T>;
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
  trigger?: RunTrigger;
  /** Slots at or after this instant (ISO 8601 with an offset). */
  from?: string;
  /** Slots before this instant (ISO 8601 with an offset). */
  to?: string;
}

export interface DeliveryParams {
  page?: number;
  perPage?: number;
  status?: 'pending' | 'delivered' | 'failed';
}

/** What an openapi-fetch call resolves to once the middleware has thrown the errors: the 2xx's body. */
interface Outcome<D> {
  data?: D;
  response: Response;
}

/** An empty text box means "no filter": the API would read `name=` as a name matching everything. */
function orUndefined(text: string | undefined): string | undefined {
  return text === '' ? undefined : text;
}

/** The path of a request URL after the API prefix, for error messages ("/jobs/7"). */
function apiPath(url: string): string {
  const { pathname } = new URL(url);
  const at = pathname.indexOf(API_PREFIX);
  return at < 0 ? pathname : pathname.slice(at + API_PREFIX.length);
}

/** An error response's body: JSON-decoded when it is JSON, else its text (api/errors.ts reads both). */
async function errorBody(response: Response): Promise<unknown> {
  const raw = await response.clone().text();
  if (!raw || !(response.headers.get('Content-Type') ?? '').includes('json')) return raw;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

export class SchedulerApi {
  /** The typed client every call goes through (its paths, parameters and bodies are the generated ones). */
  readonly http: Client<paths>;
  /** Origin and gateway prefix, before /api/v1/scheduler ("http://host/scheduler"). */
  private readonly baseUrl: string;
  private readonly getToken: () => string | null;
  private readonly onUnauthorized: () => void;
  private readonly fetchImpl: typeof fetch;
  /** Requests (openapi-fetch ids) that carry their own token: the sign-in check, whose 401 does not sign out. */
  private readonly ownToken = new Set<string>();

  constructor(options: ApiClientOptions) {
    this.baseUrl = clientBaseUrl((options.baseUrl ?? defaultApiBase()).replace(/\/+$/, ''));
    this.getToken = options.getToken;
    this.onUnauthorized = options.onUnauthorized ?? (() => undefined);
    // Bound: window.fetch throws "Illegal invocation" when called as a method of another object.
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.http = createClient<paths>({
      baseUrl: this.baseUrl,
      headers: { Accept: 'application/json' },
      credentials: 'same-origin',
      fetch: (request: Request) => this.send(request),
    });
    this.http.use({
      onRequest: ({ request, id }) => {
        if (request.headers.has('Authorization')) {
          this.ownToken.add(id);
          return undefined;
        }
        const token = this.getToken();
        if (token) request.headers.set('Authorization', `Bearer ${token}`);
        return request;
      },
      onResponse: async ({ request, response, id }) => {
        const signOut = !this.ownToken.delete(id);
        if (response.ok) return undefined;
        const body = await errorBody(response);
        const { message, fieldErrors } = parseErrorBody(response.status, body, response.statusText);
        const init = { status: response.status, message, fieldErrors, body, method: request.method, path: apiPath(request.url) };
        if (response.status === 401) {
          if (signOut) this.onUnauthorized();
          throw new UnauthorizedError(init);
        }
        throw new ApiError(init);
      },
    });
  }

  /** The URL path of an API path ("/jobs" -> "/scheduler/api/v1/scheduler/jobs"). */
  url(path: string): string {
    return new URL(`${this.baseUrl}${API_PREFIX}${path}`).pathname;
  }

  /**
   * The transport under openapi-fetch: a network failure becomes ApiError status 0, and a 2xx that is not JSON
   * (typically the dashboard's own index.html: a static server or proxy answered instead of the API) an ApiError
   * saying so, rather than a JSON syntax error.
   */
  private async send(request: Request): Promise<Response> {
    let response: Response;
    try {
      response = await this.fetchImpl(request);
    } catch (error) {
      this.ownToken.clear();
      if (isAbortError(error) || request.signal.aborted) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new ApiError({ status: 0, message: `Network error: ${reason}`, method: request.method, path: apiPath(request.url) });
    }
    if (response.ok && response.status !== 204 && !(response.headers.get('Content-Type') ?? '').includes('json')) {
      const raw = await response.clone().text();
      if (raw) {
        const what = /^\s*<(!doctype|html)/i.test(raw) ? 'an HTML page' : `"${raw.slice(0, 120)}"`;
        throw new ApiError({
          status: response.status,
          message: `Expected JSON from ${request.method} ${new URL(request.url).pathname}, got ${what}: is the scheduler API served on this origin?`,
          method: request.method,
          path: apiPath(request.url),
          body: raw,
        });
      }
    }
    return response;
  }

  /** The body of a successful call, its nulls made absent (errors were thrown by the middleware). */
  private async data<D>(call: Promise<Outcome<D>>): Promise<Denull<D>> {
    return stripNulls((await call).data as D);
  }

  // ----- jobs -------------------------------------------------------------------------------------------

  listJobs(params: JobListParams = {}, signal?: AbortSignal): Promise<JobPage> {
    const query = { page: params.page, per_page: params.perPage, is_enabled: params.isEnabled, job_type_id: params.jobTypeId, name: orUndefined(params.name) };
    return this.data(this.http.GET('/api/v1/scheduler/jobs', { params: { query }, signal }));
  }

  getJob(jobId: number, signal?: AbortSignal): Promise<Job> {
    return this.data(this.http.GET('/api/v1/scheduler/jobs/{job_id}', { params: { path: { job_id: jobId } }, signal }));
  }

  createJob(payload: CreateJobBody): Promise<Job> {
    return this.data(this.http.POST('/api/v1/scheduler/jobs', { body: payload }));
  }

  updateJob(jobId: number, payload: JobWritePayload): Promise<Job> {
    return this.data(this.http.PUT('/api/v1/scheduler/jobs/{job_id}', { params: { path: { job_id: jobId } }, body: payload }));
  }

  async deleteJob(jobId: number): Promise<void> {
    await this.http.DELETE('/api/v1/scheduler/jobs/{job_id}', { params: { path: { job_id: jobId } } });
  }

  performAction(jobId: number, action: JobAction): Promise<ActionResult> {
    return this.data(this.http.POST('/api/v1/scheduler/jobs/{job_id}/action', { params: { path: { job_id: jobId } }, body: { action } }));
  }

  /** Cancel a run not ended yet, or run a finished one again (409 with the reason when it does not apply). */
  executionAction(jobId: number, executionId: string, action: ExecutionAction): Promise<ExecutionActionResult> {
    const path = { job_id: jobId, execution_id: executionId };
    return this.data(this.http.POST('/api/v1/scheduler/jobs/{job_id}/executions/{execution_id}/action', { params: { path }, body: { action } }));
  }

  /** Run the job's past slots in [from, to] that have no run yet (422 naming `to` past 1,000 slots or in the future). */
  backfill(jobId: number, range: BackfillRequest): Promise<BackfillResponse> {
    return this.data(this.http.POST('/api/v1/scheduler/jobs/{job_id}/backfill', { params: { path: { job_id: jobId } }, body: range }));
  }

  // ----- history ----------------------------------------------------------------------------------------

  jobHistory(jobId: number, params: HistoryParams = {}, signal?: AbortSignal): Promise<ExecutionPage> {
    const query = { page: params.page, per_page: params.perPage, status_id: params.statusId, trigger: params.trigger, from: params.from, to: params.to };
    return this.data(this.http.GET('/api/v1/scheduler/jobs/{job_id}/history', { params: { path: { job_id: jobId }, query }, signal }));
  }

  allHistory(params: HistoryParams = {}, signal?: AbortSignal): Promise<ExecutionPage> {
    const { page, perPage, jobId, statusId, trigger, from, to } = params;
    const query = { page, per_page: perPage, job_id: jobId, status_id: statusId, trigger, from, to };
    return this.data(this.http.GET('/api/v1/scheduler/history', { params: { query }, signal }));
  }

  // ----- audit trail ------------------------------------------------------------------------------------

  jobAudit(jobId: number, params: { page?: number; perPage?: number } = {}, signal?: AbortSignal): Promise<AuditPage> {
    const query = { page: params.page, per_page: params.perPage };
    return this.data(this.http.GET('/api/v1/scheduler/jobs/{job_id}/audit', { params: { path: { job_id: jobId }, query }, signal }));
  }

  // ----- status, lookups, preview -------------------------------------------------------------------------

  async getStatus(signal?: AbortSignal): Promise<StatusResult> {
    const call = this.http.GET('/api/v1/scheduler/status', { signal });
    const [status, { response }] = await Promise.all([this.data(call), call]);
    const date = response.headers.get('Date');
    const serverTime = date ? new Date(date) : undefined;
    return { status, serverTime: serverTime && !Number.isNaN(serverTime.getTime()) ? serverTime : undefined };
  }

  taskFunctions(signal?: AbortSignal): Promise<TaskFunctionInfo[]> {
    return this.data(this.http.GET('/api/v1/scheduler/task-functions', { signal }));
  }

  previewSchedule(request: SchedulePreviewRequest, signal?: AbortSignal): Promise<SchedulePreviewResponse> {
    return this.data(this.http.POST('/api/v1/scheduler/schedule/preview', { body: request, signal }));
  }

  /** The job's next `count` fire times, from its next slot or at or after `from` (ISO 8601 with an offset). */
  jobPreview(jobId: number, count: number, signal?: AbortSignal, from?: string): Promise<SchedulePreviewResponse> {
    return this.data(this.http.GET('/api/v1/scheduler/jobs/{job_id}/preview', { params: { path: { job_id: jobId }, query: { count, from } }, signal }));
  }

  // ----- notification channels ----------------------------------------------------------------------------

  listChannels(params: { page?: number; perPage?: number } = {}, signal?: AbortSignal): Promise<NotificationChannelPage> {
    const query = { page: params.page, per_page: params.perPage };
    return this.data(this.http.GET('/api/v1/scheduler/notification-channels', { params: { query }, signal }));
  }

  getChannel(channelId: number, signal?: AbortSignal): Promise<NotificationChannel> {
    return this.data(this.http.GET('/api/v1/scheduler/notification-channels/{channel_id}', { params: { path: { channel_id: channelId } }, signal }));
  }

  createChannel(body: NotificationChannelCreate): Promise<NotificationChannel> {
    return this.data(this.http.POST('/api/v1/scheduler/notification-channels', { body }));
  }

  /** Partial: only the fields in `body` change; jobIds or secret null clears them. */
  updateChannel(channelId: number, body: NotificationChannelUpdate): Promise<NotificationChannel> {
    return this.data(this.http.PUT('/api/v1/scheduler/notification-channels/{channel_id}', { params: { path: { channel_id: channelId } }, body }));
  }

  deleteChannel(channelId: number): Promise<NotificationChannel> {
    return this.data(this.http.DELETE('/api/v1/scheduler/notification-channels/{channel_id}', { params: { path: { channel_id: channelId } } }));
  }

  /** The channel's deliveries, newest first. */
  channelDeliveries(channelId: number, params: DeliveryParams = {}, signal?: AbortSignal): Promise<NotificationDeliveryPage> {
    const query = { page: params.page, per_page: params.perPage, status: params.status };
    return this.data(
      this.http.GET('/api/v1/scheduler/notification-channels/{channel_id}/deliveries', { params: { path: { channel_id: channelId }, query }, signal }),
    );
  }

  /** Sign-in: is this token accepted? Resolves on success, throws ApiError (401: UnauthorizedError) otherwise. */
  async checkToken(token: string): Promise<void> {
    await this.http.GET('/api/v1/scheduler/status', { headers: { Authorization: `Bearer ${token}` } });
  }
}

/** Total number of pages of a list response, whether or not the API sent totalPages. */
export function pageCount(page: PageInfo, perPage: number): number {
  if (typeof page.totalPages === 'number') return Math.max(1, page.totalPages);
  return Math.max(1, Math.ceil(page.total / (page.perPage ?? perPage)));
}
