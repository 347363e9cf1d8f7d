// The reference's TypeScript interfaces (seed/job-scheduler-reference.md, "TypeScript Types"), verbatim, extended
// with run control (issue 18: retries, overlap policy, pause after failures, cancel and re-run, backfill). Every
// line the reference does not have sits under a "Run control" comment. They are the app's types;
// contract.test-d.ts proves the API's generated response and request types agree with them.

export interface ScheduledJob {
  id: number;
  taskFunctionId: number;
  taskFunctionKey: string;
  jobTypeId: number;
  jobTypeName: string;
  nameEn?: string;
  nameAr?: string;
  descriptionEn?: string;
  descriptionAr?: string;
  cronExpression?: string;
  intervalSeconds?: number;
  intervalMinutes?: number;
  intervalHours?: number;
  intervalDays?: number;
  priority: number;
  maxInstances: number;
  misfireGraceTime: number;
  coalesce: boolean;
  isEnabled: boolean;
  isActive: boolean;
  isPrimary: boolean;
  lastRunAt?: string;
  nextRunAt?: string;
  createdAt: string;
  updatedAt?: string;
  // Run control (issue 18).
  /** Attempts after a failed (timed-out, lost) one: 0-10; 0 = no retries. */
  maxRetries: number;
  /** Seconds from a failed attempt's end to the first retry. */
  retryDelaySeconds: number;
  /** Each further retry waits this many times longer than the last (1.0-10.0). */
  retryBackoffFactor: number;
  /** Seconds a retry waits at most (before up to 10 % of jitter). */
  retryMaxDelaySeconds: number;
  /** A run due while maxInstances runs are running. */
  overlapPolicy: OverlapPolicy;
  /** The job pauses itself after this many slots in a row failed; 0 = never. */
  pauseAfterFailures: number;
  /** Slots in a row that failed (retries exhausted) since the last success. */
  consecutiveFailures: number;
  /** Why the job paused itself; absent otherwise (resume clears it). */
  pausedReason?: string;
}

// Run control (issue 18): skip (recorded skipped), queue (waits for a free place, in slot order), replace (the
// oldest running run is cancelled).
export type OverlapPolicy = 'skip' | 'queue' | 'replace';

export interface ScheduledJobExecution {
  id: number;
  jobId: number;
  executionId: string;
  scheduledAt: string;
  startedAt?: string;
  completedAt?: string;
  durationMs?: number;
  statusId: number;
  statusName: string;
  errorMessage?: string;
  resultSummary?: string;
  executorId: string;
  hostName: string;
  // Run control (issue 18).
  /** 1-based: a retry of a failed attempt is its slot's next attempt. */
  attempt: number;
  /** The slot's first attempt (the run's own id on a first attempt). */
  firstExecutionId: string;
  /** The attempt that followed this failed one; absent on a slot's final attempt. */
  retriedBy?: string;
  /** When an executor claimed the run. */
  claimedAt?: string;
  /** When the run started waiting for a free place (overlap policy queue or replace). */
  queuedAt?: string;
  /** A waiting run: when it goes out (a retry's delay); absent while it waits for a place. */
  releaseAt?: string;
  /** The finished run this manual run runs again. */
  rerunOf?: string;
  /** When someone asked to cancel the run. */
  cancelRequestedAt?: string;
  /** Who asked: a user, or the run that replaced it. */
  cancelledBy?: string;
}

export type JobAction = 'enable' | 'disable' | 'trigger' | 'pause' | 'resume';

export interface JobActionRequest {
  action: JobAction;
}

export interface JobActionResponse {
  success: boolean;
  message: string;
  executionId?: string;
  job: ScheduledJob;
}

// Run control (issue 18): POST /jobs/{id}/executions/{executionId}/action. cancel: a pending, waiting or running
// run; rerun: a finished run, again now as a manual run. 409 with the reason when it does not apply.
export type ExecutionAction = 'cancel' | 'rerun';

export interface ExecutionActionRequest {
  action: ExecutionAction;
}

export interface ExecutionActionResponse {
  success: boolean;
  message: string;
  /** cancel: the run as it stands now; rerun: the new run. */
  execution: ScheduledJobExecution;
}

// Run control (issue 18): POST /jobs/{id}/backfill runs the job's past slots in [from, to] that have no run yet
// (at most 1,000; 422 beyond, or when `to` is in the future). Instants are ISO 8601 with an offset.
export interface BackfillRequest {
  from: string;
  to: string;
}

export interface BackfillResponse {
  success: boolean;
  message: string;
  /** Slots of the job's schedule in the range. */
  slots: number;
  /** Runs created (trigger 'backfill'). */
  created: number;
  /** Slots that had a run already, left alone. */
  existing: number;
  executionIds: string[];
}

export interface SchedulerStatus {
  isRunning: boolean;
  mode: string;
  instanceId: string;
  activeInstances: number;
  totalJobs: number;
  enabledJobs: number;
  runningExecutions: number;
  lastHeartbeat: string;
}
