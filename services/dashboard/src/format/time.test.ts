import { describe, expect, it } from 'vitest';
import { ageSeconds, formatDateTime, formatDuration, formatRelative, formatSeconds, fromLocalInput, toLocalInput } from './time';

const now = new Date('2025-01-07T10:30:00Z');

describe('formatDuration', () => {
  it.each([
    [undefined, '—'],
    [850, '850ms'],
    [4000, '4.0s'],
    [125_000, '2m 5s'],
    [3_720_000, '1h 2m'],
  ])('%s ms -> %s', (ms, expected) => {
    expect(formatDuration(ms, 'en')).toBe(expected);
  });

  it('is localized in Arabic with Latin digits', () => {
    const text = formatDuration(4000, 'ar');
    expect(text).toContain('4.0');
    expect(text).toContain('ث');
  });
});

describe('formatSeconds', () => {
  it('shows the two largest units', () => {
    expect(formatSeconds(0, 'en')).toBe('0s');
    expect(formatSeconds(45, 'en')).toBe('45s');
    expect(formatSeconds(3 * 86_400 + 4 * 3600 + 5, 'en')).toBe('3d 4h');
  });
});

describe('formatRelative', () => {
  it('says in how long or how long ago', () => {
    expect(formatRelative('2025-01-07T10:35:00Z', now, 'en')).toBe('in 5 minutes');
    expect(formatRelative('2025-01-07T10:29:57Z', now, 'en')).toBe('3 seconds ago');
    expect(formatRelative('2025-01-05T10:30:00Z', now, 'en')).toBe('2 days ago');
    expect(formatRelative(undefined, now, 'en')).toBe('—');
  });

  it('never puts a past instant in the future', () => {
    expect(formatRelative('2025-01-07T10:30:01Z', now, 'en', true)).toBe('now');
  });

  it('speaks Arabic', () => {
    expect(formatRelative('2025-01-07T10:35:00Z', now, 'ar')).toMatch(/5/);
    expect(formatRelative('2025-01-07T10:35:00Z', now, 'ar')).toMatch(/دقائق/);
  });
});

describe('formatDateTime', () => {
  it('formats in a given zone', () => {
    expect(formatDateTime('2025-01-07T10:30:00Z', 'en', 'UTC')).toBe('7 Jan 2025, 10:30:00 UTC');
    expect(formatDateTime('2025-01-07T10:30:00Z', 'en', 'Asia/Riyadh')).toContain('13:30:00');
  });

  it('labels every time with its zone, the browser\'s included', () => {
    const local = formatDateTime('2025-01-07T10:30:00Z', 'en');
    const zone = new Intl.DateTimeFormat('en-GB', { timeZoneName: 'short' }).formatToParts(new Date('2025-01-07T10:30:00Z')).find((p) => p.type === 'timeZoneName')?.value;
    expect(zone).toBeTruthy();
    expect(local.endsWith(` ${zone}`)).toBe(true);
    expect(formatDateTime('2025-01-07T10:30:00Z', 'en', 'Europe/Berlin')).toBe('7 Jan 2025, 11:30:00 CET');
    expect(formatDateTime('2025-01-07T10:30:00Z', 'ar', 'UTC')).toContain('UTC');
    expect(formatDateTime('2025-01-07T10:30:00Z', 'en', 'Not/AZone')).toMatch(/\d{2}:\d{2}:\d{2} \S+/);
  });

  it('falls back instead of failing on an unknown zone, and shows a dash for nothing', () => {
    expect(formatDateTime('2025-01-07T10:30:00Z', 'en', 'Not/AZone')).not.toBe('—');
    expect(formatDateTime(undefined, 'en')).toBe('—');
    expect(formatDateTime('garbage', 'en')).toBe('—');
  });
});

describe('ageSeconds', () => {
  it('never goes negative', () => {
    expect(ageSeconds('2025-01-07T10:29:50Z', now)).toBe(10);
    expect(ageSeconds('2025-01-07T10:31:00Z', now)).toBe(0);
    expect(ageSeconds(undefined, now)).toBeUndefined();
  });
});

describe('datetime-local inputs', () => {
  it('round-trip an instant on the browser wall clock, to the minute', () => {
    const instant = new Date(2027, 2, 27, 1, 30, 45);
    const text = toLocalInput(instant);
    expect(text).toMatch(/^2027-03-27T01:30$/);
    expect(fromLocalInput(text)).toBe(new Date(2027, 2, 27, 1, 30).toISOString());
    expect(fromLocalInput(`${text}:15`)).toBe(new Date(2027, 2, 27, 1, 30, 15).toISOString());
  });

  it('refuse what is not a date and time', () => {
    expect(fromLocalInput('')).toBeUndefined();
    expect(fromLocalInput('2027-03-27')).toBeUndefined();
    expect(fromLocalInput('2027-13-40T99:99')).toBeUndefined();
    expect(fromLocalInput('yesterday')).toBeUndefined();
  });
});
