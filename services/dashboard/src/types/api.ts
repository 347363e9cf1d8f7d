// The app's view of the API beyond the reference's interfaces (scheduler.ts): fields the design adds to the
// reference's models, and the shapes of endpoints the reference names without a body (task functions,
// schedule preview, status instances, error bodies). contract.test-d.ts checks the generated OpenAPI types
// against every type here, so a drift between the API and these assumptions fails `npm test`.
//
// The API client turns JSON nulls into absent properties (see api/client.ts), so optional fields are
// `field?: T`, as in the reference, never `T | null`.

import type { components } from './api.generated';
import type {
  BackfillRequest,
  BackfillResponse,
  ExecutionAction,
  ExecutionActionResponse,
  JobAction,
  JobActionResponse,
  OverlapPolicy,
  ScheduledJob,
  ScheduledJobExecution,
  SchedulerStatus,
} from './scheduler';

/** An IANA zone name the API accepts: one of the pinned tzdata's, which its schema's pattern lists. */
export type TimeZone = components['schemas']['TimeZone'];

/** A job as the API returns it: the reference's fields plus the design's additions. */
export interface Job extends ScheduledJob {
  /** IANA zone the cron expression is read in (interval jobs ignore it). */
  timezone?: string;
  /** Paused jobs keep isEnabled; resume continues from the next slot. */
  isPaused?: boolean;
  /** Task arguments, validated against the task function's parametersSchema. */
  parameters?: Record<string, unknown>;
  /** Per-job run timeout in seconds; absent = the executor's default. */
  timeoutSeconds?: number;
  /** The schedule in English words, from the API (the dashboard localizes its own). */
  scheduleDescription?: string;
}

/** One run of a job: the reference's fields plus the traceback and why the run exists. */
export interface Execution extends ScheduledJobExecution {
  errorTraceback?: string;
  /** "schedule" | "manual" (run now, or a re-run) | "backfill"; a retry keeps its slot's. */
  trigger?: string;
  /** A coalesced run stands for this many slots. */
  coalescedCount?: number;
  /** Earliest slot folded into this run, when coalesced. */
  coalescedFrom?: string;
}

/** Paged list. The reference's job list has all five fields; its history example shows items and total only. */
export interface Page<T> {
  items: T[];
  total: number;
  page?: number;
  perPage?: number;
  totalPages?: number;
  /** History only: past 10,000 runs the total may be the database's estimate. */
  totalIsEstimate?: boolean;
}

export interface ActionResult extends Omit<JobActionResponse, 'job'> {
  job: Job;
}

export type { BackfillRequest, BackfillResponse, ExecutionAction, JobAction, OverlapPolicy };

/** POST /jobs/{id}/executions/{executionId}/action: cancel's run as it stands, or rerun's new run. */
export interface ExecutionActionResult extends Omit<ExecutionActionResponse, 'execution'> {
  execution: Execution;
}

/** One scheduler process (table scheduler_instance) that has not stopped. */
export interface SchedulerInstanceInfo {
  id: string;
  name: string;
  hostName: string;
  processId?: number;
  /** "embedded" | "standalone" */
  mode: string;
  /** "api" | "timekeeper" | "executor" | "embedded" */
  role?: string;
  /** "starting" | "running" | "paused" | "stopped" */
  status: string;
  lastHeartbeat: string;
  startedAt?: string;
  /** Seconds since the last heartbeat, by the database clock, when the API answered. */
  heartbeatAgeSeconds?: number;
  /** Heartbeat younger than the deployment's instance timeout. */
  isLive?: boolean;
}

/** GET /status: the reference's SchedulerStatus plus the instances and the runs in progress. */
export interface SchedulerStatusInfo extends SchedulerStatus {
  instances?: SchedulerInstanceInfo[];
  /** Running executions, longest-running first. */
  executionsInProgress?: Execution[];
}

/** GET /task-functions items. parametersSchema is the JSON schema of the task's parameters (pydantic). */
export interface TaskFunctionInfo {
  id: number;
  key: string;
  nameEn: string;
  nameAr: string;
  descriptionEn?: string;
  descriptionAr?: string;
  isActive?: boolean;
  parametersSchema?: Record<string, unknown>;
}

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
    | { cronExpression: string; intervalSeconds?: null; intervalMinutes?: null; intervalHours?: null; intervalDays?: null }
    | { cronExpression?: null }
  );

/** POST /schedule/preview body; `count`: how many upcoming fire times to return; `from`: at or after this instant. */
export type SchedulePreviewRequest = OneSchedule & { count: number; from?: string };

/** POST /schedule/preview and GET /jobs/{id}/preview response. */
export interface SchedulePreviewResponse {
  /** Next fire times (UTC), ascending; fewer if the schedule stops firing. */
  fireTimes: string[];
  /** The schedule in (English) words. */
  description: string;
  timezone?: string;
}

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
