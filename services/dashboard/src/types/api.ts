// The app's view of the API: the generated OpenAPI types (api.generated.ts) as the client returns them, and the
// few shapes the generated ones do not say (request bodies as the forms build them, error bodies). contract.test-d.ts
// checks the generated types against the reference's interfaces (scheduler.ts) and against every request type
// here, so a drift between the API and these assumptions fails `npm test`.
//
// The API client turns JSON nulls into absent properties (see api/client.ts), so optional fields are
// `field?: T`, as in the reference, never `T | null`.

import type { components } from './api.generated';
import type { BackfillRequest, ExecutionAction, JobAction, OverlapPolicy } from './scheduler';

/** An IANA zone name the API accepts: one of the pinned tzdata's, which its schema's pattern lists. */
export type TimeZone = components['schemas']['TimeZone'];

type Schemas = components['schemas'];

/**
 * JSON null -> absent property, recursively: what api/client.ts does to every response body at runtime, so the
 * generated response types seen through Denull are the ones the screens get (`field?: T`, as in the reference).
 */
export type Denull<T> = T extends null
  ? undefined
  : T extends readonly (infer U)[]
    ? Denull<U>[]
    : T extends object
      ? { [K in Exclude<keyof T, NullKeys<T>>]: Denull<T[K]> } & { [K in NullKeys<T>]?: Denull<Exclude<T[K], null>> }
      : T;
type NullKeys<T> = { [K in keyof T]-?: null extends T[K] ? K : never }[keyof T];

// Responses: the generated types as the client returns them. contract.test-d.ts checks that they satisfy the
// reference's interfaces (scheduler.ts).

/** A job as the API returns it. */
export type Job = Denull<Schemas['ScheduledJobResponse']>;
/** One run of a job. */
export type Execution = Denull<Schemas['ScheduledJobExecutionResponse']>;
export type JobPage = Denull<Schemas['ScheduledJobPage']>;
export type ExecutionPage = Denull<Schemas['ScheduledJobExecutionPage']>;
export type AuditPage = Denull<Schemas['AuditPage']>;
export type ActionResult = Denull<Schemas['JobActionResponse']>;
export type ExecutionActionResult = Denull<Schemas['ExecutionActionResponse']>;
export type BackfillResponse = Denull<Schemas['BackfillResponse']>;
/** One scheduler process (table scheduler_instance) that has not stopped. */
export type SchedulerInstanceInfo = Denull<Schemas['SchedulerInstanceResponse']>;
/** GET /status: the reference's SchedulerStatus plus the instances and the runs in progress. */
export type SchedulerStatusInfo = Denull<Schemas['SchedulerStatusResponse']>;
/** GET /task-functions items. parametersSchema is the JSON schema of the task's parameters (pydantic). */
export type TaskFunctionInfo = Denull<Schemas['TaskFunctionResponse']>;
/** POST /schedule/preview and GET /jobs/{id}/preview response. */
export type SchedulePreviewResponse = Denull<Schemas['SchedulePreviewResponse']>;

// Notification channels (where events are POSTed) and their deliveries.
export type NotificationChannel = Denull<Schemas['NotificationChannelResponse']>;
export type NotificationChannelPage = Denull<Schemas['NotificationChannelPage']>;
export type NotificationChannelCreate = Schemas['NotificationChannelCreate'];
export type NotificationChannelUpdate = Schemas['NotificationChannelUpdate'];
export type NotificationDelivery = Denull<Schemas['NotificationDeliveryResponse']>;
export type NotificationDeliveryPage = Denull<Schemas['NotificationDeliveryPage']>;
export type ChannelEvent = NotificationChannelCreate['events'][number];
export type ChannelFormat = NonNullable<NotificationChannelCreate['format']>;

/** Why a run exists (the history's `trigger` filter). */
export type RunTrigger = 'schedule' | 'manual' | 'backfill';
export const RUN_TRIGGERS: readonly RunTrigger[] = ['schedule', 'manual', 'backfill'];

/** The paging fields every list response has. */
export interface PageInfo {
  total: number;
  perPage?: number;
  totalPages?: number;
}

