#!/usr/bin/env node
// End-to-end test of the notification channels page in headless Chromium against a running scheduler.
//
// Inputs (environment):
//   BASE_URL        URL where the API serves the dashboard, e.g. http://127.0.0.1:8000  (required)
//   TOKEN           a Super Admin token accepted by that API                            (required)
//   RECEIVER_URL    a webhook receiver the API may POST to (SCHEDULER_OUTBOUND_ALLOW)    (required)
//   SCREENSHOT_DIR  where to save screenshots (default <repo>/test-output/screenshots)
//   CHROMIUM_PATH   chromium binary (default /usr/bin/chromium)
//   E2E_TIMEOUT_MS  how long to wait for the delivery (default 60000)
//
// Flow: sign in, open the channels page from the navigation, submit the form with bad input (empty name, an ftp
// URL, no event, a short secret) and see the API's reason at every one of those fields at once; create a valid
// channel taking job.paused; pause a job (through the API) and see the delivery listed with its status, attempts
// and zoned times; screenshot the channels pages in both languages, wide and at 390 px (no sideways scroll);
// delete the channel after its confirmation. Exit code 0 on success, 1 on failure, 2 on missing inputs.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { documentDirection, launchChromium, openPage, screenshot, screenshotDir, step } from './lib.mjs';

const API = '/api/v1/scheduler';

