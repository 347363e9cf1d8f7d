#!/usr/bin/env node
// End-to-end test of the dashboard in headless Chromium against a running scheduler (embedded mode).
//
// Inputs (environment):
//   BASE_URL        URL where the API serves the dashboard, e.g. http://127.0.0.1:8000  (required)
//   TOKEN           a Super Admin token accepted by that API                            (required)
//   SCREENSHOT_DIR  where to save screenshots (default <repo>/test-output/screenshots)
//   CHROMIUM_PATH   chromium binary (default /usr/bin/chromium)
//   TASK_KEY        task function of the created job (default noop)
//   E2E_TIMEOUT_MS  how long to wait for the triggered run to succeed (default 60000)
//   E2E_KEEP_JOB=1  keep the created job (default: delete it through the UI at the end)
//
// Flow: sign in, create an interval job, trigger it, see the run succeed in its history, re-run that run,
// backfill a range of its past slots (twice: nothing is created twice; and once into the future: the API's 422
// reason at the field); create a job of the `fail` task with a retry and pause-after-failures 1, trigger it,
// see attempt 2 linked to attempt 1 and the reason the job paused itself, resume it; create a job of the
// `sleep` task, trigger it and cancel the running run; pause the first job, look at the history and status
// screens, switch to Arabic (dir=rtl), delete the first job with its confirmation. Also: the job's charts draw
// from its real history, every time carries its zone and the UTC switch sticks, a run triggered through the API
// appears in the jobs list without a reload, and every page in both languages is screenshotted wide and at
// 390 px, where the page must not scroll sideways.
// Exit code 0 on success, 1 on failure (with a failure screenshot), 2 on missing inputs.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { documentDirection, launchChromium, openPage, screenshot, screenshotDir, step } from './lib.mjs';

