// The ONE place that knows the shape of the API's error bodies. Adjust here if the API's format changes.
//
// Understood formats:
//   {"error": "validation_error", "message": "...",
//    "fields": [{"field": "cronExpression", "reason": "..."}]}          the scheduler API's one error body
//   {"detail": [{"field": "cronExpression", "message": "..."}]}          field errors under detail
//   {"detail": [{"loc": ["body", "cronExpression"], "msg": "...", ...}]} FastAPI's default 422
//   {"detail": "Job 7 not found"}                                        HTTPException
//   {"message": "..."} / {"error": "..."}                                 other JSON
//   plain text or HTML                                                   proxies, crashed servers

export interface ParsedError {
  /** Message not tied to a field ("" when every problem is a field error). */
  message: string;
  /** camelCase API field name (or "parameters.<key>") -> message. */
  fieldErrors: Record<string, string>;
}

/** Request locations FastAPI puts first in `loc`; they are not part of the field name. */
const LOCATIONS = new Set(['body', 'query', 'path', 'header', 'cookie']);
const MAX_TEXT = 500;

function camel(segment: string): string {
  return segment.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** "cron_expression" -> "cronExpression"; "parameters.timeout_seconds" keeps the task's own key. */
export function normalizeField(raw: string | Array<string | number>): string {
  const parts = (Array.isArray(raw) ? raw.map(String) : raw.split('.')).filter((p) => p !== '');
  while (parts.length > 1 && LOCATIONS.has(parts[0] ?? '')) parts.shift();
  if (parts.length === 1 && LOCATIONS.has(parts[0] ?? '')) return '';
  if (parts.length === 0) return '';
  const [head, ...rest] = parts;
  return [camel(head ?? ''), ...rest].join('.');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string' && value.trim() !== '') return value.trim();
  return undefined;
}

function addField(errors: Record<string, string>, field: string, message: string): void {
  errors[field] = errors[field] ? `${errors[field]}; ${message}` : message;
}

function fallback(status: number, statusText: string): string {
  if (status === 0) return 'Network error: the API could not be reached';
  return `HTTP ${status}${statusText ? ` ${statusText}` : ''}`;
}

/**
 * Turn an error response body (already JSON-decoded when it was JSON, else its text) into a message and
 * field errors. Never throws and never returns an empty result: something is always shown to the user.
 */
export function parseErrorBody(status: number, body: unknown, statusText = ''): ParsedError {
  const fieldErrors: Record<string, string> = {};
  const general: string[] = [];

  const handleItem = (item: unknown): void => {
    if (typeof item === 'string') {
      general.push(item);
      return;
    }
    if (!isRecord(item)) return;
    const message = text(item.message) ?? text(item.reason) ?? text(item.msg) ?? text(item.detail) ?? JSON.stringify(item);
    const rawField = typeof item.field === 'string' ? item.field : Array.isArray(item.loc) ? (item.loc as Array<string | number>) : '';
    const field = normalizeField(rawField);
    if (field) addField(fieldErrors, field, message);
    else general.push(message);
  };

  if (typeof body === 'string') {
    const trimmed = body.trim();
    // An HTML error page says nothing useful in a banner.
    if (trimmed && !/^<(!doctype|html)/i.test(trimmed)) general.push(trimmed.slice(0, MAX_TEXT));
  } else if (Array.isArray(body)) {
    body.forEach(handleItem);
  } else if (isRecord(body)) {
    const detail = body.detail;
    if (typeof detail === 'string') general.push(detail);
    else if (Array.isArray(detail)) detail.forEach(handleItem);
    else if (isRecord(detail)) handleItem(detail);
    else {
      // `message` is the sentence; `error` a machine-readable kind, shown only when there is no sentence.
      const message = text(body.message) ?? text(body.error) ?? text(body.title);
      if (message) general.push(message);
      if (Array.isArray(body.fields)) body.fields.forEach(handleItem);
      if (Array.isArray(body.errors)) body.errors.forEach(handleItem);
    }
  }

  const message = general.join('; ');
  if (!message && Object.keys(fieldErrors).length === 0) {
    return { message: fallback(status, statusText), fieldErrors };
  }
  return { message, fieldErrors };
}
