#!/usr/bin/env node
// Smoke test without an API: serve the built dist/ from a local static server, open it in headless
// Chromium, check the sign-in page, the language switch (dir=rtl) and a deep link; save screenshots.
// Proves the build and the browser tooling work on this machine. Env: SCREENSHOT_DIR, CHROMIUM_PATH.
import http from 'node:http';
import path from 'node:path';
import { access } from 'node:fs/promises';
import { DASHBOARD_DIR, documentDirection, launchChromium, openPage, screenshot, screenshotDir, step } from './lib.mjs';
import { serveStatic } from './static-server.mjs';

const dist = path.join(DASHBOARD_DIR, 'dist');
await access(path.join(dist, 'index.html')).catch(() => {
  console.error('dist/index.html not found: run `npm run build` first');
  process.exit(2);
});

const server = http.createServer(async (request, response) => {
  if (!(await serveStatic(dist, request, response))) response.writeHead(404).end();
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const baseUrl = `http://127.0.0.1:${server.address().port}`;
const shots = screenshotDir('smoke');
let failed = false;
const browser = await launchChromium();
try {
  console.log(`chromium ${browser.version()} against ${baseUrl}`);
  const { page, problems } = await openPage(browser);
  page.setDefaultTimeout(15_000);

  step('sign-in page');
  await page.goto(`${baseUrl}/`);
  await page.getByTestId('page-sign-in').waitFor();
  await page.getByTestId('signin-token').waitFor();
  let direction = await documentDirection(page);
  if (direction.dir !== 'ltr') throw new Error(`expected dir=ltr, got ${direction.dir}`);
  await screenshot(page, shots, 'sign-in');

  step('empty token is refused on the page');
  await page.getByTestId('signin-submit').click();
  await page.getByTestId('signin-error').waitFor();

  step('a token with no API behind shows the API error (not swallowed)');
  await page.getByTestId('signin-token').fill('not-a-real-token');
  await page.getByTestId('signin-submit').click();
  await page.getByTestId('error-banner').waitFor();
  await screenshot(page, shots, 'sign-in-api-error');

  step('switch to Arabic');
  await page.getByTestId('lang-switch').click();
  direction = await documentDirection(page);
  if (direction.dir !== 'rtl' || direction.lang !== 'ar') throw new Error(`expected dir=rtl lang=ar, got ${JSON.stringify(direction)}`);
  await screenshot(page, shots, 'sign-in-ar');

  step('deep link without a hash falls back to index.html');
  await page.goto(`${baseUrl}/some/deep/path`);
  await page.getByTestId('page-sign-in').waitFor();

  const pageErrors = problems.filter((p) => p.startsWith('page error'));
  if (pageErrors.length) throw new Error(pageErrors.join('\n'));
  console.log('smoke e2e: PASS');
} catch (error) {
  failed = true;
  console.error(`smoke e2e: FAIL\n${error instanceof Error ? error.stack : String(error)}`);
} finally {
  await browser.close();
  server.close();
}
process.exit(failed ? 1 : 0);
