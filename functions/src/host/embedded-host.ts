import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { ApiKeyRecord } from '../adapters/api-key-authenticator';
import { errorResponse } from '../handlers/http-results';
import { DEFAULT_MAX_INGEST_BYTES } from '../handlers/ingest';
import { describeError, stderrLogger, type Logger } from '../logger';
import { httpRoutes } from '../routes';
import { openEmbeddedStack } from './embedded-stack';
import { LOCAL_ORG_ID } from './local-api-key';
import { invocationContextFor, readBodyAtMost, toHttpRequest, writeHttpResponse } from './node-http-bridge';
import { compileRouteMatcher } from './route-matcher';
import { serveDashboard } from './static-files';

export interface EmbeddedHostOptions {
  /** KM_HOME: holds km.db, api-key and serve.json. Created (0700) if missing. */
  home: string;
  /** 0 picks a free port; the real one is in the result. */
  port: number;
  hostname?: string;
  /** The built dashboard (index.html and assets); a short page explains when it is missing. */
  dashboardDir?: string;
  logger?: Logger;
  /** Tenants besides the local key's org 'local' (tests, a shared team server). */
  additionalApiKeys?: readonly ApiKeyRecord[];
  maxBodyBytes?: number;
  projectorIntervalMs?: number;
}

export interface EmbeddedHost {
  /** Base URL, e.g. http://127.0.0.1:7777 (no trailing slash); the API is below /api/. */
  url: string;
  port: number;
  /** Stops accepting requests, finishes the projector run in flight, closes the database, removes serve.json. */
  close(): Promise<void>;
}

/** What local km wrappers read to find the running stack (cli/src/config/settings.ts). */
export interface ServeFile {
  url: string;
  port: number;
  pid: number;
  orgId: string;
}

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/**
 * `km serve`: the same HTTP Functions as the cloud, behind node:http on this machine, with the SQLite ports under
 * KM_HOME and an in-process projector loop instead of Event Hubs triggers.
 */
