// Dates, durations and ages, localized. Pure functions of their inputs (the "now" is passed in).
import type { Lang } from '../i18n/lang';

/** Locale tag for Intl: Arabic with Latin digits, which operators compare against logs. */
export function localeOf(lang: Lang): string {
  return lang === 'ar' ? 'ar-u-nu-latn' : 'en-GB';
}

function parse(iso: string | undefined): Date | undefined {
  if (!iso) return undefined;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/**
 * An instant as date, time and zone ("7 Jan 2025, 11:30:00 CET"): in `timeZone` when given, else the browser's zone,
 * always labelled, so that times of different zones on one page cannot be confused.
 */
export function formatDateTime(iso: string | undefined, lang: Lang, timeZone?: string): string {
  const date = parse(iso);
  if (!date) return '—';
  const options: Intl.DateTimeFormatOptions = {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short',
  };
  try {
    return new Intl.DateTimeFormat(localeOf(lang), { ...options, timeZone }).format(date);
  } catch {
    // Unknown zone name: the browser's zone (labelled) rather than nothing.
    return new Intl.DateTimeFormat(localeOf(lang), options).format(date);
  }
}

const RELATIVE_UNITS: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ['day', 86_400],
  ['hour', 3_600],
  ['minute', 60],
  ['second', 1],
];

/**
 * "in 5 minutes", "3 seconds ago" (Arabic: "خلال 5 دقائق", "قبل 3 ثوانٍ"). `past`: the instant is known to be
 * in the past (a last run), so a server clock slightly ahead of the browser's never shows it as "in 1 second".
 */
export function formatRelative(iso: string | undefined, now: Date, lang: Lang, past = false): string {
  const date = parse(iso);
  if (!date) return '—';
  const raw = Math.round((date.getTime() - now.getTime()) / 1000);
  const seconds = past ? Math.min(0, raw) : raw;
  const abs = Math.abs(seconds);
  const rtf = new Intl.RelativeTimeFormat(localeOf(lang), { numeric: 'auto' });
  for (const [unit, size] of RELATIVE_UNITS) {
    if (abs >= size || unit === 'second') return rtf.format(Math.trunc(seconds / size), unit);
  }
  return rtf.format(seconds, 'second');
}

function unit(value: number, unitName: string, lang: Lang, fractionDigits = 0): string {
  return new Intl.NumberFormat(localeOf(lang), {
    style: 'unit',
    unit: unitName,
    unitDisplay: 'narrow',
    maximumFractionDigits: fractionDigits,
    minimumFractionDigits: fractionDigits,
  }).format(value);
}

/** A run's duration: "850ms", "4.2s", "2m 5s", "1h 2m" (Arabic: "4.2 ث"). */
export function formatDuration(ms: number | undefined, lang: Lang): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return unit(Math.round(ms), 'millisecond', lang);
  if (ms < 60_000) return unit(ms / 1000, 'second', lang, 1);
  return formatSeconds(Math.round(ms / 1000), lang);
}

/** A whole number of seconds as its two largest units: "45s", "2m 5s", "1h 2m", "3d 4h". */
export function formatSeconds(totalSeconds: number, lang: Lang): string {
  const s = Math.max(0, Math.round(totalSeconds));
  const parts: Array<[number, string]> = [
    [Math.floor(s / 86_400), 'day'],
    [Math.floor((s % 86_400) / 3_600), 'hour'],
    [Math.floor((s % 3_600) / 60), 'minute'],
    [s % 60, 'second'],
  ];
  const first = parts.findIndex(([n]) => n > 0);
  if (first === -1) return unit(0, 'second', lang);
  return parts
    .slice(first, first + 2)
    .filter(([n]) => n > 0)
    .map(([n, u]) => unit(n, u, lang))
    .join(' ');
}

/** Seconds between an instant and now (never negative: clocks drift). */
export function ageSeconds(iso: string | undefined, now: Date): number | undefined {
  const date = parse(iso);
  if (!date) return undefined;
  return Math.max(0, (now.getTime() - date.getTime()) / 1000);
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** A datetime-local input's value ("2025-01-07T10:30") for an instant, on the browser's wall clock. */
export function toLocalInput(date: Date): string {
  return `${date.getFullYear()}-${pad2(date.getMonth() + 1)}-${pad2(date.getDate())}T${pad2(date.getHours())}:${pad2(date.getMinutes())}`;
}

/**
 * The instant a datetime-local value names on the browser's wall clock, as ISO 8601 in UTC (what the API's instants
 * take: an offset is required); undefined when the value is not such a date and time.
 */
export function fromLocalInput(value: string): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/.test(value.trim())) return undefined;
  // A date-time form without an offset is local time (ECMAScript Date Time String Format).
  const date = new Date(value.trim());
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}
