#!/usr/bin/env node
// The dashboard and the API docs in headless Chromium through a reverse proxy that serves the scheduler at a path
// prefix (tests/e2e/test_gateway.py starts nginx and the product, then runs this).
//
// Inputs (environment):
//   GATEWAY_URLS    space-separated URLs of the dashboard behind gateways, each ending in "/", e.g.
//                   "http://127.0.0.1:8081/scheduler/ http://127.0.0.1:8082/ops/scheduler/"         (required)
//                   The first gets the whole flow; the others sign in, list jobs and open the job.
//   TOKEN           a Super Admin token                                                               (required)
//   JOB_ID          a job that exists (the test created it through the gateway)                      (required)
//   OPERATIONS      how many operations the OpenAPI document has (/docs must render them all)       (required)
//   FORGED_CLIENT   sent by the browser as X-Forwarded-For: the gateway must not pass it on as the client
//   SCREENSHOT_DIR  where screenshots go (default <repo>/test-output/screenshots), under gateway/
//
// Every request the page makes to a gateway must stay under that gateway's prefix: an asset or API call to
// the host root is exactly what a gateway does not route. The browser has no internet: the Swagger UI files
// that FastAPI's /docs takes from a CDN are served from the pinned swagger-ui-dist package instead.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DASHBOARD_DIR, launchChromium, screenshot, screenshotDir, step } from './lib.mjs';

const SWAGGER_UI_DIST = path.join(DASHBOARD_DIR, 'node_modules/swagger-ui-dist');
const CONTENT_TYPES = { '.js': 'text/javascript', '.css': 'text/css', '.png': 'image/png' };

