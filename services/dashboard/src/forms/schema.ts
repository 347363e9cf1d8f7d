// Task parameters as form fields, from the task function's JSON schema (pydantic's model_json_schema()).
// Simple properties (string, number, integer, boolean, enum, and their nullable forms) get a proper control;
// anything else (objects, arrays, unions) is edited as JSON. The API validates the result either way.

export type ParamKind = 'string' | 'number' | 'integer' | 'boolean' | 'enum' | 'json';

export interface ParamField {
  name: string;
  label: string;
  description?: string;
  kind: ParamKind;
  required: boolean;
  nullable: boolean;
  enumValues?: Array<string | number>;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  format?: string;
}

/** What a field's control holds: text for inputs and JSON, a boolean for checkboxes. */
export type ParamInput = string | boolean;

type Schema = Record<string, unknown>;

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function resolve(schema: unknown, root: Schema, depth = 0): Schema {
  if (!isSchema(schema)) return {};
  const ref = schema.$ref;
  if (typeof ref === 'string' && depth < 10) {
    const match = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
    const defs = match ? root[match[1] ?? ''] : undefined;
    const target = isSchema(defs) ? defs[decodeURIComponent(match?.[2] ?? '')] : undefined;
    const { $ref: _ignored, ...rest } = schema;
    return { ...resolve(target, root, depth + 1), ...rest };
  }
  // allOf with one member is how pydantic attaches a description to a $ref.
  if (Array.isArray(schema.allOf) && schema.allOf.length === 1) {
    const { allOf, ...rest } = schema;
    return { ...resolve(allOf[0], root, depth + 1), ...rest };
  }
  return schema;
}

function humanize(name: string): string {
  const words = name.replace(/_/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The form fields of a parameters schema; [] for no schema or a schema without properties. */
export function paramFields(schema: Record<string, unknown> | undefined): ParamField[] {
  if (!schema) return [];
  const root = schema;
  const properties = isSchema(root.properties) ? root.properties : {};
  const required = new Set(Array.isArray(root.required) ? root.required.filter((r): r is string => typeof r === 'string') : []);

  return Object.entries(properties).map(([name, raw]) => {
    let prop = resolve(raw, root);
    let nullable = false;
    const union = Array.isArray(prop.anyOf) ? prop.anyOf : Array.isArray(prop.oneOf) ? prop.oneOf : undefined;
    if (union) {
      const members = union.map((m) => resolve(m, root));
      const nonNull = members.filter((m) => m.type !== 'null');
      nullable = nonNull.length < members.length;
      const { anyOf: _a, oneOf: _o, ...outer } = prop;
      prop = nonNull.length === 1 ? { ...nonNull[0], ...outer } : { ...outer, type: 'json-union' };
    }
    let type = prop.type;
    if (Array.isArray(type)) {
      const types = type.filter((t) => t !== 'null');
      nullable = nullable || types.length < type.length;
      type = types.length === 1 ? types[0] : 'json-union';
    }

    let kind: ParamKind;
    let enumValues: Array<string | number> | undefined;
    if (Array.isArray(prop.enum) && prop.enum.every((v) => typeof v === 'string' || typeof v === 'number')) {
      kind = 'enum';
      enumValues = prop.enum as Array<string | number>;
    } else if ('const' in prop && (typeof prop.const === 'string' || typeof prop.const === 'number')) {
      kind = 'enum';
      enumValues = [prop.const];
    } else if (type === 'string') kind = 'string';
    else if (type === 'integer') kind = 'integer';
    else if (type === 'number') kind = 'number';
    else if (type === 'boolean') kind = 'boolean';
    else kind = 'json';

    const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
    return {
      name,
      label: typeof prop.title === 'string' ? prop.title : humanize(name),
      description: typeof prop.description === 'string' ? prop.description : undefined,
      kind,
      required: required.has(name),
      nullable,
      enumValues,
      default: prop.default,
      minimum: num(prop.minimum) ?? num(prop.exclusiveMinimum),
      maximum: num(prop.maximum) ?? num(prop.exclusiveMaximum),
      format: typeof prop.format === 'string' ? prop.format : undefined,
    };
  });
}

/** Initial control value: the job's current value, else the schema default, else empty. */
export function initialParamInput(field: ParamField, current: Record<string, unknown> | undefined): ParamInput {
  const has = current !== undefined && Object.prototype.hasOwnProperty.call(current, field.name);
  const value = has ? current[field.name] : field.default;
  if (field.kind === 'boolean') return value === true;
  if (value === undefined || value === null) return '';
  if (field.kind === 'json') return JSON.stringify(value, null, 2);
  return String(value);
}

export type ParamResult = { value: unknown } | { omit: true } | { error: 'required' | 'number' | 'json' };

/** The value to send for a field, `omit` to let the API apply its default, or why the input is invalid. */
export function paramValue(field: ParamField, input: ParamInput | undefined): ParamResult {
  if (field.kind === 'boolean') return { value: input === true };
  const text = typeof input === 'string' ? input.trim() : '';
  if (text === '') return field.required && field.default === undefined ? { error: 'required' } : { omit: true };
  switch (field.kind) {
    case 'integer':
    case 'number': {
      const n = Number(text);
      if (!Number.isFinite(n) || (field.kind === 'integer' && !Number.isInteger(n))) return { error: 'number' };
      return { value: n };
    }
    case 'enum': {
      const match = field.enumValues?.find((v) => String(v) === text);
      return { value: match ?? text };
    }
    case 'json':
      try {
        return { value: JSON.parse(text) as unknown };
      } catch {
        return { error: 'json' };
      }
    default:
      return { value: typeof input === 'string' ? input : text };
  }
}

/** When a job's task schema is unavailable, edit its current parameters as JSON rather than dropping them. */
export function fallbackFields(parameters: Record<string, unknown> | undefined): ParamField[] {
  return Object.keys(parameters ?? {}).map((name) => ({ name, label: name, kind: 'json', required: false, nullable: true }));
}
