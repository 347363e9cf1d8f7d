import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { buildChannel, emptyChannelForm, parseJobIds, placeChannelErrors } from '../forms/channelForm';
import { en } from '../i18n/en';
import { page } from '../test/fakeApi';
import { renderApp } from '../test/render';

const channel = (overrides: Record<string, unknown> = {}) => ({
  id: 5,
  name: 'ops',
  url: 'https://hooks.example.com/ops',
  events: ['run.failed', 'job.paused'],
  jobIds: null,
  format: 'json',
  enabled: true,
  hasSecret: true,
  createdAt: '2025-01-07T10:00:00Z',
  updatedAt: null,
  ...overrides,
});

const delivery = (overrides: Record<string, unknown> = {}) => ({
  id: 1,
  eventId: 'ev-1',
  channelId: 5,
  eventType: 'job.paused',
  jobId: 7,
  status: 'pending',
  attempts: 2,
  nextAttemptAt: '2025-01-07T10:05:00Z',
  lastError: 'connection refused',
  lastStatusCode: null,
  createdAt: '2025-01-07T10:00:00Z',
  deliveredAt: null,
  payload: {},
  ...overrides,
});

describe('channel form logic', () => {
  it('reads job ids as whole numbers, empty as every job', () => {
    expect(parseJobIds(' 3, 7 ')).toEqual([3, 7]);
    expect(parseJobIds('')).toBeNull();
    expect(parseJobIds('3, x')).toBeUndefined();
  });

  it('sends a secret on edit only when typed or removed', () => {
    const state = { ...emptyChannelForm(), name: 'a', url: 'https://x.example', events: ['run.failed' as const] };
    expect(buildChannel(state, 'edit', en).body).not.toHaveProperty('secret');
    expect(buildChannel({ ...state, removeSecret: true }, 'edit', en).body).toMatchObject({ secret: null });
    expect(buildChannel({ ...state, secret: 'x'.repeat(16) }, 'create', en).body).toMatchObject({ secret: 'x'.repeat(16), jobIds: null });
  });

  it('places item errors at their field and lists the others', () => {
    expect(placeChannelErrors({ 'jobIds.0': 'too small', 'events.1': 'bad', other: 'why' })).toEqual({
      placed: { jobIds: 'too small', events: 'bad' },
      unplaced: [['other', 'why']],
    });
  });
});