/** Requests to anywhere but the gateways: Swagger UI's CDN files from node_modules, everything else refused. */
async function offline(route) {
  const url = new URL(route.request().url());
  const file = /^\/npm\/swagger-ui-dist@[^/]+\/([\w.-]+)$/.exec(url.pathname)?.[1];
  if (url.hostname === 'cdn.jsdelivr.net' && file) {
    const body = await readFile(path.join(SWAGGER_UI_DIST, file));
    await route.fulfill({ status: 200, body, contentType: CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream' });
  } else {
    await route.abort('blockedbyclient');
  }
}

async function openContext(browser, gateways, forged) {
  const context = await browser.newContext({
    viewport: { width: 1366, height: 900 },
    extraHTTPHeaders: forged ? { 'X-Forwarded-For': forged } : {},
  });
  const origins = new Set(gateways.map((url) => new URL(url).origin));
  await context.route((url) => !origins.has(url.origin), offline);
  const requests = [];
  const failures = [];
  const problems = [];
  context.on('request', (request) => requests.push(new URL(request.url())));
  context.on('response', (response) => {
    const url = new URL(response.url());
    // 401 is the sign-in check's answer to a wrong token; nothing else the flow does may fail.
    if (origins.has(url.origin) && response.status() >= 400) failures.push(`${response.status()} ${url.pathname}`);
  });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  return { context, page, requests, failures, problems };
}

async function signInAndOpenJob(page, gatewayUrl, token, jobId, shots, name) {
  step(`${name}: open ${gatewayUrl}`);
  await page.goto(gatewayUrl, { waitUntil: 'domcontentloaded' });
  await page.getByTestId('page-sign-in').waitFor();
  step(`${name}: sign in`);
  await page.getByTestId('signin-token').fill(token);
  await page.getByTestId('signin-submit').click();
  await page.getByTestId('page-jobs').waitFor();
  step(`${name}: the jobs list shows job ${jobId}`);
  const row = page.locator(`[data-testid="job-row"][data-job-id="${jobId}"]`);
  await row.waitFor();
  await screenshot(page, shots, `${name}-jobs`);
  step(`${name}: open the job`);
  await row.getByTestId('job-link').click();
  await page.locator(`[data-testid="page-job-detail"][data-job-id="${jobId}"]`).waitFor();
}

export async function runGatewayE2E({ gateways, token, jobId, operations, forged, shots }) {
  const browser = await launchChromium();
  const { context, page, requests, failures, problems } = await openContext(browser, gateways, forged);
  try {
    const [first, ...others] = gateways;
    await signInAndOpenJob(page, first, token, jobId, shots, 'gateway');
    await screenshot(page, shots, 'gateway-job');

    step('trigger it and wait for the run to succeed');
    await page.getByTestId('action-trigger').click();
    await page.locator('[data-testid="action-result"][data-success="true"]').waitFor();
    await page.locator('[data-testid="execution-row"][data-status="success"]').first().waitFor({ timeout: 60_000 });
    await screenshot(page, shots, 'gateway-job-triggered');

    step('deep link without a hash (the API injects <base href>, so the assets still load)');
    await page.goto(new URL(`jobs/${jobId}#/jobs/${jobId}`, first).toString());
    await page.locator(`[data-testid="page-job-detail"][data-job-id="${jobId}"]`).waitFor();

    step('/docs renders every operation, with the spec and the servers under the prefix');
    const prefix = new URL(first).pathname;
    await page.goto(new URL('docs', first).toString());
    await page.locator('.opblock').first().waitFor();
    const rendered = await page.locator('.opblock').count();
    if (rendered !== operations) throw new Error(`/docs shows ${rendered} operations, the OpenAPI document has ${operations}`);
    const spec = requests.find((url) => url.pathname.endsWith('/openapi.json'));
    if (spec?.pathname !== `${prefix}openapi.json`) throw new Error(`Swagger UI loaded the spec from ${spec?.pathname}`);
    const servers = await page.locator('.servers select option').allTextContents();
    if (!servers.some((server) => server.trim() === prefix.replace(/\/$/, ''))) throw new Error(`servers offered: ${servers}`);
    await screenshot(page, shots, 'gateway-docs');

    for (const [index, other] of others.entries()) await signInAndOpenJob(page, other, token, jobId, shots, `gateway-${index + 2}`);

    step('every request stayed under its gateway prefix');
    const stray = requests.filter((url) => {
      const gateway = gateways.find((g) => new URL(g).origin === url.origin);
      return gateway && !url.pathname.startsWith(new URL(gateway).pathname);
    });
    if (stray.length) throw new Error(`requests outside the prefix: ${stray.map((u) => u.href).join(', ')}`);
    const unexpected = failures.filter((failure) => !failure.startsWith('401 '));
    if (unexpected.length) throw new Error(`failed requests through the gateway: ${unexpected.join(', ')}`);
    if (problems.length) throw new Error(problems.join('\n'));
    console.log(`gateway e2e: PASS (${requests.length} requests)`);
  } catch (error) {
    await screenshot(page, shots, 'gateway-failure').catch(() => undefined);
    if (problems.length) console.error(`browser reported:\n  ${problems.join('\n  ')}`);
    throw error;
  } finally {
    await context.close();
    await browser.close();
  }
}

const gateways = (process.env.GATEWAY_URLS ?? '').split(/\s+/).filter(Boolean);
const { TOKEN: token, JOB_ID: jobId, OPERATIONS: operations } = process.env;
if (!gateways.length || !token || !jobId || !operations || gateways.some((url) => !url.endsWith('/'))) {
  console.error('gateway e2e needs GATEWAY_URLS (each ending in "/"), TOKEN, JOB_ID and OPERATIONS (see the header).');
  process.exit(2);
}
try {
  await runGatewayE2E({
    gateways,
    token,
    jobId,
    operations: Number(operations),
    forged: process.env.FORGED_CLIENT,
    shots: screenshotDir('gateway'),
  });
} catch (error) {
  console.error(`gateway e2e: FAIL\n${error instanceof Error ? error.stack : String(error)}`);
  process.exit(1);
}
