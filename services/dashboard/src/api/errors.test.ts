import { describe, expect, it } from 'vitest';
import { normalizeField, parseErrorBody } from './errors';

describe('parseErrorBody', () => {
  it("reads the scheduler API's error body (error, message, fields with reasons)", () => {
    const parsed = parseErrorBody(422, {
      error: 'validation_error',
      message: 'Invalid input',
      fields: [
        { field: 'cronExpression', reason: "'61 * * * *' is not a valid cron expression" },
        { field: 'parameters.url', reason: 'Input should be a valid URL' },
      ],
    });
    expect(parsed).toEqual({
      message: 'Invalid input',
      fieldErrors: {
        cronExpression: "'61 * * * *' is not a valid cron expression",
        'parameters.url': 'Input should be a valid URL',
      },
    });
    expect(parseErrorBody(409, { error: 'conflict', message: 'job 3 is already paused', fields: [] })).toEqual({
      message: 'job 3 is already paused',
      fieldErrors: {},
    });
    // Only the machine-readable kind: better than nothing.
    expect(parseErrorBody(503, { error: 'unavailable' }).message).toBe('unavailable');
  });

  it('reads field errors under detail', () => {
    const parsed = parseErrorBody(422, {
      detail: [
        { field: 'cronExpression', message: "'61 * * * *' is not a valid cron expression" },
        { field: 'maxInstances', message: 'must be between 1 and 10' },
      ],
    });
    expect(parsed).toEqual({
      message: '',
      fieldErrors: {
        cronExpression: "'61 * * * *' is not a valid cron expression",
        maxInstances: 'must be between 1 and 10',
      },
    });
  });

  it("reads FastAPI's default validation errors (loc/msg), dropping the location and camel-casing", () => {
    const parsed = parseErrorBody(422, {
      detail: [
        { loc: ['body', 'max_instances'], msg: 'Input should be less than or equal to 10', type: 'less_than_equal' },
        { loc: ['body', 'parameters', 'timeout_seconds'], msg: 'Input should be greater than 0', type: 'greater_than' },
        { loc: ['body'], msg: 'Field required', type: 'missing' },
      ],
    });
    expect(parsed.fieldErrors).toEqual({
      maxInstances: 'Input should be less than or equal to 10',
      'parameters.timeout_seconds': 'Input should be greater than 0',
    });
    expect(parsed.message).toBe('Field required');
  });

  it('joins several messages for one field', () => {
    const parsed = parseErrorBody(422, { detail: [{ field: 'timezone', message: 'a' }, { field: 'timezone', message: 'b' }] });
    expect(parsed.fieldErrors.timezone).toBe('a; b');
  });

  it('reads a plain detail string', () => {
    expect(parseErrorBody(404, { detail: 'Job 7 not found' })).toEqual({ message: 'Job 7 not found', fieldErrors: {} });
  });

  it('reads a single detail object and message/error keys', () => {
    expect(parseErrorBody(409, { detail: { field: 'nameEn', message: 'taken' } }).fieldErrors).toEqual({ nameEn: 'taken' });
    expect(parseErrorBody(500, { message: 'boom' }).message).toBe('boom');
    expect(parseErrorBody(500, { error: 'kaput' }).message).toBe('kaput');
  });

  it('uses a text body as the message, but not an HTML error page', () => {
    expect(parseErrorBody(502, 'Bad gateway from proxy').message).toBe('Bad gateway from proxy');
    expect(parseErrorBody(502, '<!DOCTYPE html><html>…</html>', 'Bad Gateway').message).toBe('HTTP 502 Bad Gateway');
  });

  it('never returns nothing', () => {
    expect(parseErrorBody(500, '').message).toBe('HTTP 500');
    expect(parseErrorBody(503, {}, 'Service Unavailable').message).toBe('HTTP 503 Service Unavailable');
    expect(parseErrorBody(400, { detail: [] }).message).toBe('HTTP 400');
    expect(parseErrorBody(0, undefined).message).toMatch(/network/i);
  });
});

describe('normalizeField', () => {
  it.each([
    ['cronExpression', 'cronExpression'],
    ['cron_expression', 'cronExpression'],
    ['body.interval_minutes', 'intervalMinutes'],
    ['parameters.json_body', 'parameters.json_body'],
    ['query.per_page', 'perPage'],
    ['body', ''],
  ])('%s -> %s', (raw, expected) => {
    expect(normalizeField(raw)).toBe(expected);
  });

  it('accepts a loc array with indexes', () => {
    expect(normalizeField(['body', 'parameters', 'headers', 0])).toBe('parameters.headers.0');
  });
});
