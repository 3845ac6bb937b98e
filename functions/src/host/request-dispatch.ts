import type { HttpResponseInit } from '@azure/functions';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorResponse, orList } from '../handlers/http-results';
import { describeError, type Logger } from '../logger';
import type { HttpRoute } from '../routes';
import { invocationContextFor, readBodyAtMost, toHttpRequest, writeHttpResponse } from './node-http-bridge';
import { compileRouteMatcher } from './route-matcher';
import { INSTALL_PATH, serveInstallPackage, type InstallPackage } from './install-package';
import { serveDashboard } from './static-files';

export interface DispatchOptions {
  routes: readonly HttpRoute[];
  dashboardDir: string | undefined;
  maxBodyBytes: number;
  logger: Logger;
  /** Listening on loopback only: then the Host header must name loopback too (see refuseForeignCaller). */
  loopbackOnly: boolean;
  /** The host's own base URL, known once it listens. */
  baseUrl: () => string;
  /** The dashboard's sign-in endpoints under /auth/ (functions/src/signin). */
  signIn?: (req: IncomingMessage, res: ServerResponse, path: string) => Promise<void>;
  /** The km package this server runs, offered at /install/km.tgz without a key (it is the product, no data). */
  install?: InstallPackage;
}

/** How often a header came, in any case (rawHeaders: names and values in turn). */
const headerCount = (req: IncomingMessage, name: string) => req.rawHeaders.filter((value, i) => i % 2 === 0 && value.toLowerCase() === name).length;

export const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** The node:http listener of the embedded host: `/api/...` to the route table's handlers, the rest to the dashboard. */
export function makeRequestListener(options: DispatchOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const match = compileRouteMatcher(options.routes);
  const { logger, maxBodyBytes } = options;

  async function dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const method = req.method ?? 'GET';
    const refusal = refuseForeignCaller(req, options.baseUrl(), options.loopbackOnly);
    if (refusal) return refuse(res, refusal);

    if (path.startsWith('/auth/') && options.signIn) return options.signIn(req, res, path);
    if (path === INSTALL_PATH && (method === 'GET' || method === 'HEAD')) return serveInstallPackage(options.install, res, method === 'HEAD');
    // The landing page's call to action is Static Web Apps' sign-in path; here the dashboard itself signs in, or
    // needs no sign-in at all on loopback.
    if (path.startsWith('/.auth/login/') && (method === 'GET' || method === 'HEAD')) return writeHttpResponse(res, { status: 302, headers: { location: '/' } });
    if (path !== '/api' && !path.startsWith('/api/')) {
      if (method === 'GET' || method === 'HEAD') return serveDashboard(options.dashboardDir, path, res, method === 'HEAD');
      return refuse(res, errorResponse(405, 'the dashboard answers GET only.', {}, { Allow: 'GET, HEAD' }));
    }

    // node keeps the first Authorization header of several and drops the rest: which key was meant is unknown.
    if (headerCount(req, 'authorization') > 1) return refuse(res, errorResponse(400, 'the Authorization header is given more than once: send one key.'));
    const found = match(method, path.slice('/api/'.length));
    if (found.kind === 'not-found') {
      return refuse(res, errorResponse(404, `no API route ${method} ${path}: see GET /api/sessions.`));
    }
    if (found.kind === 'bad-path') return refuse(res, errorResponse(400, found.message));
    if (found.kind === 'wrong-method') {
      const allowed = found.allowed.join(', ');
      return refuse(res, errorResponse(405, `${path} answers ${allowed} only.`, {}, { Allow: allowed }));
    }

    const body = await readBodyAtMost(req, maxBodyBytes);
    if (body === 'aborted') return void res.destroy();
    if (body === 'too-large') {
      // Only ingest takes bodies this large: its callers can split a batch; any other route's body is small, or none.
      const advice = found.route.name === 'ingest' ? 'send fewer events per batch' : found.route.jsonBody ? `${method} ${path} takes a small JSON body` : `${method} ${path} takes no body`;
      const message = `the request body is larger than the ${maxBodyBytes}-byte limit: ${advice}.`;
      return refuse(res, errorResponse(413, message));
    }
    const request = toHttpRequest(req, options.baseUrl(), body, found.params);
    const response = await found.route.handler(request, invocationContextFor(found.route.name, logger));
    await writeHttpResponse(res, response, method === 'HEAD');
  }

  return (req, res) => {
    dispatch(req, res).catch((error) => {
      logger.error(`embedded host: ${req.method} ${req.url} failed: ${describeError(error)}`);
      if (res.headersSent) return void res.destroy();
      writeHttpResponse(res, errorResponse(500, 'internal error; see km.log.')).catch(() => res.destroy());
    });
  };
}

/**
 * A web page the user visits must not be able to use the key-less local API: DNS rebinding shows up as a foreign
 * Host header, a cross-site fetch or form post as a foreign Origin. Neither is ever sent by km or curl.
 */
function refuseForeignCaller(req: IncomingMessage, baseUrl: string, loopbackOnly: boolean): HttpResponseInit | null {
  if (loopbackOnly) {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    // The loopback address it is bound to (127.0.0.2, say) is its own name too.
    const bound = new URL(baseUrl).hostname.toLowerCase();
    if (!LOOPBACK_NAMES.has(host) && host !== bound) {
      return errorResponse(403, `km serve answers requests for ${orList([...new Set([bound, '127.0.0.1', 'localhost'])])} only, not for the host "${host}".`);
    }
  }
  const origin = req.headers.origin;
  // Beyond loopback teammates reach the host by its own name: their dashboard's origin is what they asked for.
  const ownOrigins = [baseUrl, baseUrl.replace('127.0.0.1', 'localhost'), ...(loopbackOnly ? [] : [`http://${req.headers.host}`, `https://${req.headers.host}`])];
  if (origin !== undefined && !ownOrigins.includes(origin)) {
    return errorResponse(403, 'cross-origin requests are refused: open the dashboard from km serve itself.');
  }
  return null;
}

/** The rest of a refused request's body is never read: close the connection rather than drain it. */
function refuse(res: ServerResponse, response: HttpResponseInit): Promise<void> {
  res.setHeader('connection', 'close');
  return writeHttpResponse(res, response);
}
