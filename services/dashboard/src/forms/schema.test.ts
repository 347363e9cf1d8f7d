import { describe, expect, it } from 'vitest';
import { fallbackFields, initialParamInput, paramFields, paramValue } from './schema';

// What pydantic's model_json_schema() produces for the built-in http_request task.
const HTTP_REQUEST_SCHEMA = {
  additionalProperties: false,
  title: 'HttpRequestParams',
  type: 'object',
  required: ['url'],
  $defs: { Method: { enum: ['GET', 'POST', 'PUT'], title: 'Method', type: 'string' } },
  properties: {
    method: { $ref: '#/$defs/Method', default: 'GET' },
    url: { format: 'uri', maxLength: 2083, minLength: 1, title: 'Url', type: 'string' },
    headers: { additionalProperties: { type: 'string' }, title: 'Headers', type: 'object' },
    body: { anyOf: [{ type: 'string' }, { type: 'null' }], default: null, description: 'Request body, sent as is.', title: 'Body' },
    json_body: { anyOf: [{ additionalProperties: true, type: 'object' }, { items: {}, type: 'array' }, { type: 'null' }], default: null, title: 'Json Body' },
    timeout_seconds: { default: 30, exclusiveMinimum: 0, maximum: 3600, title: 'Timeout Seconds', type: 'number' },
    retries: { default: 0, minimum: 0, type: 'integer' },
    verify: { default: true, type: 'boolean' },
  },
};

describe('paramFields', () => {
  const fields = paramFields(HTTP_REQUEST_SCHEMA);
  const byName = Object.fromEntries(fields.map((f) => [f.name, f]));

  it('maps each property to a control kind', () => {
    expect(fields.map((f) => [f.name, f.kind])).toEqual([
      ['method', 'enum'],
      ['url', 'string'],
      ['headers', 'json'],
      ['body', 'string'],
      ['json_body', 'json'],
      ['timeout_seconds', 'number'],
      ['retries', 'integer'],
      ['verify', 'boolean'],
    ]);
  });

  it('resolves $ref, keeps titles, descriptions, defaults, bounds and required', () => {
    expect(byName.method).toMatchObject({ enumValues: ['GET', 'POST', 'PUT'], default: 'GET', label: 'Method' });
    expect(byName.url).toMatchObject({ required: true, format: 'uri', label: 'Url' });
    expect(byName.body).toMatchObject({ nullable: true, description: 'Request body, sent as is.' });
    expect(byName.timeout_seconds).toMatchObject({ minimum: 0, maximum: 3600, default: 30 });
    expect(byName.retries?.label).toBe('Retries');
  });

  it('gives no fields for a parameterless task or no schema', () => {
    expect(paramFields({ additionalProperties: false, properties: {}, title: 'NoParameters', type: 'object' })).toEqual([]);
    expect(paramFields(undefined)).toEqual([]);
  });
});

describe('paramValue', () => {
  const [method, url, headers, body, , timeout, retries, verify] = paramFields(HTTP_REQUEST_SCHEMA);

  it('converts inputs to JSON values', () => {
    expect(paramValue(url!, ' https://example.com ')).toEqual({ value: ' https://example.com ' });
    expect(paramValue(timeout!, '2.5')).toEqual({ value: 2.5 });
    expect(paramValue(retries!, '3')).toEqual({ value: 3 });
    expect(paramValue(verify!, false)).toEqual({ value: false });
    expect(paramValue(method!, 'POST')).toEqual({ value: 'POST' });
    expect(paramValue(headers!, '{"X-A": "1"}')).toEqual({ value: { 'X-A': '1' } });
  });

  it('omits empty optional inputs so the API default applies', () => {
    expect(paramValue(body!, '')).toEqual({ omit: true });
    expect(paramValue(timeout!, '  ')).toEqual({ omit: true });
  });

  it('reports invalid inputs', () => {
    expect(paramValue(url!, '')).toEqual({ error: 'required' });
    expect(paramValue(retries!, '1.5')).toEqual({ error: 'number' });
    expect(paramValue(timeout!, 'abc')).toEqual({ error: 'number' });
    expect(paramValue(headers!, '{oops')).toEqual({ error: 'json' });
  });
});

describe('initialParamInput', () => {
  const [method, , headers, body, , timeout, , verify] = paramFields(HTTP_REQUEST_SCHEMA);

  it('prefers the current value, then the default', () => {
    expect(initialParamInput(method!, undefined)).toBe('GET');
    expect(initialParamInput(method!, { method: 'PUT' })).toBe('PUT');
    expect(initialParamInput(timeout!, undefined)).toBe('30');
    expect(initialParamInput(body!, undefined)).toBe('');
    expect(initialParamInput(verify!, undefined)).toBe(true);
    expect(initialParamInput(headers!, { headers: { a: 'b' } })).toBe('{\n  "a": "b"\n}');
  });

  it('keeps parameters editable as JSON when the schema is unknown', () => {
    const fields = fallbackFields({ seconds: 5 });
    expect(fields).toMatchObject([{ name: 'seconds', kind: 'json' }]);
    expect(paramValue(fields[0]!, initialParamInput(fields[0]!, { seconds: 5 }))).toEqual({ value: 5 });
  });
});
