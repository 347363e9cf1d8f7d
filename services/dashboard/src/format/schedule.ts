// A job's schedule in words, in English or Arabic: "every 30 minutes", "at 02:00 every day (UTC)",
// "every 5 minutes on Monday to Friday". Cron expressions this does not recognise are shown as they are
// ("cron 5 4 1-7 * 1 (UTC)"), never guessed at.
import type { Lang } from '../i18n/lang';
import type { ScheduleFields } from '../types/api';

type Unit = 'day' | 'hour' | 'minute' | 'second';

const UNIT_SECONDS: Array<[Unit, number]> = [
  ['day', 86_400],
  ['hour', 3_600],
  ['minute', 60],
  ['second', 1],
];

const EN_UNITS: Record<Unit, [string, string]> = {
  day: ['day', 'days'],
  hour: ['hour', 'hours'],
  minute: ['minute', 'minutes'],
  second: ['second', 'seconds'],
};

// Arabic counted nouns: [1, 2, 3-10, 11+]
const AR_UNITS: Record<Unit, [string, string, string, string]> = {
  day: ['يوم', 'يومين', 'أيام', 'يومًا'],
  hour: ['ساعة', 'ساعتين', 'ساعات', 'ساعة'],
  minute: ['دقيقة', 'دقيقتين', 'دقائق', 'دقيقة'],
  second: ['ثانية', 'ثانيتين', 'ثوانٍ', 'ثانية'],
};

const EN_DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const AR_DAYS = ['الأحد', 'الاثنين', 'الثلاثاء', 'الأربعاء', 'الخميس', 'الجمعة', 'السبت'];
const EN_MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const AR_MONTHS = ['يناير', 'فبراير', 'مارس', 'أبريل', 'مايو', 'يونيو', 'يوليو', 'أغسطس', 'سبتمبر', 'أكتوبر', 'نوفمبر', 'ديسمبر'];

/** "5 minutes" / "minute" (count 1 with `bare`), Arabic "5 دقائق" / "دقيقتين". */
function countNoun(count: number, unit: Unit, lang: Lang, bare = false): string {
  if (lang === 'ar') {
    const [one, two, few, many] = AR_UNITS[unit];
    if (count === 1) return one;
    if (count === 2) return two;
    return `${count} ${count >= 3 && count <= 10 ? few : many}`;
  }
  const [one, other] = EN_UNITS[unit];
  if (count === 1) return bare ? one : `1 ${one}`;
  return `${count} ${other}`;
}

function every(count: number, unit: Unit, lang: Lang): string {
  return lang === 'ar' ? `كل ${countNoun(count, unit, lang)}` : `every ${countNoun(count, unit, lang, true)}`;
}

function joinList(items: string[], lang: Lang): string {
  if (items.length <= 1) return items.join('');
  if (lang === 'ar') return items.join(' و');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** Interval in words from a total number of seconds. */
export function describeInterval(totalSeconds: number, lang: Lang): string {
  const parts: Array<[number, Unit]> = [];
  let remaining = totalSeconds;
  for (const [unit, size] of UNIT_SECONDS) {
    const count = Math.floor(remaining / size);
    remaining -= count * size;
    if (count) parts.push([count, unit]);
  }
  if (parts.length === 0) return lang === 'ar' ? 'فاصل زمني غير صالح' : 'invalid interval';
  const [firstPart] = parts;
  if (parts.length === 1 && firstPart) return every(firstPart[0], firstPart[1], lang);
  const words = parts.map(([count, unit]) => countNoun(count, unit, lang));
  return lang === 'ar' ? `كل ${words.join(' و')}` : `every ${words.join(' ')}`;
}

/** Sum of the interval fields in seconds; undefined when none is set. */
export function intervalTotalSeconds(fields: ScheduleFields): number | undefined {
  const { intervalDays, intervalHours, intervalMinutes, intervalSeconds } = fields;
  if ([intervalDays, intervalHours, intervalMinutes, intervalSeconds].every((v) => v === undefined || v === null)) return undefined;
  return (intervalDays ?? 0) * 86_400 + (intervalHours ?? 0) * 3_600 + (intervalMinutes ?? 0) * 60 + (intervalSeconds ?? 0);
}

// ---------------------------------------------------------------------------------------------------------
// Cron

const ALIASES: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const DAY_NAMES: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };
const MONTH_NAMES: Record<string, number> = { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 };

interface Range {
  from: number;
  to: number;
}

type Field = { kind: 'any' } | { kind: 'step'; step: number } | { kind: 'list'; ranges: Range[] };

function parseValue(text: string, names: Record<string, number> | undefined, min: number, max: number): number | undefined {
  const lower = text.toLowerCase();
  const value = names && lower in names ? names[lower] : /^\d+$/.test(text) ? Number(text) : undefined;
  return value !== undefined && value >= min && value <= max ? value : undefined;
}

/** One cron field, in the shapes worth putting into words; undefined for anything else. */
function parseField(text: string, min: number, max: number, names?: Record<string, number>): Field | undefined {
  if (text === '*' || text === '?') return { kind: 'any' };
  const step = /^(?:\*|0)\/(\d+)$/.exec(text);
  if (step) {
    const n = Number(step[1]);
    return n > 0 ? { kind: 'step', step: n } : undefined;
  }
  const ranges: Range[] = [];
  for (const part of text.split(',')) {
    const [a, b, ...rest] = part.split('-');
    if (rest.length || a === undefined) return undefined;
    const from = parseValue(a, names, min, max);
    const to = b === undefined ? from : parseValue(b, names, min, max);
    if (from === undefined || to === undefined || to < from) return undefined;
    ranges.push({ from, to });
  }
  return { kind: 'list', ranges };
}

