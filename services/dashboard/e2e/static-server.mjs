// Minimal static file server for dist/ with an index.html fallback (deep links), used by the smoke test and
// the mock API. Node built-ins only.
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** index.html with the <base href> the API puts into it (scheduler_api/dashboard.py; "/" here: this server
 * serves dist/ at its root): the build's relative asset URLs then resolve from deep links too. */
async function indexWithBase(file) {
  const page = await readFile(file, 'utf8');
  return page.replace(/<head(\s[^>]*)?>/i, (head) => `${head}<base href="/">`);
}

/** Serve `root` for a GET/HEAD request; resolves true when it answered. */
export async function serveStatic(root, request, response) {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const url = new URL(request.url ?? '/', 'http://localhost');
  let file = path.normalize(path.join(root, decodeURIComponent(url.pathname)));
  if (!file.startsWith(path.resolve(root))) {
    response.writeHead(403).end();
    return true;
  }
  let info = await stat(file).catch(() => undefined);
  if (info?.isDirectory()) {
    file = path.join(file, 'index.html');
    info = await stat(file).catch(() => undefined);
  }
  if (!info) {
    // Fallback for deep links without a hash; assets that do not exist stay 404.
    if (path.extname(url.pathname)) {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return true;
    }
    file = path.join(root, 'index.html');
    info = await stat(file).catch(() => undefined);
    if (!info) {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('dist/index.html missing: run npm run build');
      return true;
    }
  }
  if (file.endsWith('index.html')) {
    const page = Buffer.from(await indexWithBase(file));
    response.writeHead(200, { 'Content-Type': TYPES['.html'], 'Content-Length': page.length, 'Cache-Control': 'no-cache' });
    response.end(request.method === 'HEAD' ? undefined : page);
    return true;
  }
  response.writeHead(200, {
    'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
    'Content-Length': info.size,
    'Cache-Control': 'public, max-age=31536000, immutable',
  });
  if (request.method === 'HEAD') response.end();
  else createReadStream(file).pipe(response);
  return true;
}
