// The job form's state and its translation to API payloads. Pure: no React, no I/O.
import type { Messages } from '../i18n/en';
import { OVERLAP_POLICIES, type CreateJobBody, type Job, type JobWritePayload, type OneSchedule, type OverlapPolicy, type ScheduleInput, type TimeZone } from '../types/api';
import { initialParamInput, paramValue, type ParamField, type ParamInput } from './schema';

export type ScheduleKind = 'interval' | 'cron';
export type FormMode = 'create' | 'edit';

export interface JobFormState {
  taskFunctionId: string;
  nameEn: string;
  nameAr: string;
  descriptionEn: string;
  descriptionAr: string;
  kind: ScheduleKind;
  intervalDays: string;
  intervalHours: string;
  intervalMinutes: string;
  intervalSeconds: string;
  cronExpression: string;
  timezone: string;
  priority: string;
  maxInstances: string;
  misfireGraceTime: string;
  /** Empty: the executor's default timeout. */
  timeoutSeconds: string;
  coalesce: boolean;
  isEnabled: boolean;
  // Run control: the retry policy, the overlap policy, the self-pause.
  maxRetries: string;
  retryDelaySeconds: string;
  retryBackoffFactor: string;
  retryMaxDelaySeconds: string;
  overlapPolicy: OverlapPolicy;
  pauseAfterFailures: string;
  params: Record<string, ParamInput>;
}

/** The run control fields sent as whole numbers. */
export const RUN_CONTROL_WHOLE = ['maxRetries', 'retryDelaySeconds', 'retryMaxDelaySeconds', 'pauseAfterFailures'] as const;

export const INTERVAL_FIELDS = ['intervalDays', 'intervalHours', 'intervalMinutes', 'intervalSeconds'] as const;
export type IntervalField = (typeof INTERVAL_FIELDS)[number];

/** Form fields that correspond to API fields (API field errors for anything else go to the banner). */
export const FORM_FIELDS = [
  'taskFunctionId',
  'nameEn',
  'nameAr',
  'descriptionEn',
  'descriptionAr',
  ...INTERVAL_FIELDS,
  'cronExpression',
  'timezone',
  'priority',
  'maxInstances',
  'misfireGraceTime',
  'timeoutSeconds',
  'coalesce',
  'isEnabled',
  ...RUN_CONTROL_WHOLE,
  'retryBackoffFactor',
  'overlapPolicy',
] as const;

export function emptyForm(): JobFormState {
  return {
    taskFunctionId: '',
    nameEn: '',
    nameAr: '',
    descriptionEn: '',
    descriptionAr: '',
    kind: 'interval',
    intervalDays: '',
    intervalHours: '',
    intervalMinutes: '5',
    intervalSeconds: '',
    cronExpression: '',
    timezone: 'UTC',
    priority: '0',
    maxInstances: '1',
    misfireGraceTime: '60',
    timeoutSeconds: '',
    coalesce: true,
    isEnabled: true,
    // The API's defaults: no retries; when retries are turned on, 10 s, doubling, at most an hour.
    maxRetries: '0',
    retryDelaySeconds: '10',
    retryBackoffFactor: '2',
    retryMaxDelaySeconds: '3600',
    overlapPolicy: 'skip',
    pauseAfterFailures: '0',
    params: {},
  };
}

const str = (value: number | string | undefined | null): string => (value === undefined || value === null ? '' : String(value));

export function formFromJob(job: Job, fields: ParamField[]): JobFormState {
  const cron = Boolean(job.cronExpression);
  return {
    taskFunctionId: String(job.taskFunctionId),
    nameEn: str(job.nameEn),
    nameAr: str(job.nameAr),
    descriptionEn: str(job.descriptionEn),
    descriptionAr: str(job.descriptionAr),
    kind: cron ? 'cron' : 'interval',
    intervalDays: str(job.intervalDays),
    intervalHours: str(job.intervalHours),
    intervalMinutes: str(job.intervalMinutes),
    intervalSeconds: str(job.intervalSeconds),
    cronExpression: str(job.cronExpression),
    timezone: job.timezone || 'UTC',
    priority: String(job.priority),
    maxInstances: String(job.maxInstances),
    misfireGraceTime: String(job.misfireGraceTime),
    timeoutSeconds: str(job.timeoutSeconds),
    coalesce: job.coalesce,
    isEnabled: job.isEnabled,
    maxRetries: String(job.maxRetries),
    retryDelaySeconds: String(job.retryDelaySeconds),
    retryBackoffFactor: String(job.retryBackoffFactor),
    retryMaxDelaySeconds: String(job.retryMaxDelaySeconds),
    overlapPolicy: OVERLAP_POLICIES.includes(job.overlapPolicy) ? job.overlapPolicy : 'skip',
    pauseAfterFailures: String(job.pauseAfterFailures),
    params: paramInputs(fields, job.parameters),
  };
}

export function paramInputs(fields: ParamField[], current: Record<string, unknown> | undefined): Record<string, ParamInput> {
  return Object.fromEntries(fields.map((field) => [field.name, initialParamInput(field, current)]));
}

type Parsed = { value: number | undefined } | { error: string };

function parseWhole(text: string, t: Messages): Parsed {
  const trimmed = text.trim();
  if (trimmed === '') return { value: undefined };
  const n = Number(trimmed);
  return Number.isInteger(n) ? { value: n } : { error: t.invalidNumber };
}

/** A decimal number (the backoff factor); the API checks its bounds. */
function parseDecimal(text: string, t: Messages): Parsed {
  const trimmed = text.trim();
  if (trimmed === '') return { value: undefined };
  const n = Number(trimmed);
  return Number.isFinite(n) ? { value: n } : { error: t.invalidNumber };
}