function singles(field: Field | undefined): number[] | undefined {
  if (field?.kind !== 'list' || field.ranges.some((r) => r.from !== r.to)) return undefined;
  return field.ranges.map((r) => r.from);
}

const pad = (n: number): string => String(n).padStart(2, '0');

function timePart(minute: Field, hour: Field, lang: Lang): { text: string; frequent: boolean } | undefined {
  const ar = lang === 'ar';
  const minutes = singles(minute);
  const hours = singles(hour);
  if (minute.kind === 'any' && hour.kind === 'any') return { text: every(1, 'minute', lang), frequent: true };
  if (minute.kind === 'step' && hour.kind === 'any') return { text: every(minute.step, 'minute', lang), frequent: true };
  if (minutes && hour.kind === 'any') {
    const list = joinList(minutes.map(String), lang);
    return {
      text: ar ? `كل ساعة عند الدقيقة ${list}` : `every hour at minute${minutes.length > 1 ? 's' : ''} ${list}`,
      frequent: true,
    };
  }
  if (minutes?.length === 1 && hour.kind === 'step') {
    return { text: ar ? `${every(hour.step, 'hour', lang)} عند الدقيقة ${minutes[0]}` : `${every(hour.step, 'hour', lang)} at minute ${minutes[0]}`, frequent: true };
  }
  if (minutes && hours && minutes.length * hours.length <= 6) {
    const times = hours.flatMap((h) => minutes.map((m) => `${pad(h)}:${pad(m)}`));
    return { text: ar ? `عند ${joinList(times, lang)}` : `at ${joinList(times, lang)}`, frequent: false };
  }
  return undefined;
}

function dayNames(field: Field, lang: Lang): string | undefined {
  if (field.kind !== 'list') return undefined;
  const names = lang === 'ar' ? AR_DAYS : EN_DAYS;
  const name = (d: number): string => names[d % 7] ?? String(d);
  const [only] = field.ranges;
  if (field.ranges.length === 1 && only && only.from !== only.to) {
    return lang === 'ar' ? `من ${name(only.from)} إلى ${name(only.to)}` : `on ${name(only.from)} to ${name(only.to)}`;
  }
  const days = singles(field);
  if (!days) return undefined;
  const list = joinList(days.map(name), lang);
  return lang === 'ar' ? `${days.length > 1 ? 'أيام' : 'يوم'} ${list}` : `on ${list}`;
}

function dayPart(dom: Field, month: Field, dow: Field, frequent: boolean, lang: Lang): string | undefined {
  const ar = lang === 'ar';
  if (dom.kind === 'any' && month.kind === 'any' && dow.kind === 'any') return frequent ? '' : ar ? 'كل يوم' : 'every day';
  if (dom.kind === 'any' && month.kind === 'any') return dayNames(dow, lang);
  const days = singles(dom);
  if (!days || dow.kind !== 'any') return undefined;
  const dayList = joinList(days.map(String), lang);
  if (month.kind === 'any') {
    return ar ? `في اليوم ${dayList} من كل شهر` : `on day${days.length > 1 ? 's' : ''} ${dayList} of every month`;
  }
  const months = singles(month);
  if (!months) return undefined;
  const monthList = joinList(months.map((m) => (ar ? AR_MONTHS : EN_MONTHS)[m - 1] ?? String(m)), lang);
  return ar ? `في ${dayList} ${monthList}` : `on ${dayList} ${monthList}`;
}

/** Words for a cron expression, or undefined when it is not one of the recognised shapes. */
export function describeCronWords(expression: string, lang: Lang): string | undefined {
  const trimmed = expression.trim();
  const expanded = ALIASES[trimmed.toLowerCase()] ?? trimmed;
  const parts = expanded.split(/\s+/);
  if (parts.length !== 5) return undefined;
  const [m, h, dom, mon, dow] = parts as [string, string, string, string, string];
  const minute = parseField(m, 0, 59);
  const hour = parseField(h, 0, 23);
  const dayOfMonth = parseField(dom, 1, 31);
  const month = parseField(mon, 1, 12, MONTH_NAMES);
  const dayOfWeek = parseField(dow, 0, 7, DAY_NAMES);
  if (!minute || !hour || !dayOfMonth || !month || !dayOfWeek) return undefined;
  if (dayOfMonth.kind === 'step' || month.kind === 'step' || dayOfWeek.kind === 'step') return undefined;
  const time = timePart(minute, hour, lang);
  if (!time) return undefined;
  const day = dayPart(dayOfMonth, month, dayOfWeek, time.frequent, lang);
  if (day === undefined) return undefined;
  return [time.text, day].filter(Boolean).join(' ');
}

/** Left-to-right isolate (U+2066 … U+2069): keeps "0 2 * * *" and "Asia/Riyadh" in order inside Arabic text. */
export function isolateLtr(text: string): string {
  return `\u2066${text}\u2069`;
}

export function describeCron(expression: string, timezone: string | undefined, lang: Lang): string {
  const ltr = lang === 'ar' ? isolateLtr : (text: string) => text;
  const zone = ` (${ltr(timezone || 'UTC')})`;
  const words = describeCronWords(expression, lang);
  if (words) return words + zone;
  return `${lang === 'ar' ? 'كرون' : 'cron'} ${ltr(expression.trim())}${zone}`;
}

/** A job's (or a form's) schedule in words. */
export function describeSchedule(fields: ScheduleFields, lang: Lang): string {
  if (fields.cronExpression) return describeCron(fields.cronExpression, fields.timezone ?? undefined, lang);
  const seconds = intervalTotalSeconds(fields);
  if (seconds === undefined) return lang === 'ar' ? 'بلا جدول' : 'no schedule';
  return describeInterval(seconds, lang);
}
