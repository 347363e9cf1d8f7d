// Shared pieces of the browser tests: launching Debian's chromium with playwright-core, screenshots.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const DASHBOARD_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** SCREENSHOT_DIR (relative to the current directory), else <repo>/test-output/screenshots. */
export function screenshotDir(subdir = '') {
  const base = process.env.SCREENSHOT_DIR
    ? path.resolve(process.cwd(), process.env.SCREENSHOT_DIR)
    : path.resolve(DASHBOARD_DIR, '../../test-output/screenshots');
  return subdir ? path.join(base, subdir) : base;
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchChromium() {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true });
}

/** Page with a screenshot helper and a record of uncaught page errors and failed API calls. */
export async function openPage(browser, { lang = 'en-US' } = {}) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: lang });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
  return { context, page, problems };
}

export async function screenshot(page, dir, name) {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`  screenshot ${path.relative(process.cwd(), file) || file}`);
  return file;
}

export function step(title) {
  console.log(`- ${title}`);
}

/** document.documentElement's dir and lang. */
export async function documentDirection(page) {
  return page.evaluate(() => ({ dir: document.documentElement.dir, lang: document.documentElement.lang }));
}