export async function startEmbeddedHost(options: EmbeddedHostOptions): Promise<EmbeddedHost> {
  const hostname = options.hostname ?? '127.0.0.1';
  const logger = options.logger ?? stderrLogger;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_INGEST_BYTES;
  const loopbackOnly = LOOPBACK_NAMES.has(hostname) || hostname.startsWith('127.');
  const stack = openEmbeddedStack({
    home: options.home,
    logger,
    // Requests without a key are the local user only while nobody else can reach the port.
    ...(loopbackOnly ? { anonymousOrgId: LOCAL_ORG_ID } : {}),
    ...(options.additionalApiKeys ? { additionalApiKeys: options.additionalApiKeys } : {}),
    maxBodyBytes,
    ...(options.projectorIntervalMs ? { projectorIntervalMs: options.projectorIntervalMs } : {}),
  });
  const match = compileRouteMatcher(httpRoutes(stack.deps));

  let baseUrl = '';
  const server = createServer((req, res) => {
    handle(req, res).catch((error) => {
      logger.error(`embedded host: ${req.method} ${req.url} failed: ${describeError(error)}`);
      if (!res.headersSent) void writeHttpResponse(res, errorResponse(500, 'internal error; see km.log.')).catch(() => res.destroy());
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawUrl = req.url ?? '/';
    const path = rawUrl.split('?')[0]!;
    const method = req.method ?? 'GET';
    const refusal = refuseForeignCaller(req, baseUrl, loopbackOnly);
    if (refusal) return refuse(res, refusal);

    if (path !== '/api' && !path.startsWith('/api/')) {
      if (method !== 'GET' && method !== 'HEAD') return refuse(res, errorResponse(405, 'only GET serves the dashboard.', {}, { Allow: 'GET, HEAD' }));
      return serveDashboard(options.dashboardDir, path, res, method === 'HEAD');
    }

    const found = match(method, path.slice('/api/'.length));
    if (found.kind === 'not-found') return refuse(res, errorResponse(404, `no API route ${method} ${path}: see GET /api/sessions.`));
    if (found.kind === 'bad-path') return refuse(res, errorResponse(400, found.message));
    if (found.kind === 'wrong-method') {
      return refuse(res, errorResponse(405, `${path} answers ${found.allowed.join(', ')} only.`, {}, { Allow: found.allowed.join(', ') }));
    }

    const body = await readBodyAtMost(req, maxBodyBytes);
    if (body === 'aborted') return void res.destroy();
    if (body === 'too-large') {
      return refuse(res, errorResponse(413, `the request body is larger than the ${maxBodyBytes}-byte limit: send fewer events per batch.`));
    }
    const request = toHttpRequest(req, baseUrl, body, found.params);
    const response = await found.route.handler(request, invocationContextFor(found.route.name, logger));
    await writeHttpResponse(res, response, method === 'HEAD');
  }

  try {
    await listen(server, options.port, hostname);
  } catch (error) {
    await stack.close();
    const inUse = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
    throw new Error(
      inUse
        ? `port ${options.port} on ${hostname} is in use: is km serve already running (see ${join(options.home, 'serve.json')})? Or pick another with --port.`
        : `cannot listen on ${hostname}:${options.port}: ${(error as Error).message}`,
    );
  }
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://${urlHost(hostname)}:${port}`;
  const serveFile = join(options.home, 'serve.json');
  writeServeFile(serveFile, { url: baseUrl, port, pid: process.pid, orgId: LOCAL_ORG_ID });
  logger.info(`embedded host listening on ${baseUrl} (data in ${options.home})`);

  let closing: Promise<void> | null = null;
  return {
    url: baseUrl,
    port,
    close: () =>
      (closing ??= (async () => {
        removeServeFileIfOurs(serveFile);
        await closeServer(server);
        await stack.close();
        logger.info('embedded host stopped');
      })()),
  };
}

/**
 * A web page the user visits must not be able to use the key-less local API: DNS rebinding shows up as a foreign
 * Host header, a cross-site fetch or form post as a foreign Origin. Neither is ever sent by km or curl.
 */
function refuseForeignCaller(req: IncomingMessage, baseUrl: string, loopbackOnly: boolean) {
  if (loopbackOnly) {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    if (!LOOPBACK_NAMES.has(host)) return errorResponse(403, 'km serve answers requests for 127.0.0.1 or localhost only.');
  }
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== baseUrl && origin !== baseUrl.replace('127.0.0.1', 'localhost')) {
    return errorResponse(403, 'cross-origin requests are refused: open the dashboard from km serve itself.');
  }
  return null;
}

function refuse(res: ServerResponse, response: ReturnType<typeof errorResponse>): Promise<void> {
  // The rest of a refused body is never read: close the connection rather than drain it.
  res.setHeader('connection', 'close');
  return writeHttpResponse(res, response);
}

function listen(server: Server, port: number, hostname: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, hostname, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Lets requests in flight finish for a moment, then cuts whatever is left (a stalled upload must not block exit). */
function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), 2000);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}

function urlHost(hostname: string): string {
  if (hostname === '0.0.0.0' || hostname === '::' || hostname === '') return '127.0.0.1';
  return hostname.includes(':') && !hostname.startsWith('[') ? `[${hostname}]` : hostname;
}

/** Written whole or not at all (rename), so a wrapper starting at that moment never reads half a file. */
function writeServeFile(path: string, content: ServeFile): void {
  const draft = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(draft, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  renameSync(draft, path);
}

/** Another km serve may have started on this KM_HOME since: its serve.json is not ours to remove. */
function removeServeFileIfOurs(path: string): void {
  try {
    const current = JSON.parse(readFileSync(path, 'utf8')) as Partial<ServeFile>;
    if (current.pid === process.pid) rmSync(path, { force: true });
  } catch {
    // Already gone or unreadable: nothing to clean up.
  }
}
