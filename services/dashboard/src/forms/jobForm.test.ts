import { describe, expect, it } from 'vitest';
import { en } from '../i18n/en';
import { makeJob } from '../test/fakeApi';
import { buildPayload, createBody, emptyForm, formFromJob, scheduleFromForm, type JobFormState } from './jobForm';
import { paramFields } from './schema';

const fields = paramFields({
  type: 'object',
  required: ['url'],
  properties: { url: { type: 'string' }, timeout_seconds: { type: 'number', default: 30 } },
});

const form = (changes: Partial<JobFormState>): JobFormState => ({ ...emptyForm(), taskFunctionId: '4', ...changes });

describe('buildPayload (create)', () => {
  it('sends what is filled and lets the API default the rest', () => {
    const { payload, errors } = buildPayload(
      form({ nameEn: ' Ping ', intervalMinutes: '', intervalHours: '1', params: { url: 'https://x.test', timeout_seconds: '' } }),
      fields,
      'create',
      en,
    );
    expect(errors).toEqual({});
    expect(payload).toEqual({
      taskFunctionId: 4,
      nameEn: 'Ping',
      intervalHours: 1,
      priority: 0,
      maxInstances: 1,
      misfireGraceTime: 60,
      coalesce: true,
      isEnabled: true,
      maxRetries: 0,
      retryDelaySeconds: 10,
      retryBackoffFactor: 2,
      retryMaxDelaySeconds: 3600,
      overlapPolicy: 'skip',
      pauseAfterFailures: 0,
      parameters: { url: 'https://x.test' },
    });
  });

  it('sends the run control fields as numbers, the backoff factor as a decimal', () => {
    const { payload, errors } = buildPayload(
      form({ maxRetries: '3', retryDelaySeconds: '5', retryBackoffFactor: '1.5', retryMaxDelaySeconds: '60', overlapPolicy: 'queue', pauseAfterFailures: '4', params: { url: 'u' } }),
      fields,
      'create',
      en,
    );
    expect(errors).toEqual({});
    expect(payload).toMatchObject({ maxRetries: 3, retryDelaySeconds: 5, retryBackoffFactor: 1.5, retryMaxDelaySeconds: 60, overlapPolicy: 'queue', pauseAfterFailures: 4 });
  });

  it('leaves the bounds to the API but refuses what is not a number', () => {
    // 50 retries are beyond the API's 10: it answers 422 naming maxRetries, which the form shows at the field.
    const { payload, errors } = buildPayload(
      form({ maxRetries: '50', retryDelaySeconds: '2.5', retryBackoffFactor: 'fast', retryMaxDelaySeconds: '', params: { url: 'u' } }),
      fields,
      'create',
      en,
    );
    expect(payload.maxRetries).toBe(50);
    expect(payload).not.toHaveProperty('retryMaxDelaySeconds');
    expect(errors).toEqual({ retryDelaySeconds: en.invalidNumber, retryBackoffFactor: en.invalidNumber });
  });

  it('sends a cron schedule with its time zone', () => {
    const { payload } = buildPayload(form({ kind: 'cron', cronExpression: ' 0 2 * * * ', timezone: 'Asia/Riyadh', params: { url: 'u' } }), fields, 'create', en);
    expect(payload).toMatchObject({ cronExpression: '0 2 * * *', timezone: 'Asia/Riyadh' });
    expect(payload).not.toHaveProperty('intervalMinutes');
  });

  it('sends a run timeout only when given', () => {
    expect(buildPayload(form({ timeoutSeconds: '120', params: { url: 'u' } }), fields, 'create', en).payload.timeoutSeconds).toBe(120);
    expect(buildPayload(form({ params: { url: 'u' } }), fields, 'create', en).payload).not.toHaveProperty('timeoutSeconds');
  });

  it('reports client-side problems under API field names', () => {
    const { errors } = buildPayload(
      form({ taskFunctionId: '', intervalMinutes: '1.5', priority: 'x', params: { url: '', timeout_seconds: 'soon' } }),
      fields,
      'create',
      en,
    );
    expect(errors).toEqual({
      taskFunctionId: en.fieldRequired,
      intervalMinutes: en.invalidNumber,
      priority: en.invalidNumber,
      'parameters.url': en.fieldRequired,
      'parameters.timeout_seconds': en.invalidNumber,
    });
  });

  it('needs some schedule', () => {
    expect(buildPayload(form({ intervalMinutes: '', params: { url: 'u' } }), fields, 'create', en).errors).toEqual({ intervalMinutes: en.fieldRequired });
    expect(buildPayload(form({ kind: 'cron', params: { url: 'u' } }), fields, 'create', en).errors).toEqual({ cronExpression: en.fieldRequired });
  });
});

