import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it } from 'vitest';
import { UTC_STORAGE_KEY } from '../i18n';
import { makeJob, page, TASKS } from '../test/fakeApi';
import { renderApp } from '../test/render';

const cron = makeJob({
  id: 7,
  nameEn: 'Report',
  jobTypeId: 2,
  jobTypeName: 'cron',
  intervalMinutes: undefined,
  cronExpression: '0 2 * * *',
  timezone: 'Europe/Berlin',
  nextRunAt: '2999-01-01T01:00:00Z',
  lastRunAt: '2025-01-07T10:30:00Z',
});

const routes = (job = cron) => ({
  'GET /jobs/7': () => job,
  'GET /task-functions': () => TASKS,
  'GET /jobs/7/history': () => page([]),
  'GET /jobs/7/preview': () => ({ fireTimes: ['2999-01-01T01:00:00Z'], description: 'at 02:00', timezone: 'Europe/Berlin' }),
});

describe('time zones', () => {
  afterEach(() => localStorage.removeItem(UTC_STORAGE_KEY));

  it('label the job detail times with the browser zone, fire times with the job zone, and switch to UTC (remembered)', async () => {
    const browserZone = new Intl.DateTimeFormat('en-GB', { timeZoneName: 'short' }).formatToParts(new Date('2025-01-07T10:30:00Z')).find((p) => p.type === 'timeZoneName')?.value ?? '';
    const { unmount } = renderApp('#/jobs/7', routes());
    const fireTimes = await screen.findByTestId('job-fire-times');
    await waitFor(() => expect(within(fireTimes).getByText(/CET/)).toBeInTheDocument());
    expect(screen.getByTestId('detail-last-run')).toHaveTextContent(browserZone);

    await userEvent.click(screen.getByTestId('utc-switch'));
    expect(screen.getByTestId('detail-last-run')).toHaveTextContent('7 Jan 2025, 10:30:00 UTC');
    // The job's own zone stays on its fire times.
    expect(within(fireTimes).getByText(/CET/)).toBeInTheDocument();
    expect(localStorage.getItem(UTC_STORAGE_KEY)).toBe('1');

    unmount();
    renderApp('#/jobs/7', routes());
    expect(await screen.findByTestId('utc-switch')).toBeChecked();
    expect(await screen.findByTestId('detail-last-run')).toHaveTextContent('UTC');
  });

  it('list no next fire times for a paused job', async () => {
    renderApp('#/jobs/7', routes({ ...cron, isPaused: true }));
    expect(await screen.findByTestId('job-fire-times-idle')).toHaveTextContent('Paused');
    expect(within(screen.getByTestId('job-fire-times')).queryByText(/CET/)).toBeNull();
  });
});
