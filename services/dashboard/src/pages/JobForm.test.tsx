import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { FakeCall } from '../test/fakeApi';
import { makeJob, TASKS } from '../test/fakeApi';
import { renderApp } from '../test/render';

const preview = (call: FakeCall) => {
  const body = call.body as { cronExpression?: string; count: number };
  if (body.cronExpression === 'bad') return { status: 422, body: { error: 'validation_error', message: 'Invalid input', fields: [{ field: 'cronExpression', reason: "'bad' is not a valid cron expression" }] } };
  return { fireTimes: Array.from({ length: body.count }, (_, i) => `2025-01-0${i + 1}T02:00:00Z`), description: 'daily at 02:00' };
};

describe('job form', () => {
  it('describes the previewed schedule in Arabic words, not the API\'s English', async () => {
    renderApp('#/jobs/new', { 'GET /task-functions': () => TASKS, 'POST /schedule/preview': preview }, { lang: 'ar' });
    await screen.findByTestId('field-taskFunctionId');
    await userEvent.click(screen.getByTestId('schedule-kind-cron'));
    await userEvent.click(screen.getByTestId('field-cronExpression'));
    await userEvent.paste('0 2 * * *');
    await screen.findByTestId('preview-times', {}, { timeout: 3000 });
    const description = screen.getByTestId('preview-description');
    expect(description).not.toHaveTextContent('daily');
    expect(description.textContent).toMatch(/[\u0600-\u06FF]/);
    expect(description.textContent).toContain('02:00');
  });

  it('renders the task parameters from its schema, previews the schedule and creates the job', async () => {
    const { calls } = renderApp('#/jobs/new', {
      'GET /task-functions': () => TASKS,
      'POST /schedule/preview': preview,
      'POST /jobs': () => ({ status: 201, body: makeJob({ id: 12 }) }),
      'GET /jobs/12': () => makeJob({ id: 12 }),
      'GET /jobs/12/history': () => ({ items: [], total: 0 }),
    });
    const task = await screen.findByTestId('field-taskFunctionId');
    await userEvent.selectOptions(task, '4');
    expect(screen.getByTestId('field-parameters.method')).toHaveValue('GET');
    expect(screen.getByTestId('field-parameters.timeout_seconds')).toHaveValue(30);
    await userEvent.click(screen.getByTestId('field-parameters.url'));
    await userEvent.paste('https://example.com/ping');

    await userEvent.click(screen.getByTestId('schedule-kind-cron'));
    await userEvent.click(screen.getByTestId('field-cronExpression'));
    await userEvent.paste('0 2 * * *');
    expect(screen.getByTestId('schedule-words')).toHaveTextContent('at 02:00 every day (UTC)');
    const times = await screen.findByTestId('preview-times', {}, { timeout: 3000 });
    expect(times.querySelectorAll('li')).toHaveLength(5);
    expect(screen.getByTestId('preview-description')).toHaveTextContent('daily at 02:00');
    expect(calls.filter((c) => c.path === '/schedule/preview').at(-1)?.body).toEqual({ cronExpression: '0 2 * * *', timezone: 'UTC', count: 5 });

    await userEvent.click(screen.getByTestId('form-submit'));
    await waitFor(() => expect(window.location.hash).toBe('#/jobs/12'));
    const created = calls.find((c) => c.method === 'POST' && c.path === '/jobs');
    expect(created?.body).toEqual({
      taskFunctionId: 4,
      cronExpression: '0 2 * * *',
      timezone: 'UTC',
      priority: 0,
      maxInstances: 1,
      misfireGraceTime: 60,
      coalesce: true,
      isEnabled: true,
      maxRetries: 0,
      retryDelaySeconds: 10,
      retryBackoffFactor: 2,
      retryMaxDelaySeconds: 3600,
      overlapPolicy: 'skip',
      pauseAfterFailures: 0,
      parameters: { method: 'GET', url: 'https://example.com/ping', timeout_seconds: 30 },
    });
  });

  it('creates a job with retries, an overlap policy and a pause after failures', async () => {
    const { calls } = renderApp('#/jobs/new', {
      'GET /task-functions': () => TASKS,
      'POST /schedule/preview': preview,
      'POST /jobs': () => ({ status: 201, body: makeJob({ id: 13 }) }),
      'GET /jobs/13': () => makeJob({ id: 13 }),
      'GET /jobs/13/history': () => ({ items: [], total: 0 }),
      'GET /jobs/13/preview': () => ({ fireTimes: [], description: 'every 30 minutes' }),
    });
    await userEvent.selectOptions(await screen.findByTestId('field-taskFunctionId'), '1');
    const fill = async (field: string, value: string): Promise<void> => {
      await userEvent.clear(screen.getByTestId(`field-${field}`));
      await userEvent.type(screen.getByTestId(`field-${field}`), value);
    };
    await fill('maxRetries', '3');
    await fill('retryDelaySeconds', '5');
    await fill('retryBackoffFactor', '1.5');
    await fill('retryMaxDelaySeconds', '120');
    await fill('pauseAfterFailures', '4');
    // Each policy is explained in one line; the chosen one is marked.
    expect(screen.getByTestId('overlap-help-skip')).toHaveAttribute('aria-current', 'true');
    expect(screen.getByTestId('overlap-help-queue')).toHaveTextContent('waits for a free place');
    expect(screen.getByTestId('overlap-help-replace')).toHaveTextContent('oldest running run is cancelled');
    await userEvent.selectOptions(screen.getByTestId('field-overlapPolicy'), 'queue');
    expect(screen.getByTestId('overlap-help-queue')).toHaveAttribute('aria-current', 'true');
    expect(screen.getByTestId('overlap-help-skip')).not.toHaveAttribute('aria-current');

    await userEvent.click(screen.getByTestId('form-submit'));
    await waitFor(() => expect(window.location.hash).toBe('#/jobs/13'));
    const created = calls.find((c) => c.method === 'POST' && c.path === '/jobs');
    expect(created?.body).toMatchObject({
      taskFunctionId: 1,
      maxRetries: 3,
      retryDelaySeconds: 5,
      retryBackoffFactor: 1.5,
      retryMaxDelaySeconds: 120,
      overlapPolicy: 'queue',
      pauseAfterFailures: 4,
    });
  });

  it("shows the API's run control field errors at their fields", async () => {
    renderApp('#/jobs/new', {
      'GET /task-functions': () => TASKS,
      'POST /schedule/preview': preview,
      'POST /jobs': () => ({
        status: 422,
        body: {
          error: 'validation_error',
          message: 'invalid input: maxRetries, retryMaxDelaySeconds',
          fields: [
            { field: 'maxRetries', reason: 'Input should be less than or equal to 10' },
            { field: 'retryMaxDelaySeconds', reason: 'must not be less than retryDelaySeconds (600); raise it, or lower the delay' },
          ],
        },
      }),
    });
    await userEvent.selectOptions(await screen.findByTestId('field-taskFunctionId'), '1');
    await userEvent.clear(screen.getByTestId('field-maxRetries'));
    await userEvent.type(screen.getByTestId('field-maxRetries'), '11');
    await userEvent.click(screen.getByTestId('form-submit'));

    expect(await screen.findByTestId('error-maxRetries')).toHaveTextContent('less than or equal to 10');
    expect(screen.getByTestId('field-maxRetries')).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByTestId('error-retryMaxDelaySeconds')).toHaveTextContent('must not be less than retryDelaySeconds');
    expect(screen.getByTestId('form-errors-message')).toHaveTextContent('invalid input: maxRetries, retryMaxDelaySeconds');
    expect(window.location.hash).toBe('#/jobs/new');
  });

  it('shows the API field errors next to the fields', async () => {
    renderApp('#/jobs/new', {
      'GET /task-functions': () => TASKS,
      'POST /schedule/preview': preview,
      'POST /jobs': () => ({
        status: 422,
        body: {
          error: 'validation_error',
          message: 'Invalid input',
          fields: [
            { field: 'maxInstances', reason: 'must be between 1 and 10' },
            { field: 'parameters.url', reason: 'Input should be a valid URL' },
            { field: 'somethingElse', reason: 'unplaced problem' },
          ],
        },
      }),
    });
    await userEvent.selectOptions(await screen.findByTestId('field-taskFunctionId'), '4');
    await userEvent.type(screen.getByTestId('field-parameters.url'), 'not a url');
    await userEvent.clear(screen.getByTestId('field-maxInstances'));
    await userEvent.type(screen.getByTestId('field-maxInstances'), '50');
    await userEvent.click(screen.getByTestId('form-submit'));

    expect(await screen.findByTestId('error-maxInstances')).toHaveTextContent('must be between 1 and 10');
    expect(screen.getByTestId('error-parameters.url')).toHaveTextContent('Input should be a valid URL');
    expect(screen.getByTestId('field-maxInstances')).toHaveAttribute('aria-invalid', 'true');
    // A field the form does not show is still reported.
    expect(screen.getByTestId('form-errors')).toHaveTextContent('unplaced problem');
    expect(window.location.hash).toBe('#/jobs/new');

    // Editing the field clears its error.
    await userEvent.type(screen.getByTestId('field-maxInstances'), '1');
    expect(screen.queryByTestId('error-maxInstances')).not.toBeInTheDocument();
  });

  it('shows preview field errors next to the schedule field', async () => {
    renderApp('#/jobs/new', { 'GET /task-functions': () => TASKS, 'POST /schedule/preview': preview });
    await screen.findByTestId('field-taskFunctionId');
    await userEvent.click(screen.getByTestId('schedule-kind-cron'));
    await userEvent.type(screen.getByTestId('field-cronExpression'), 'bad');
    expect(await screen.findByTestId('error-cronExpression', {}, { timeout: 3000 })).toHaveTextContent('not a valid cron expression');
    expect(screen.getByTestId('preview-error')).toBeInTheDocument();
  });

  it('reports client-side problems without calling the API', async () => {
    const { calls } = renderApp('#/jobs/new', { 'GET /task-functions': () => TASKS, 'POST /schedule/preview': preview });
    await screen.findByTestId('field-taskFunctionId');
    await userEvent.click(screen.getByTestId('form-submit'));
    expect(screen.getByTestId('error-taskFunctionId')).toHaveTextContent('Required.');
    expect(calls.some((c) => c.method === 'POST' && c.path === '/jobs')).toBe(false);
  });

  it('edits a job with PUT, prefilled', async () => {
    const job = makeJob({ id: 5, taskFunctionId: 4, taskFunctionKey: 'http_request', parameters: { url: 'https://a.test', method: 'POST' } });
    const { calls } = renderApp('#/jobs/5/edit', {
      'GET /task-functions': () => TASKS,
      'GET /jobs/5': () => job,
      'GET /jobs/5/history': () => ({ items: [], total: 0 }),
      'POST /schedule/preview': preview,
      'PUT /jobs/5': () => job,
    });
    expect(await screen.findByTestId('field-taskFunctionId')).toHaveValue('4');
    expect(screen.getByTestId('field-nameEn')).toHaveValue('Nightly sync');
    expect(screen.getByTestId('field-intervalMinutes')).toHaveValue(30);
    expect(screen.getByTestId('field-parameters.method')).toHaveValue('POST');
    expect(screen.getByTestId('field-overlapPolicy')).toHaveValue('skip');
    expect(screen.getByTestId('field-maxRetries')).toHaveValue(0);
    await userEvent.clear(screen.getByTestId('field-priority'));
    await userEvent.type(screen.getByTestId('field-priority'), '9');
    await userEvent.click(screen.getByTestId('form-submit'));
    await waitFor(() => expect(window.location.hash).toBe('#/jobs/5'));
    const put = calls.find((c) => c.method === 'PUT');
    expect(put?.body).toMatchObject({ priority: 9, intervalMinutes: 30, cronExpression: null, timeoutSeconds: null, parameters: { url: 'https://a.test', method: 'POST', timeout_seconds: 30 } });
    // Interval jobs are zone-free: the zone is left as it is.
    expect(put?.body).not.toHaveProperty('timezone');
    expect(put?.body).toMatchObject({ taskFunctionId: 4 });
  });

  it('switching the task of a job resets its parameters, switching back restores them', async () => {
    const job = makeJob({ id: 5, taskFunctionId: 4, taskFunctionKey: 'http_request', parameters: { url: 'https://a.test', method: 'POST' } });
    renderApp('#/jobs/5/edit', { 'GET /task-functions': () => TASKS, 'GET /jobs/5': () => job, 'POST /schedule/preview': preview });
    const task = await screen.findByTestId('field-taskFunctionId');
    await userEvent.selectOptions(task, '1');
    expect(screen.getByTestId('no-parameters')).toBeInTheDocument();
    await userEvent.selectOptions(task, '4');
    expect(screen.getByTestId('field-parameters.url')).toHaveValue('https://a.test');
    expect(screen.getByTestId('field-parameters.method')).toHaveValue('POST');
  });
});
