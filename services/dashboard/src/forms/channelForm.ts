// The notification channel form: its state, from a channel and to the create (POST) or update (PUT) body.
// Validation is the API's: its 422 names every invalid field at once and the form shows each at its field. The only
// check here is one the body's type cannot carry: job ids typed as text must be whole numbers.
import type { Messages } from '../i18n/en';
import type { ChannelEvent, ChannelFormat, NotificationChannel, NotificationChannelCreate, NotificationChannelUpdate } from '../types/api';

/** The event types a channel can take, in the order the API documents them. */
export const CHANNEL_EVENTS: readonly ChannelEvent[] = [
  'run.failed',
  'run.missed',
  'run.skipped',
  'job.paused',
  'job.recovered',
  'job.silent',
  'executor.lost',
];
export const CHANNEL_FORMATS: readonly ChannelFormat[] = ['json', 'slack'];

/** Fields of the form, by API name: an API error on any other field is listed in the form's summary. */
export const CHANNEL_FIELDS = ['name', 'url', 'events', 'jobIds', 'secret', 'format', 'enabled'] as const;

export interface ChannelFormState {
  name: string;
  url: string;
  events: ChannelEvent[];
  /** Comma-separated job ids; empty = every job. */
  jobIds: string;
  /** Create: empty = unsigned. Edit: empty = keep the current secret. */
  secret: string;
  /** Edit only: clear the secret (null). */
  removeSecret: boolean;
  format: ChannelFormat;
  enabled: boolean;
}

export function emptyChannelForm(): ChannelFormState {
  return { name: '', url: '', events: [], jobIds: '', secret: '', removeSecret: false, format: 'json', enabled: true };
}

export function isChannelEvent(value: string): value is ChannelEvent {
  return CHANNEL_EVENTS.some((event) => event === value);
}

export function formFromChannel(channel: NotificationChannel): ChannelFormState {
  return {
    name: channel.name,
    url: channel.url,
    events: channel.events.filter(isChannelEvent),
    jobIds: (channel.jobIds ?? []).join(', '),
    secret: '',
    removeSecret: false,
    format: channel.format,
    enabled: channel.enabled,
  };
}

/** "3, 7" -> [3, 7]; "" -> null (every job); anything else -> undefined (not whole numbers). */
export function parseJobIds(text: string): number[] | null | undefined {
  const parts = text.split(/[\s,]+/).filter((part) => part !== '');
  if (parts.length === 0) return null;
  if (!parts.every((part) => /^\d+$/.test(part))) return undefined;
  return parts.map(Number);
}

export type BuiltChannel =
  | { mode: 'create'; body: NotificationChannelCreate; errors: Record<string, string> }
  | { mode: 'edit'; body: NotificationChannelUpdate; errors: Record<string, string> };

/**
 * Create sends every field (an empty name, URL or event list too: the API's 422 says why, with the other fields'
 * reasons). Edit sends every field but the secret, which only changes when typed (or removed).
 */
export function buildChannel(state: ChannelFormState, mode: 'create' | 'edit', t: Messages): BuiltChannel {
  const errors: Record<string, string> = {};
  const jobIds = parseJobIds(state.jobIds);
  if (jobIds === undefined) errors.jobIds = t.channelJobIdsInvalid;
  const common = {
    name: state.name.trim(),
    url: state.url.trim(),
    events: state.events,
    jobIds: jobIds ?? null,
    format: state.format,
    enabled: state.enabled,
  };
  if (mode === 'create') return { mode, body: { ...common, secret: state.secret === '' ? null : state.secret }, errors };
  const body: NotificationChannelUpdate = { ...common };
  if (state.removeSecret) body.secret = null;
  else if (state.secret !== '') body.secret = state.secret;
  return { mode, body, errors };
}

/** An API field error's form field: "events.2" and "jobIds.0" are shown at events and jobIds. */
export function channelFieldOf(apiField: string): string {
  const head = apiField.split('.')[0] ?? apiField;
  return (CHANNEL_FIELDS as readonly string[]).includes(head) ? head : apiField;
}

/** The API's field errors by form field (several on one field joined), and those no field of the form shows. */
export function placeChannelErrors(fieldErrors: Record<string, string>): { placed: Record<string, string>; unplaced: Array<[string, string]> } {
  const placed: Record<string, string> = {};
  const unplaced: Array<[string, string]> = [];
  for (const [field, message] of Object.entries(fieldErrors)) {
    const target = channelFieldOf(field);
    if ((CHANNEL_FIELDS as readonly string[]).includes(target)) placed[target] = placed[target] ? `${placed[target]}; ${message}` : message;
    else unplaced.push([field, message]);
  }
  return { placed, unplaced };
}
