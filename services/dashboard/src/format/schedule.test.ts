import { describe, expect, it } from 'vitest';
import { describeCron, describeCronWords, describeInterval, describeSchedule, intervalTotalSeconds } from './schedule';

describe('describeInterval', () => {
  it.each([
    [1, 'every second', 'كل ثانية'],
    [30, 'every 30 seconds', 'كل 30 ثانية'],
    [60, 'every minute', 'كل دقيقة'],
    [120, 'every 2 minutes', 'كل دقيقتين'],
    [300, 'every 5 minutes', 'كل 5 دقائق'],
    [1800, 'every 30 minutes', 'كل 30 دقيقة'],
    [3600, 'every hour', 'كل ساعة'],
    [5400, 'every 1 hour 30 minutes', 'كل ساعة و30 دقيقة'],
    [86_400, 'every day', 'كل يوم'],
    [3 * 86_400, 'every 3 days', 'كل 3 أيام'],
    [86_400 + 7200 + 5, 'every 1 day 2 hours 5 seconds', 'كل يوم وساعتين و5 ثوانٍ'],
  ])('%i s -> %s / %s', (seconds, english, arabic) => {
    expect(describeInterval(seconds, 'en')).toBe(english);
    expect(describeInterval(seconds, 'ar')).toBe(arabic);
  });

  it('flags a zero interval instead of inventing one', () => {
    expect(describeInterval(0, 'en')).toBe('invalid interval');
  });
});

describe('describeCronWords', () => {
  it.each([
    ['* * * * *', 'every minute', 'كل دقيقة'],
    ['*/5 * * * *', 'every 5 minutes', 'كل 5 دقائق'],
    ['0 * * * *', 'every hour at minute 0', 'كل ساعة عند الدقيقة 0'],
    ['@hourly', 'every hour at minute 0', 'كل ساعة عند الدقيقة 0'],
    ['0,30 * * * *', 'every hour at minutes 0 and 30', 'كل ساعة عند الدقيقة 0 و30'],
    ['15 */2 * * *', 'every 2 hours at minute 15', 'كل ساعتين عند الدقيقة 15'],
    ['0 2 * * *', 'at 02:00 every day', 'عند 02:00 كل يوم'],
    ['@daily', 'at 00:00 every day', 'عند 00:00 كل يوم'],
    ['30 9,17 * * *', 'at 09:30 and 17:30 every day', 'عند 09:30 و17:30 كل يوم'],
    ['30 9 * * 1-5', 'at 09:30 on Monday to Friday', 'عند 09:30 من الاثنين إلى الجمعة'],
    ['0 8 * * MON,WED,FRI', 'at 08:00 on Monday, Wednesday and Friday', 'عند 08:00 أيام الاثنين والأربعاء والجمعة'],
    ['@weekly', 'at 00:00 on Sunday', 'عند 00:00 يوم الأحد'],
    ['0 0 * * 7', 'at 00:00 on Sunday', 'عند 00:00 يوم الأحد'],
    ['*/10 * * * 1-5', 'every 10 minutes on Monday to Friday', 'كل 10 دقائق من الاثنين إلى الجمعة'],
    ['0 3 1 * *', 'at 03:00 on day 1 of every month', 'عند 03:00 في اليوم 1 من كل شهر'],
    ['0 0 1,15 * *', 'at 00:00 on days 1 and 15 of every month', 'عند 00:00 في اليوم 1 و15 من كل شهر'],
    ['@yearly', 'at 00:00 on 1 January', 'عند 00:00 في 1 يناير'],
    ['0 6 25 dec *', 'at 06:00 on 25 December', 'عند 06:00 في 25 ديسمبر'],
  ])('%s -> %s / %s', (expression, english, arabic) => {
    expect(describeCronWords(expression, 'en')).toBe(english);
    expect(describeCronWords(expression, 'ar')).toBe(arabic);
  });

  it.each(['5 4 1-7 * 1', '0 9-17 * * *', '*/15 9-17 * * 1-5', '0 0 */2 * *', '61 * * * *', '0 2 * *', 'not cron', '0 0 1-3,5 * *', '0 0 * * 1-3,5'])(
    'does not guess at %s',
    (expression) => {
      expect(describeCronWords(expression, 'en')).toBeUndefined();
    },
  );
});

describe('describeCron', () => {
  it('appends the time zone', () => {
    expect(describeCron('0 2 * * *', 'Europe/Berlin', 'en')).toBe('at 02:00 every day (Europe/Berlin)');
    expect(describeCron('0 2 * * *', undefined, 'en')).toBe('at 02:00 every day (UTC)');
  });

  it('shows an unrecognised expression as it is', () => {
    expect(describeCron('5 4 1-7 * 1', 'UTC', 'en')).toBe('cron 5 4 1-7 * 1 (UTC)');
    expect(describeCron('5 4 1-7 * 1', 'Asia/Riyadh', 'ar')).toBe('كرون \u20665 4 1-7 * 1\u2069 (\u2066Asia/Riyadh\u2069)');
  });
});

describe('describeSchedule', () => {
  it('describes a job by its fields (cron wins over interval)', () => {
    expect(describeSchedule({ intervalMinutes: 30 }, 'en')).toBe('every 30 minutes');
    expect(describeSchedule({ intervalHours: 1, intervalMinutes: 30 }, 'en')).toBe('every 1 hour 30 minutes');
    expect(describeSchedule({ cronExpression: '0 2 * * *', timezone: 'Asia/Riyadh' }, 'ar')).toBe('عند 02:00 كل يوم (\u2066Asia/Riyadh\u2069)');
    expect(describeSchedule({}, 'en')).toBe('no schedule');
  });

  it('sums interval fields', () => {
    expect(intervalTotalSeconds({ intervalDays: 1, intervalHours: 1, intervalMinutes: 1, intervalSeconds: 1 })).toBe(90_061);
    expect(intervalTotalSeconds({ intervalMinutes: null })).toBeUndefined();
  });
});