describe('buildPayload (edit)', () => {
  it('clears the schedule kind not used and empty names with null', () => {
    const job = makeJob({ intervalMinutes: 30, nameAr: undefined, parameters: { url: 'https://a.test' } });
    const state = { ...formFromJob(job, fields), kind: 'cron' as const, cronExpression: '*/5 * * * *' };
    const { payload, errors } = buildPayload(state, fields, 'edit', en);
    expect(errors).toEqual({});
    expect(payload).toMatchObject({
      nameEn: 'Nightly sync',
      nameAr: null,
      cronExpression: '*/5 * * * *',
      timezone: 'UTC',
      intervalSeconds: null,
      intervalMinutes: null,
      intervalHours: null,
      intervalDays: null,
      timeoutSeconds: null,
      parameters: { url: 'https://a.test', timeout_seconds: 30 },
    });
    expect(payload.taskFunctionId).toBe(1);
    expect(payload).not.toHaveProperty('isEnabled');
  });

  it("sends the job's run control back as it is, with what was changed", () => {
    const job = makeJob({ maxRetries: 2, retryDelaySeconds: 30, retryBackoffFactor: 1.5, retryMaxDelaySeconds: 600, overlapPolicy: 'replace', pauseAfterFailures: 3, parameters: { url: 'https://a.test' } });
    const state = { ...formFromJob(job, fields), overlapPolicy: 'queue' as const };
    expect(buildPayload(state, fields, 'edit', en).payload).toMatchObject({
      maxRetries: 2,
      retryDelaySeconds: 30,
      retryBackoffFactor: 1.5,
      retryMaxDelaySeconds: 600,
      overlapPolicy: 'queue',
      pauseAfterFailures: 3,
    });
  });

  it('switching back to an interval clears the cron expression', () => {
    const job = makeJob({ intervalMinutes: undefined, cronExpression: '0 2 * * *', jobTypeId: 2 });
    const state = { ...formFromJob(job, []), kind: 'interval' as const, intervalMinutes: '15' };
    const { payload } = buildPayload(state, [], 'edit', en);
    expect(payload).toMatchObject({ cronExpression: null, intervalMinutes: 15, intervalSeconds: null, parameters: {} });
  });
});

describe('formFromJob / scheduleFromForm', () => {
  it('round-trips a job into the form', () => {
    const state = formFromJob(makeJob({ cronExpression: '0 2 * * *', timezone: 'Europe/Berlin', intervalMinutes: undefined }), []);
    expect(state).toMatchObject({ kind: 'cron', cronExpression: '0 2 * * *', timezone: 'Europe/Berlin', priority: '5' });
    expect(scheduleFromForm(state)).toEqual({ cronExpression: '0 2 * * *', timezone: 'Europe/Berlin' });
  });

  it('has no schedule (so no preview) while incomplete or unparsable', () => {
    expect(scheduleFromForm({ ...emptyForm(), intervalMinutes: '' })).toBeUndefined();
    expect(scheduleFromForm({ ...emptyForm(), intervalMinutes: 'abc' })).toBeUndefined();
    expect(scheduleFromForm({ ...emptyForm(), kind: 'cron', cronExpression: '  ' })).toBeUndefined();
    expect(scheduleFromForm({ ...emptyForm(), intervalMinutes: '5', intervalSeconds: '30' })).toEqual({ intervalMinutes: 5, intervalSeconds: 30 });
  });
});

describe('createBody', () => {
  it('types a create payload as one kind of schedule, as the API schema says', () => {
    expect(createBody({ cronExpression: '0 2 * * *', timezone: 'UTC', priority: 3 }, 4)).toEqual({ taskFunctionId: 4, cronExpression: '0 2 * * *', timezone: 'UTC', priority: 3 });
    expect(createBody({ intervalHours: 1, intervalMinutes: undefined, nameEn: 'a' }, 4)).toEqual({ taskFunctionId: 4, intervalHours: 1, nameEn: 'a' });
  });
});