export type { BackfillRequest, ExecutionAction, JobAction, OverlapPolicy };

/** Schedule fields shared by job create/update and the preview. null clears a field on update. */
export interface ScheduleFields {
  intervalSeconds?: number | null;
  intervalMinutes?: number | null;
  intervalHours?: number | null;
  intervalDays?: number | null;
  cronExpression?: string | null;
  /** Never null: leave it out to keep the current zone. */
  timezone?: string;
}

/** Schedule fields as a request sends them: the zone is one the API lists. */
export interface ScheduleInput extends Omit<ScheduleFields, 'timezone'> {
  timezone?: TimeZone;
}

/**
 * A schedule as a create or preview body carries it: a cron expression and no interval field, or interval fields
 * and no cron expression (the API's schema states it with `oneOf`).
 */
export type OneSchedule = ScheduleInput &
  (
    | { cronExpression: string; intervalSeconds?: undefined; intervalMinutes?: undefined; intervalHours?: undefined; intervalDays?: undefined }
    | { cronExpression?: undefined }
  );

/** POST /schedule/preview body; `count`: how many upcoming fire times to return; `from`: at or after this instant. */
export type SchedulePreviewRequest = OneSchedule & { count: number; from?: string };

/** Body of POST /jobs (taskFunctionId required) and PUT /jobs/{id} (partial: only the fields present change). */
export interface JobWritePayload extends ScheduleInput {
  taskFunctionId?: number;
  nameEn?: string | null;
  nameAr?: string | null;
  descriptionEn?: string | null;
  descriptionAr?: string | null;
  priority?: number;
  maxInstances?: number;
  misfireGraceTime?: number;
  coalesce?: boolean;
  isEnabled?: boolean;
  parameters?: Record<string, unknown> | null;
  /** null clears it (the executor's default applies). */
  timeoutSeconds?: number | null;
  // Run control (issue 18); never null.
  maxRetries?: number;
  retryDelaySeconds?: number;
  retryBackoffFactor?: number;
  retryMaxDelaySeconds?: number;
  overlapPolicy?: OverlapPolicy;
  pauseAfterFailures?: number;
}

/** A create body (POST /jobs): the job's fields with one kind of schedule. */
export type CreateJobBody = JobWritePayload & OneSchedule & { taskFunctionId: number };

/**
 * Every error body api/errors.ts understands: the scheduler's
 * {"error": "validation_error", "message": "...", "fields": [{"field": "cronExpression", "reason": "..."}]},
 * FastAPI's defaults ({"detail": "..."} and {"detail": [{"loc": [...], "msg": "..."}]}), and
 * {"detail": [{"field": "...", "message": "..."}]}.
 */
export interface ParsableErrorBody {
  error?: string;
  message?: string;
  fields?: Array<{ field?: string; reason?: string; message?: string }>;
  detail?:
    | string
    | Array<{
        field?: string;
        message?: string;
        loc?: Array<string | number>;
        msg?: string;
        type?: string;
        input?: unknown;
        ctx?: unknown;
        url?: string;
      }>;
}

/** Execution status ids: 1-4 from the reference, 5 and 6 added by the design, 7 and 8 by run control. */
export const EXECUTION_STATUSES = [
  { id: 1, name: 'pending' },
  { id: 2, name: 'running' },
  { id: 3, name: 'success' },
  { id: 4, name: 'failed' },
  { id: 5, name: 'missed' },
  { id: 6, name: 'skipped' },
  { id: 7, name: 'cancelled' },
  { id: 8, name: 'waiting' },
] as const;

export const RUNNING_STATUS_ID = 2;

/** Runs not ended yet (a cancel applies); every other status is final (a re-run applies). */
export const OPEN_STATUSES: ReadonlySet<string> = new Set(['pending', 'running', 'waiting']);

export const OVERLAP_POLICIES: readonly OverlapPolicy[] = ['skip', 'queue', 'replace'];

/** Job type ids (scheduler_job_type). */
export const JOB_TYPE_INTERVAL = 1;
export const JOB_TYPE_CRON = 2;
