// The reference's TypeScript interfaces (seed/job-scheduler-reference.md, "TypeScript Types"), verbatim.
// They are the app's types; contract.test-d.ts proves the API's generated response types satisfy them.

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
}

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
