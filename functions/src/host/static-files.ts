import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { dirname, extname, join, resolve, sep } from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

export const DASHBOARD_NOT_BUILT =
  'Kilometers is running, but the dashboard is not built.\n' +
  'Build it with `npm run build -w dashboard` (or install a packaged km), then reload.\n' +
  'The API answers meanwhile: GET /api/sessions\n';

/**
 * Serves the built dashboard. Paths resolve inside the dashboard directory only (symlinks included), and a path
 * without a file extension that matches no file is an SPA route, answered with the index.html of the nearest
 * directory above it that has one: /journey/x is the app's, /demo/x the demo's and /welcome/x the landing page's.
 */
export async function serveDashboard(
  dashboardDir: string | undefined,
  urlPath: string,
  res: ServerResponse,
  headOnly: boolean,
): Promise<void> {
  const send = (status: number, text: string): void => {
    res.writeHead(status, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      'x-content-type-options': 'nosniff',
    });
    res.end(headOnly ? undefined : text);
  };
  const NOT_FOUND = 'Not found.\n';
  let path: string;
  try {
    path = decodeURIComponent(urlPath);
  } catch {
    return send(400, 'Bad request: the path is not valid percent-encoding.\n');
  }
  const looksLikeRoute = extname(path) === '';
  const root = dashboardDir ? await realpathOrNull(resolve(dashboardDir)) : null;
  const index = root ? await fileOrNull(join(root, 'index.html'), root) : null;
  if (!root || !index) {
    return send(looksLikeRoute ? 200 : 404, looksLikeRoute ? DASHBOARD_NOT_BUILT : NOT_FOUND);
  }
  if (path.includes('\0')) return send(404, NOT_FOUND);

  const requested = resolve(root, `.${path.startsWith('/') ? path : `/${path}`}`);
  const file =
    (await fileOrNull(requested, root)) ??
    (await fileOrNull(join(requested, 'index.html'), root)) ??
    (looksLikeRoute ? await nearestIndex(requested, root, index) : null);
  if (!file) return send(404, NOT_FOUND);

  res.writeHead(200, {
    'content-type': CONTENT_TYPES[extname(file.path).toLowerCase()] ?? 'application/octet-stream',
    'content-length': file.size,
    'x-content-type-options': 'nosniff',
    // index.html names the hashed assets of the current build: it must be revalidated, the assets need not be.
    'cache-control': file.path.endsWith('.html') ? 'no-cache' : 'public, max-age=3600',
  });
  if (headOnly) {
    res.end();
    return;
  }
  createReadStream(file.path)
    .on('error', () => res.destroy())
    .pipe(res);
}

/** The index.html of the nearest directory above `requested` (inside root) that has one; the app's at the top. */
async function nearestIndex(requested: string, root: string, rootIndex: { path: string; size: number }): Promise<{ path: string; size: number }> {
  for (let dir = dirname(requested); dir.startsWith(root + sep); dir = dirname(dir)) {
    const found = await fileOrNull(join(dir, 'index.html'), root);
    if (found) return found;
  }
  return rootIndex;
}

/** The real path of a regular file inside root, or null: `..` and symlinks that leave the root are refused. */
async function fileOrNull(candidate: string, root: string): Promise<{ path: string; size: number } | null> {
  const real = await realpathOrNull(candidate);
  if (!real || (real !== root && !real.startsWith(root + sep))) return null;
  const info = await stat(real).catch(() => null);
  return info?.isFile() ? { path: real, size: info.size } : null;
}

async function realpathOrNull(path: string): Promise<string | null> {
  return realpath(path).catch(() => null);
}