export async function runDashboardE2E({ baseUrl, token, shots, taskKey = 'noop', timeoutMs = 60_000, keepJob = false }) {
  const browser = await launchChromium();
  const { page, problems } = await openPage(browser);
  page.setDefaultTimeout(20_000);
  const byTestId = (id) => page.getByTestId(id);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const jobName = `e2e interval job ${stamp}`;
  const rowsWith = (status) => page.locator(`[data-testid="execution-row"][data-status="${status}"]`);

  /** Create an hourly job of `key` through the form (`fill`: more fields, by API name); lands on its detail. */
  const createJob = async (key, name, fill = {}, select = {}) => {
    await byTestId('nav-jobs').click();
    await byTestId('job-new').click();
    await byTestId('job-form').waitFor();
    const select_ = byTestId('field-taskFunctionId');
    const value = await select_.locator(`option[data-key="${key}"]`).getAttribute('value');
    if (!value) throw new Error(`task function "${key}" is not offered by GET /task-functions`);
    await select_.selectOption(value);
    await byTestId('field-nameEn').fill(name);
    await byTestId('schedule-kind-interval').check();
    await byTestId('field-intervalMinutes').fill('');
    await byTestId('field-intervalHours').fill('1');
    for (const [field, text] of Object.entries(fill)) await byTestId(`field-${field}`).fill(text);
    for (const [field, option] of Object.entries(select)) await byTestId(`field-${field}`).selectOption(option);
    return async () => {
      await byTestId('form-submit').click();
      await byTestId('page-job-detail').waitFor();
      const title = await byTestId('job-title').textContent();
      if (title?.trim() !== name) throw new Error(`job detail shows "${title}", expected "${name}"`);
      return byTestId('page-job-detail').getAttribute('data-job-id');
    };
  };

  /** Wait for `probe` to hold (polled every 250 ms), else fail saying `what`. */
  const until = async (what, probe, ms = timeoutMs) => {
    const deadline = Date.now() + ms;
    while (!(await probe())) {
      if (Date.now() > deadline) throw new Error(`${what}: not after ${ms} ms`);
      await page.waitForTimeout(250);
    }
  };

  /** A datetime-local value `offsetMs` from now, on the browser's wall clock. */
  const localInput = (offsetMs) =>
    page.evaluate((offset) => {
      const d = new Date(Date.now() + offset);
      const pad = (n) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
    }, offsetMs);

  try {
    step(`open ${baseUrl}`);
    await page.goto(new URL('/', baseUrl).toString(), { waitUntil: 'domcontentloaded' });
    await byTestId('page-sign-in').waitFor();
    await screenshot(page, shots, '01-sign-in');

    step('sign in with the token');
    await byTestId('signin-token').fill(token);
    await byTestId('signin-submit').click();
    await byTestId('page-jobs').waitFor();
    await byTestId('loading').waitFor({ state: 'detached' });
    await screenshot(page, shots, '02-jobs');

    step(`create an interval job (task ${taskKey})`);
    await byTestId('job-new').click();
    await byTestId('job-form').waitFor();
    const taskSelect = byTestId('field-taskFunctionId');
    const taskValue = await taskSelect.locator(`option[data-key="${taskKey}"]`).getAttribute('value');
    if (!taskValue) throw new Error(`task function "${taskKey}" is not offered by GET /task-functions`);
    await taskSelect.selectOption(taskValue);
    await byTestId('field-nameEn').fill(jobName);
    await byTestId('field-nameAr').fill('مهمة اختبار شاملة');
    await byTestId('schedule-kind-interval').check();
    // One hour: only the manual trigger runs during the test.
    await byTestId('field-intervalMinutes').fill('');
    await byTestId('field-intervalHours').fill('1');
    await byTestId('field-priority').fill('3');
    await byTestId('preview-times').waitFor();
    await screenshot(page, shots, '03-job-form');
    await byTestId('form-submit').click();

    await byTestId('page-job-detail').waitFor();
    const title = await byTestId('job-title').textContent();
    if (title?.trim() !== jobName) throw new Error(`job detail shows "${title}", expected "${jobName}"`);
    await byTestId('badge-enabled').waitFor();
    const jobId = await byTestId('page-job-detail').getAttribute('data-job-id');
    step(`job ${jobId} created`);
    await screenshot(page, shots, '04-job-detail');

    step('trigger it and wait for the run to succeed in its history');
    await byTestId('action-trigger').click();
    await byTestId('action-result').waitFor();
    const executionId = (await byTestId('action-execution-id').count()) ? await byTestId('action-execution-id').textContent() : null;
    step(`triggered: ${(await byTestId('action-result').textContent())?.trim()}`);
    const successRow = page.locator('[data-testid="execution-row"][data-status="success"]');
    const failedRow = page.locator('[data-testid="execution-row"][data-status="failed"]');
    const deadline = Date.now() + timeoutMs;
    while (!(await successRow.count())) {
      if (await failedRow.count()) {
        await failedRow.first().getByTestId('execution-toggle').click();
        await screenshot(page, shots, 'failure-run');
        throw new Error(`the triggered run failed: ${await page.getByTestId('execution-error').first().textContent()}`);
      }
      if (Date.now() > deadline) throw new Error(`no successful run in the job's history after ${timeoutMs} ms`);
      await page.waitForTimeout(500);
      // The history polls on its own while runs are in flight; the refresh button is a belt and braces.
      if ((await byTestId('history-refresh').isEnabled()) && Date.now() % 5 === 0) await byTestId('history-refresh').click();
    }
    const firstRunId = await successRow.first().getAttribute('data-execution-id');
    await successRow.first().getByTestId('execution-toggle').click();
    await byTestId('execution-details').first().waitFor();
    await screenshot(page, shots, '05-job-history');

    step(`re-run run ${firstRunId} (with confirmation)`);
    await successRow.first().getByTestId('execution-rerun').click();
    await byTestId('run-action-dialog').waitFor();
    await screenshot(page, shots, '05a-rerun-confirm');
    await byTestId('run-action-dialog-confirm').click();
    await byTestId('run-action-result').waitFor();
    const rerunRow = page.locator('[data-testid="execution-row"]', { has: page.locator(`[data-testid="execution-rerun-of"][data-target="${firstRunId}"]`) });
    await until('the re-run succeeds, linked to the run it repeats', async () => (await rerunRow.count()) > 0 && (await rerunRow.first().getAttribute('data-status')) === 'success');

    step('backfill the last 3 hours, then again (nothing twice), then into the future (refused)');
    await byTestId('action-backfill').click();
    await byTestId('backfill-dialog').waitFor();
    await byTestId('field-from').fill(await localInput(-3 * 3_600_000));
    await byTestId('field-to').fill(await localInput(-60_000));
    await byTestId('backfill-submit').click();
    const filled = page.locator('[data-testid="backfill-result"]');
    await filled.waitFor();
    const first = { created: Number(await filled.getAttribute('data-created')), slots: Number(await filled.getAttribute('data-slots')) };
    if (first.slots < 2 || first.created !== first.slots) throw new Error(`backfill of 3 hours of an hourly job: ${JSON.stringify(first)}`);
    step(`backfill created ${first.created} run(s)`);
    await screenshot(page, shots, '05b-backfill');
    await byTestId('backfill-submit').click();
    await page.locator(`[data-testid="backfill-result"][data-created="0"][data-existing="${first.slots}"]`).waitFor();
    await byTestId('field-to').fill(await localInput(86_400_000));
    await byTestId('backfill-submit').click();
    const refused = await byTestId('error-to').textContent();
    if (!/future/.test(refused ?? '')) throw new Error(`a backfill into the future should be refused at "to", got "${refused}"`);
    await screenshot(page, shots, '05c-backfill-refused');
    await byTestId('backfill-close').click();
    await until('the backfilled runs are in the history', async () => (await page.locator('[data-testid="execution-row"]').filter({ hasText: 'backfill' }).count()) >= first.created);

    step('charts of the job draw from its real history (uPlot in Chromium)');
    await page.locator('[data-testid="chart-status"][data-drawn="true"]').waitFor();
    for (const chart of ['chart-status', 'chart-duration', 'chart-lateness']) {
      const points = Number(await byTestId(chart).getAttribute('data-points'));
      if (!(points > 0)) throw new Error(`${chart} has ${points} points`);
      await page.locator(`[data-testid="${chart}"][data-drawn="true"] canvas`).first().waitFor();
    }
    const charted = Number(await byTestId('job-charts').getAttribute('data-runs'));
    const listed = await page.locator('[data-testid="execution-row"]').count();
    if (charted < listed) throw new Error(`the charts cover ${charted} runs, the history lists ${listed}`);
    await screenshot(page, shots, '05h-job-charts');

    step('every time is labelled with its zone; the UTC switch shows UTC, and is remembered');
    const lastRun = (await byTestId('detail-last-run').textContent()) ?? '';
    if (!/\d{2}:\d{2}:\d{2} (UTC|GMT[+-]?\d*|[A-Z]{2,5})\b/.test(lastRun)) throw new Error(`last run without a zone: "${lastRun}"`);
    await byTestId('utc-switch').check();
    await until('the last run shows in UTC', async () => /UTC/.test((await byTestId('detail-last-run').textContent()) ?? ''), 5_000);
    await page.reload();
    await byTestId('page-job-detail').waitFor();
    if (!(await byTestId('utc-switch').isChecked())) throw new Error('the UTC switch is not remembered across a reload');
    await byTestId('utc-switch').uncheck();

    step('live: a run triggered elsewhere appears in the jobs list without a reload');
    await byTestId('nav-jobs').click();
    const row = page.locator(`[data-testid="job-row"][data-job-id="${jobId}"]`);
    await row.waitFor();
    const before = await row.getByTestId('job-last-run').getAttribute('title');
    const triggered = await fetch(new URL(`/api/v1/scheduler/jobs/${jobId}/action`, baseUrl), {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ action: 'trigger' }),
    });
    if (!triggered.ok) throw new Error(`trigger through the API: ${triggered.status} ${await triggered.text()}`);
    await until('the list shows the new last run', async () => (await row.getByTestId('job-last-run').getAttribute('title')) !== before, 30_000);
    step(`last run ${before} -> ${await row.getByTestId('job-last-run').getAttribute('title')}`);
    await page.goto(new URL(`/#/jobs/${jobId}`, baseUrl).toString());
    await byTestId('page-job-detail').waitFor();

    step('a job of the fail task with 1 retry that pauses itself after 1 failed run');
    const submitFailing = await createJob('fail', `e2e retries ${stamp}`, {
      maxRetries: '1',
      retryDelaySeconds: '1',
      retryBackoffFactor: '2',
      retryMaxDelaySeconds: '60',
      pauseAfterFailures: '1',
    }, { overlapPolicy: 'queue' });
    await screenshot(page, shots, '05d-job-form-retries');
    const failingJobId = await submitFailing();
    await byTestId('detail-retries').waitFor();
    await byTestId('action-trigger').click();
    await byTestId('action-result').waitFor();
    const secondAttempt = page.locator('[data-testid="execution-row"][data-attempt="2"][data-status="failed"]');
    await until('attempt 2 fails', async () => (await secondAttempt.count()) > 0);
    const firstAttemptId = await secondAttempt.first().getByTestId('execution-first-attempt').getAttribute('data-target');
    const firstAttempt = page.locator(`[data-testid="execution-row"][data-execution-id="${firstAttemptId}"][data-attempt="1"][data-status="failed"]`);
    if (!(await firstAttempt.count())) throw new Error(`attempt 2 links to ${firstAttemptId}, which is not the failed attempt 1`);
    await byTestId('paused-reason').waitFor();
    step(`job ${failingJobId} paused itself: ${(await byTestId('paused-reason-text').textContent())?.trim()}`);
    await secondAttempt.first().getByTestId('execution-first-attempt').click();
    await screenshot(page, shots, '05e-paused-reason');
    await byTestId('paused-reason-resume').click();
    await byTestId('paused-reason').waitFor({ state: 'detached' });
    await byTestId('badge-paused').waitFor({ state: 'detached' });
    if ((await byTestId('detail-consecutive-failures').textContent())?.trim() !== '0') throw new Error('resume should clear the failure count');

    step('a job of the sleep task: trigger it and cancel the running run');
    const submitSleeping = await createJob('sleep', `e2e cancel ${stamp}`, { 'parameters.seconds': '300' });
    await submitSleeping();
    await byTestId('action-trigger').click();
    await byTestId('action-result').waitFor();
    await until('the run is running', async () => (await rowsWith('running').count()) > 0);
    await rowsWith('running').first().getByTestId('execution-cancel').click();
    await byTestId('run-action-dialog').waitFor();
    await screenshot(page, shots, '05f-cancel-confirm');
    await byTestId('run-action-dialog-confirm').click();
    await byTestId('run-action-result').waitFor();
    await until('the run is recorded cancelled', async () => (await rowsWith('cancelled').count()) > 0);
    await screenshot(page, shots, '05g-cancelled');

    step(`back to job ${jobId}: pause it`);
    await page.goto(new URL(`/#/jobs/${jobId}`, baseUrl).toString());
    await byTestId('page-job-detail').waitFor();
    await byTestId('action-pause').click();
    await page.locator('[data-testid="action-result"][data-success="true"]').waitFor();
    await byTestId('badge-paused').waitFor();
    if (!(await byTestId('action-resume').isEnabled())) throw new Error('resume should be possible on a paused job');
    await screenshot(page, shots, '06-job-paused');

    step('history of all jobs');
    await byTestId('nav-history').click();
    await byTestId('page-history').waitFor();
    await byTestId('history-table').waitFor();
    if (executionId) step(executionId.trim());
    await screenshot(page, shots, '07-history');

    step('history filters: job, status, trigger, slot range (each answered by the API)');
    const rowsNow = page.locator('[data-testid="execution-row"]');
    /** Wait until every listed run has `attribute` = `value` (and there is at least one). */
    const allRows = async (what, attribute, value) =>
      until(what, async () => {
        const values = await rowsNow.evaluateAll((rows, name) => rows.map((row) => row.getAttribute(name)), attribute);
        return values.length > 0 && values.every((v) => v === value);
      }, 15_000);
    await byTestId('filter-job').selectOption(String(jobId));
    await allRows('only the first job\'s runs', 'data-job-id', String(jobId));
    await byTestId('filter-trigger').selectOption('backfill');
    await allRows('only its backfilled runs', 'data-trigger', 'backfill');
    await screenshot(page, shots, '07a-history-filtered');
    await byTestId('filter-clear').click();
    await byTestId('filter-status').selectOption('4');
    await allRows('only failed runs', 'data-status', 'failed');
    await byTestId('filter-from').fill(await localInput(86_400_000));
    await byTestId('history-empty').waitFor();
    await byTestId('filter-clear').click();
    await rowsNow.first().waitFor();

    step('search the jobs by name');
    await byTestId('nav-jobs').click();
    await byTestId('jobs-search').fill(`e2e retries ${stamp}`);
    await byTestId('jobs-search').press('Enter');
    await until('only the matching job is listed', async () => {
      const ids = await page.locator('[data-testid="job-row"]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-job-id')));
      return ids.length === 1 && ids[0] === String(failingJobId);
    }, 15_000);
    await screenshot(page, shots, '07b-jobs-search');
    await byTestId('jobs-search').fill('');
    await byTestId('nav-history').click();
    await byTestId('history-table').waitFor();

    step('status');
    await byTestId('nav-status').click();
    await byTestId('status-summary').waitFor();
    await screenshot(page, shots, '08-status');

    step('switch to Arabic');
    await byTestId('lang-switch').click();
    const direction = await documentDirection(page);
    if (direction.dir !== 'rtl' || direction.lang !== 'ar') throw new Error(`after the switch <html> has dir=${direction.dir} lang=${direction.lang}`);
    await screenshot(page, shots, '09-status-ar');
    await byTestId('nav-jobs').click();
    await byTestId('jobs-table').waitFor();
    await screenshot(page, shots, '10-jobs-ar');
    await page.goto(new URL(`/#/jobs/${failingJobId}`, baseUrl).toString());
    await page.locator('[data-testid="execution-row"][data-attempt="2"]').first().waitFor();
    await screenshot(page, shots, '10a-attempts-ar');
    await page.goto(new URL(`/#/jobs/${jobId}`, baseUrl).toString());
    await byTestId('page-job-detail').waitFor();
    await byTestId('history-table').waitFor();
    await screenshot(page, shots, '11-job-detail-ar');

    step('overview: the last 24 h counts the runs of this test');
    await byTestId('nav-overview').click();
    await byTestId('overview-counts').waitFor();
    const counted = Number(await byTestId('overview-counts').getAttribute('data-total'));
    if (!(counted >= 3)) throw new Error(`the overview counts ${counted} runs in the last 24 h`);

    step('every page in both languages, wide and at 390 px (no horizontal overflow)');
    const pages = [
      ['overview', '/overview', 'overview-counts'],
      ['jobs', '/jobs', 'jobs-table'],
      ['job-detail', `/jobs/${jobId}`, 'history-table'],
      ['job-form', '/jobs/new', 'job-form'],
      ['history', '/history', 'history-table'],
      ['status', '/status', 'status-summary'],
    ];
    for (const lang of ['ar', 'en']) {
      for (const [width, height] of [[1366, 900], [390, 844]]) {
        await page.setViewportSize({ width, height });
        for (const [name, route, ready] of pages) {
          await page.goto(new URL(`/#${route}`, baseUrl).toString());
          await byTestId(ready).waitFor();
          await byTestId('loading').first().waitFor({ state: 'detached' }).catch(() => undefined);
          if ((await documentDirection(page)).lang !== lang) throw new Error(`${name}: expected the ${lang} page`);
          if (width === 390) {
            const scrollWidth = await page.evaluate(() => document.scrollingElement.scrollWidth);
            if (scrollWidth > 390) throw new Error(`${name} (${lang}) is ${scrollWidth} px wide at 390 px`);
          }
          await screenshot(page, shots, `page-${name}-${lang}-${width}`);
        }
      }
      if (lang === 'ar') await byTestId('lang-switch').click();
    }
    await page.setViewportSize({ width: 1366, height: 900 });
    await byTestId('lang-switch').click();
    await page.goto(new URL(`/#/jobs/${jobId}`, baseUrl).toString());
    await byTestId('page-job-detail').waitFor();

    if (!keepJob) {
      step('delete the job (with confirmation)');
      await byTestId('job-delete').click();
      await byTestId('confirm-dialog').waitFor();
      await screenshot(page, shots, '12-delete-confirm-ar');
      await byTestId('confirm-dialog-confirm').click();
      await byTestId('job-deleted').waitFor();
      if (await page.locator(`[data-testid="job-row"][data-job-id="${jobId}"]`).count()) throw new Error('the deleted job is still listed');
    }

    const pageErrors = problems.filter((p) => p.startsWith('page error'));
    if (pageErrors.length) throw new Error(`uncaught errors in the page:\n${pageErrors.join('\n')}`);
    if (problems.length) console.log(`  (browser console reported:\n   ${problems.join('\n   ')})`);
    console.log('dashboard e2e: PASS');
  } catch (error) {
    await screenshot(page, shots, 'failure').catch(() => undefined);
    if (problems.length) console.error(`browser reported:\n  ${problems.join('\n  ')}`);
    throw error;
  } finally {
    await browser.close();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const baseUrl = process.env.BASE_URL;
  const token = process.env.TOKEN;
  if (!baseUrl || !token) {
    console.error('dashboard e2e needs BASE_URL (where the API serves the dashboard) and TOKEN (a Super Admin token).');
    console.error('Without a running scheduler: `npm run e2e:mock` (in-memory API) or `npm run e2e:smoke` (static files only).');
    process.exit(2);
  }
  try {
    await runDashboardE2E({
      baseUrl,
      token,
      shots: screenshotDir(),
      taskKey: process.env.TASK_KEY ?? 'noop',
      timeoutMs: Number(process.env.E2E_TIMEOUT_MS ?? 60_000),
      keepJob: process.env.E2E_KEEP_JOB === '1',
    });
  } catch (error) {
    console.error(`dashboard e2e: FAIL\n${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  }
}
