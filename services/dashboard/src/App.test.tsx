import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { TOKEN_STORAGE_KEY } from './auth/session';
import { makeJob, makeStatus, page, TASKS } from './test/fakeApi';
import { renderApp } from './test/render';

const jobsRoutes = {
  'GET /jobs': () => page([makeJob()]),
  'GET /task-functions': () => TASKS,
};

describe('sign-in', () => {
  it('checks the token with the API, keeps it for the session and shows the requested screen', async () => {
    const { calls } = renderApp('#/jobs', { ...jobsRoutes, 'GET /status': () => makeStatus() }, { token: null });
    expect(screen.getByTestId('page-sign-in')).toBeInTheDocument();

    await userEvent.type(screen.getByTestId('signin-token'), 'Bearer abc.def.ghi');
    await userEvent.click(screen.getByTestId('signin-submit'));

    expect(await screen.findByTestId('page-jobs')).toBeInTheDocument();
    expect(sessionStorage.getItem(TOKEN_STORAGE_KEY)).toBe('abc.def.ghi');
    const statusCall = calls.find((c) => c.path === '/status');
    expect(statusCall?.headers.Authorization).toBe('Bearer abc.def.ghi');
    expect(calls.find((c) => c.path === '/jobs')?.headers.Authorization).toBe('Bearer abc.def.ghi');
  });

  it('refuses an empty token without calling the API', async () => {
    const { calls } = renderApp('#/jobs', {}, { token: null });
    await userEvent.click(screen.getByTestId('signin-submit'));
    expect(screen.getByTestId('signin-error')).toBeInTheDocument();
    expect(calls).toHaveLength(0);
  });

  it('says so when the API rejects the token', async () => {
    renderApp('#/jobs', { 'GET /status': () => ({ status: 401, body: { detail: 'Invalid token' } }) }, { token: null });
    await userEvent.type(screen.getByTestId('signin-token'), 'wrong');
    await userEvent.click(screen.getByTestId('signin-submit'));
    expect(await screen.findByTestId('signin-error')).toHaveTextContent('Invalid token');
    expect(sessionStorage.getItem(TOKEN_STORAGE_KEY)).toBeNull();
    expect(screen.getByTestId('page-sign-in')).toBeInTheDocument();
  });

  it('shows other API errors at sign-in instead of swallowing them', async () => {
    renderApp('#/jobs', { 'GET /status': () => ({ status: 503, body: { detail: 'database unavailable' } }) }, { token: null });
    await userEvent.type(screen.getByTestId('signin-token'), 'tok');
    await userEvent.click(screen.getByTestId('signin-submit'));
    expect(await screen.findByTestId('error-banner')).toHaveTextContent('database unavailable');
  });

  it('any 401 returns to sign-in and drops the token', async () => {
    renderApp('#/jobs', { 'GET /jobs': () => ({ status: 401, body: { detail: 'Token expired' } }), 'GET /task-functions': () => TASKS });
    expect(await screen.findByTestId('page-sign-in')).toBeInTheDocument();
    expect(screen.getByTestId('signin-expired')).toBeInTheDocument();
    expect(sessionStorage.getItem(TOKEN_STORAGE_KEY)).toBeNull();
  });

  it('signs out', async () => {
    renderApp('#/jobs', jobsRoutes);
    await screen.findByTestId('jobs-table');
    await userEvent.click(screen.getByTestId('sign-out'));
    expect(screen.getByTestId('page-sign-in')).toBeInTheDocument();
    expect(sessionStorage.getItem(TOKEN_STORAGE_KEY)).toBeNull();
  });
});

describe('routing', () => {
  it('shows a not-found screen for unknown routes', async () => {
    renderApp('#/nope', jobsRoutes);
    expect(await screen.findByTestId('not-found')).toBeInTheDocument();
  });

  it('navigates with the top bar', async () => {
    renderApp('#/jobs', { ...jobsRoutes, 'GET /history': () => page([]) });
    await screen.findByTestId('page-jobs');
    await userEvent.click(screen.getByTestId('nav-history'));
    await waitFor(() => expect(screen.getByTestId('page-history')).toBeInTheDocument());
    expect(await screen.findByTestId('history-empty')).toBeInTheDocument();
  });
});
