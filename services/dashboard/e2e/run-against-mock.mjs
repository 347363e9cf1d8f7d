#!/usr/bin/env node
// Run the end-to-end script against the in-memory mock API (e2e/mock-api.mjs), which also serves dist/.
// Exercises the whole browser flow while the Python API is not available. Screenshots go to
// <SCREENSHOT_DIR>/mock so they never pass for the real product's.
import { access } from 'node:fs/promises';
import path from 'node:path';
import { runDashboardE2E } from './dashboard.e2e.mjs';
import { DASHBOARD_DIR, screenshotDir } from './lib.mjs';
import { createMockApi } from './mock-api.mjs';

await access(path.join(DASHBOARD_DIR, 'dist/index.html')).catch(() => {
  console.error('dist/index.html not found: run `npm run build` first');
  process.exit(2);
});
const token = 'mock-e2e-token';
const server = createMockApi({ token });
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const baseUrl = `http://127.0.0.1:${server.address().port}`;
console.log(`mock API on ${baseUrl}`);
let code = 0;
try {
  await runDashboardE2E({ baseUrl, token, shots: screenshotDir('mock'), timeoutMs: 20_000 });
} catch (error) {
  console.error(`dashboard e2e (mock API): FAIL\n${error instanceof Error ? error.stack : String(error)}`);
  code = 1;
} finally {
  server.close();
}
process.exit(code);