describe('notification channels pages', () => {
  it('lists the channels with their events, and deletes one after a confirmation', async () => {
    let deleted = false;
    const { calls } = renderApp('#/channels', {
      'GET /notification-channels': () => page(deleted ? [] : [channel()]),
      'DELETE /notification-channels/5': () => {
        deleted = true;
        return channel();
      },
    });
    const row = await screen.findByTestId('channel-row');
    expect(row).toHaveTextContent('job.paused');
    expect(row).toHaveTextContent('All jobs');
    await userEvent.click(within(row).getByTestId('channel-delete'));
    expect(screen.getByTestId('confirm-dialog')).toHaveTextContent('ops');
    await userEvent.click(screen.getByTestId('confirm-dialog-confirm'));
    expect(await screen.findByTestId('channel-deleted')).toHaveTextContent('ops');
    expect(await screen.findByTestId('channels-empty')).toBeInTheDocument();
    expect(calls.filter((c) => c.method === 'DELETE')).toHaveLength(1);
  });

  it('shows every field error of the 422 at once, then creates the channel', async () => {
    let attempt = 0;
    const { calls } = renderApp('#/channels/new', {
      'POST /notification-channels': () => {
        attempt += 1;
        if (attempt === 1) {
          return {
            status: 422,
            body: {
              error: 'validation_error',
              message: 'Invalid input',
              fields: [
                { field: 'name', reason: 'String should have at least 1 character' },
                { field: 'url', reason: 'String should match pattern' },
                { field: 'events', reason: 'List should have at least 1 item after validation, not 0' },
                { field: 'secret', reason: 'String should have at least 16 characters' },
              ],
            },
          };
        }
        return { status: 201, body: channel({ id: 9 }) };
      },
      'GET /notification-channels/9': () => channel({ id: 9 }),
      'GET /notification-channels/9/deliveries': () => page([]),
    });
    await screen.findByTestId('channel-form');
    await userEvent.type(screen.getByTestId('field-url'), 'ftp://nope');
    await userEvent.type(screen.getByTestId('field-secret'), 'short');
    await userEvent.click(screen.getByTestId('form-submit'));
    for (const field of ['name', 'url', 'events', 'secret']) expect(await screen.findByTestId(`error-${field}`)).toBeInTheDocument();
    expect(calls[0]?.body).toMatchObject({ name: '', url: 'ftp://nope', events: [], secret: 'short', format: 'json', enabled: true });

    await userEvent.type(screen.getByTestId('field-name'), 'ops');
    await userEvent.click(screen.getByTestId('field-event-job.paused'));
    await userEvent.click(screen.getByTestId('form-submit'));
    expect(await screen.findByTestId('deliveries-empty')).toBeInTheDocument();
    expect(calls.find((c) => c.method === 'POST' && c !== calls[0])?.body).toMatchObject({ name: 'ops', events: ['job.paused'] });
  });

  it('edits a channel: the form starts from it, keeps the secret unless typed, and sends job ids as numbers', async () => {
    const { calls } = renderApp('#/channels/5/edit', {
      'GET /notification-channels/5': () => channel(),
      'PUT /notification-channels/5': () => channel({ jobIds: [3, 7], format: 'slack' }),
      'GET /notification-channels/5/deliveries': () => page([]),
    });
    expect(await screen.findByTestId('field-name')).toHaveValue('ops');
    expect(screen.getByTestId('field-event-job.paused')).toBeChecked();
    await userEvent.type(screen.getByTestId('field-jobIds'), '3, 7');
    await userEvent.selectOptions(screen.getByTestId('field-format'), 'slack');
    await userEvent.click(screen.getByTestId('form-submit'));
    await screen.findByTestId('page-channel');
    const put = calls.find((c) => c.method === 'PUT');
    expect(put?.body).toEqual({ name: 'ops', url: 'https://hooks.example.com/ops', events: ['run.failed', 'job.paused'], jobIds: [3, 7], format: 'slack', enabled: true });
  });

  it("shows a channel's deliveries with status, attempts, last error and zoned times", async () => {
    renderApp('#/channels/5', {
      'GET /notification-channels/5': () => channel(),
      'GET /notification-channels/5/deliveries': () =>
        page([delivery(), delivery({ id: 2, status: 'delivered', attempts: 1, lastError: null, lastStatusCode: 200, nextAttemptAt: null, deliveredAt: '2025-01-07T10:00:02Z' })]),
    });
    const rows = await screen.findAllByTestId('delivery-row');
    expect(rows).toHaveLength(2);
    expect(rows[0]).toHaveAttribute('data-status', 'pending');
    expect(within(rows[0]!).getByTestId('delivery-attempts')).toHaveTextContent('2');
    expect(within(rows[0]!).getByTestId('delivery-last-error')).toHaveTextContent('connection refused');
    expect(within(rows[1]!).getByTestId('delivery-last-error')).toHaveTextContent('HTTP 200');
    await waitFor(() => expect(within(rows[1]!).getByTestId('delivery-delivered-at').textContent).toMatch(/UTC|GMT|[+-]\d/));
  });

  it('is reached from the navigation, in Arabic too', async () => {
    renderApp('#/channels', { 'GET /notification-channels': () => page([]) }, { lang: 'ar' });
    expect(await screen.findByTestId('nav-channels')).toHaveTextContent('الإشعارات');
    expect(await screen.findByTestId('channels-empty')).toBeInTheDocument();
    expect(document.documentElement).toHaveAttribute('dir', 'rtl');
  });
});