export async function runChannelsE2E({ baseUrl, token, receiverUrl, shots, timeoutMs = 60_000 }) {
  const browser = await launchChromium();
  const { page, problems } = await openPage(browser);
  page.setDefaultTimeout(20_000);
  const byTestId = (id) => page.getByTestId(id);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const channelName = `e2e channel ${stamp}`;

  /** A call to the API with the token (the job whose pause is the event is set up this way, not through the UI). */
  const api = async (method, route, body) => {
    const response = await fetch(new URL(`${API}${route}`, baseUrl), {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${method} ${route}: HTTP ${response.status} ${await response.text()}`);
    return response.json();
  };

  const until = async (what, probe, ms = timeoutMs) => {
    const deadline = Date.now() + ms;
    while (!(await probe())) {
      if (Date.now() > deadline) throw new Error(`${what}: not after ${ms} ms`);
      await page.waitForTimeout(250);
    }
  };

  let jobId;
  try {
    step(`open ${baseUrl} and sign in`);
    await page.goto(new URL('/', baseUrl).toString(), { waitUntil: 'domcontentloaded' });
    await byTestId('signin-token').fill(token);
    await byTestId('signin-submit').click();
    await byTestId('page-jobs').waitFor();

    step('channels page from the navigation');
    await byTestId('nav-channels').click();
    await byTestId('page-channels').waitFor();
    await byTestId('loading').first().waitFor({ state: 'detached' }).catch(() => undefined);

    step('bad input: every field error of the API shown at once');
    await byTestId('channel-new').click();
    await byTestId('channel-form').waitFor();
    await byTestId('field-url').fill('ftp://hooks.example.com/x');
    await byTestId('field-secret').fill('short');
    await byTestId('form-submit').click();
    await byTestId('form-errors').waitFor();
    for (const field of ['name', 'url', 'events', 'secret']) {
      const error = byTestId(`error-${field}`);
      await error.waitFor();
      step(`  ${field}: ${(await error.textContent())?.trim()}`);
    }
    await screenshot(page, shots, '13-channel-form-errors');

    step('a valid channel taking job.paused');
    await byTestId('field-name').fill(channelName);
    await byTestId('field-url').fill(receiverUrl);
    await byTestId('field-event-job.paused').check();
    await byTestId('field-secret').fill('an-e2e-signing-secret');
    await byTestId('form-submit').click();
    await byTestId('page-channel').waitFor();
    const channelId = await byTestId('page-channel').getAttribute('data-channel-id');
    await byTestId('deliveries-empty').waitFor();
    step(`channel ${channelId} created`);

    step('an event: a job is paused (through the API); its delivery is listed');
    const job = await api('POST', '/jobs', { taskFunctionId: (await api('GET', '/task-functions')).find((t) => t.key === 'noop').id, nameEn: `e2e channel job ${stamp}`, intervalHours: 1 });
    jobId = job.id;
    await api('POST', `/jobs/${jobId}/action`, { action: 'pause' });
    const row = page.locator('[data-testid="delivery-row"][data-event-type="job.paused"]');
    await until('the job.paused delivery is delivered', async () => (await row.count()) > 0 && (await row.first().getAttribute('data-status')) === 'delivered');
    const attempts = (await row.first().getByTestId('delivery-attempts').textContent())?.trim();
    const deliveredAt = (await row.first().getByTestId('delivery-delivered-at').textContent())?.trim() ?? '';
    if (attempts !== '1') throw new Error(`expected 1 attempt, the page shows ${attempts}`);
    if (!/UTC|GMT|[+-]\d/.test(deliveredAt)) throw new Error(`delivered at "${deliveredAt}" does not name its zone`);
    step(`delivered: attempts ${attempts}, at ${deliveredAt}`);
    await screenshot(page, shots, '14-channel-deliveries');

    step('channels pages in both languages, wide and at 390 px (no horizontal overflow)');
    const pages = [
      ['channels', '/channels', 'channels-table'],
      ['channel-form', '/channels/new', 'channel-form'],
      ['channel-deliveries', `/channels/${channelId}`, 'deliveries-table'],
    ];
    for (const lang of ['en', 'ar']) {
      if ((await documentDirection(page)).lang !== lang) await byTestId('lang-switch').click();
      for (const [width, height] of [[1366, 900], [390, 844]]) {
        await page.setViewportSize({ width, height });
        for (const [name, route, ready] of pages) {
          await page.goto(new URL(`/#${route}`, baseUrl).toString());
          await byTestId(ready).waitFor();
          await byTestId('loading').first().waitFor({ state: 'detached' }).catch(() => undefined);
          const { dir, lang: shown } = await documentDirection(page);
          if (shown !== lang || dir !== (lang === 'ar' ? 'rtl' : 'ltr')) throw new Error(`${name}: expected the ${lang} page, got ${shown} ${dir}`);
          if (width === 390) {
            const scrollWidth = await page.evaluate(() => document.scrollingElement.scrollWidth);
            if (scrollWidth > 390) throw new Error(`${name} (${lang}) is ${scrollWidth} px wide at 390 px`);
          }
          await screenshot(page, shots, `page-${name}-${lang}-${width}`);
        }
      }
    }
    await page.setViewportSize({ width: 1366, height: 900 });
    await byTestId('lang-switch').click();

    step('delete the channel (with confirmation)');
    await page.goto(new URL('/#/channels', baseUrl).toString());
    const channelRow = page.locator(`[data-testid="channel-row"][data-channel-id="${channelId}"]`);
    await channelRow.getByTestId('channel-delete').click();
    await byTestId('confirm-dialog').waitFor();
    await screenshot(page, shots, '15-channel-delete-confirm');
    await byTestId('confirm-dialog-confirm').click();
    await byTestId('channel-deleted').waitFor();
    await until('the deleted channel is no longer listed', async () => (await channelRow.count()) === 0, 10_000);

    const pageErrors = problems.filter((p) => p.startsWith('page error'));
    if (pageErrors.length) throw new Error(`uncaught errors in the page:\n${pageErrors.join('\n')}`);
    if (problems.length) console.log(`  (browser console reported:\n   ${problems.join('\n   ')})`);
    console.log('channels e2e: PASS');
  } catch (error) {
    await screenshot(page, shots, 'failure-channels').catch(() => undefined);
    if (problems.length) console.error(`browser reported:\n  ${problems.join('\n  ')}`);
    throw error;
  } finally {
    if (jobId !== undefined) await api('DELETE', `/jobs/${jobId}`).catch(() => undefined);
    await browser.close();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { BASE_URL: baseUrl, TOKEN: token, RECEIVER_URL: receiverUrl } = process.env;
  if (!baseUrl || !token || !receiverUrl) {
    console.error('channels e2e needs BASE_URL, TOKEN and RECEIVER_URL (a webhook receiver the API may reach).');
    process.exit(2);
  }
  try {
    await runChannelsE2E({ baseUrl, token, receiverUrl, shots: screenshotDir(), timeoutMs: Number(process.env.E2E_TIMEOUT_MS ?? 60_000) });
  } catch (error) {
    console.error(`channels e2e: FAIL\n${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  }
}