/**
 * The zone typed in the form. The field suggests the browser's zones; whatever is typed, the API checks it
 * against its list (the schema's pattern) and answers 422 naming `timezone`, which the form shows by the field.
 */
function zoneOf(state: JobFormState): TimeZone {
  return state.timezone.trim() || 'UTC';
}

/** The schedule as the API's fields, or undefined while it is incomplete or unparsable (no preview then). */
export function scheduleFromForm(state: JobFormState): OneSchedule | undefined {
  if (state.kind === 'cron') {
    const expression = state.cronExpression.trim();
    return expression ? { cronExpression: expression, timezone: zoneOf(state) } : undefined;
  }
  const fields: ScheduleInput & { cronExpression?: undefined } = {};
  let any = false;
  for (const name of INTERVAL_FIELDS) {
    const text = state[name].trim();
    if (text === '') continue;
    const n = Number(text);
    if (!Number.isInteger(n)) return undefined;
    fields[name] = n;
    any = true;
  }
  return any ? fields : undefined;
}

export interface BuiltPayload {
  payload: JobWritePayload;
  /** Client-side problems by API field name ("parameters.<key>" for task parameters). */
  errors: Record<string, string>;
}

/**
 * Build the POST (create) or PUT (edit) body. Create omits what is empty so the API's defaults apply;
 * edit sends every field shown, with null to clear the unused schedule kind and empty names.
 */
export function buildPayload(state: JobFormState, fields: ParamField[], mode: FormMode, t: Messages): BuiltPayload {
  const errors: Record<string, string> = {};
  const payload: JobWritePayload = {};
  const clear = mode === 'edit' ? null : undefined;

  // Sent on edit too: the same id changes nothing, another one switches the job's task.
  const taskId = Number(state.taskFunctionId);
  if (!state.taskFunctionId || !Number.isInteger(taskId)) errors.taskFunctionId = t.fieldRequired;
  else payload.taskFunctionId = taskId;

  for (const name of ['nameEn', 'nameAr', 'descriptionEn', 'descriptionAr'] as const) {
    const value = state[name].trim();
    if (value) payload[name] = value;
    else if (clear === null) payload[name] = null;
  }

  if (state.kind === 'interval') {
    let any = false;
    for (const name of INTERVAL_FIELDS) {
      const parsed = parseWhole(state[name], t);
      if ('error' in parsed) errors[name] = parsed.error;
      else if (parsed.value !== undefined) {
        payload[name] = parsed.value;
        any = true;
      } else if (clear === null) payload[name] = null;
    }
    if (!any && !INTERVAL_FIELDS.some((name) => errors[name])) errors.intervalMinutes = t.fieldRequired;
    if (clear === null) payload.cronExpression = null;
  } else {
    const expression = state.cronExpression.trim();
    if (!expression) errors.cronExpression = t.fieldRequired;
    else payload.cronExpression = expression;
    payload.timezone = zoneOf(state);
    if (clear === null) for (const name of INTERVAL_FIELDS) payload[name] = null;
  }

  for (const name of ['priority', 'maxInstances', 'misfireGraceTime'] as const) {
    const parsed = parseWhole(state[name], t);
    if ('error' in parsed) errors[name] = parsed.error;
    else if (parsed.value !== undefined) payload[name] = parsed.value;
  }
  const timeout = parseWhole(state.timeoutSeconds, t);
  if ('error' in timeout) errors.timeoutSeconds = timeout.error;
  else if (timeout.value !== undefined) payload.timeoutSeconds = timeout.value;
  else if (clear === null) payload.timeoutSeconds = null;
  payload.coalesce = state.coalesce;
  if (mode === 'create') payload.isEnabled = state.isEnabled;

  // Run control: never null; an emptied field keeps the API's default (create) or the job's value (edit). Bounds
  // are the API's to check: its 422 names the field, and the form shows the reason there.
  for (const name of RUN_CONTROL_WHOLE) {
    const parsed = parseWhole(state[name], t);
    if ('error' in parsed) errors[name] = parsed.error;
    else if (parsed.value !== undefined) payload[name] = parsed.value;
  }
  const backoff = parseDecimal(state.retryBackoffFactor, t);
  if ('error' in backoff) errors.retryBackoffFactor = backoff.error;
  else if (backoff.value !== undefined) payload.retryBackoffFactor = backoff.value;
  payload.overlapPolicy = state.overlapPolicy;

  const parameters: Record<string, unknown> = {};
  for (const field of fields) {
    const result = paramValue(field, state.params[field.name]);
    if ('error' in result) {
      errors[`parameters.${field.name}`] =
        result.error === 'required' ? t.fieldRequired : result.error === 'json' ? t.invalidJson : t.invalidNumber;
    } else if ('value' in result) parameters[field.name] = result.value;
  }
  if (fields.length > 0 || mode === 'edit') payload.parameters = parameters;

  return { payload, errors };
}


/**
 * A create payload (buildPayload in create mode) as the API's schema types it: a cron expression and no interval
 * field, or no cron expression. Create mode never sends nulls, so this only drops what is absent anyway.
 */
export function createBody(payload: JobWritePayload, taskFunctionId: number): CreateJobBody {
  const { cronExpression, intervalDays, intervalHours, intervalMinutes, intervalSeconds, ...rest } = payload;
  if (typeof cronExpression === 'string') return { ...rest, taskFunctionId, cronExpression };
  const intervals = { intervalDays, intervalHours, intervalMinutes, intervalSeconds };
  const given = Object.fromEntries(Object.entries(intervals).filter(([, value]) => typeof value === 'number'));
  return { ...rest, ...given, taskFunctionId };
}
