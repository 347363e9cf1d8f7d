import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// The API serves dist/ at its root (same origin, API under api/v1/scheduler next to it). During `npm run dev`
// the API calls are proxied to a running scheduler (default: `make run` on 127.0.0.1:8000).
const apiTarget = process.env.SCHEDULER_API_URL ?? 'http://127.0.0.1:8000';

export default defineConfig({
  plugins: [react()],
  // Relative asset URLs: the dashboard works under whatever path prefix a gateway serves it at (/scheduler/).
  // The API puts a <base href> naming that prefix into index.html, so that a non-hash deep link such as
  // /scheduler/jobs/7, which falls back to index.html, still finds /scheduler/assets/. (Routes themselves are
  // hash routes: #/jobs/7.)
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Production builds ship no source maps: the served bundle is all a browser needs, and maps would hand out
    // the source (paths, comments) to anyone who can load the page.
    sourcemap: false,
  },
  server: {
    proxy: { '/api': { target: apiTarget, changeOrigin: true } },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test/setup.ts'],
    restoreMocks: true,
    // Whole-app tests type into forms; generous for slow CI machines.
    testTimeout: 20_000,
    clearMocks: true,
  },
});
