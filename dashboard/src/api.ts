import type { GetRoutePath, RouteAnswer, RouteAt, RouteRequest } from '@km/shared';
// The one file of shared that imports nothing, so it loads in the browser; the types above are erased.
import { routeUrl } from '../../shared/src/api/url';

/**
 * The only door to the query API. A 404 is its own outcome ('absent'): the cost, risk and latency endpoints are
 * optional on a given server, and a view says "no data yet" instead of showing an error.
 */
export type Loaded<T> =
  | { kind: 'ok'; data: T }
  | { kind: 'absent'; message: string }
  | { kind: 'error'; message: string; status?: number };

function configuredBase(): string {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="km-api-base"]')?.content?.trim();
  const built = (import.meta.env.VITE_KM_API_BASE as string | undefined)?.trim();
  return (meta || built || '').replace(/\/+$/, '');
}

export const API_BASE = configuredBase();

async function errorText(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { error?: unknown };
    if (typeof body.error === 'string') return body.error;
  } catch {
    // not JSON: fall through to the status line
  }
  return `${res.status} ${res.statusText}`.trim();
}

async function send<T>(method: 'GET' | 'POST', path: string, signal?: AbortSignal): Promise<Loaded<T>> {
  let res: Response;
  try {
    res = await fetch(API_BASE + path, { method, signal, headers: { accept: 'application/json' } });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    return { kind: 'error', message: `Cannot reach the API at ${API_BASE || location.origin}. Is km serve running?` };
  }
  if (res.status === 404) return { kind: 'absent', message: await errorText(res) };
  if (!res.ok) return { kind: 'error', message: `${method} ${path} failed: ${await errorText(res)}`, status: res.status };
  try {
    return { kind: 'ok', data: (await res.json()) as T };
  } catch {
    return { kind: 'error', message: `${method} ${path} answered something that is not JSON.` };
  }
}

type GetRoute<P extends GetRoutePath> = RouteAt<'GET', P>;
type PostPath = RouteAt<'POST', string>['path'];
type PostRoute<P extends PostPath> = RouteAt<'POST', P>;

/**
 * GET a route by its declared path (`'cost'`, `'sessions/{id}'`): the compiler checks the path, the parameter names
 * (a filter the route refuses is not among them) and the answer's type against the contract in shared/src/api.
 */
export const getJson = <P extends GetRoutePath>(path: P, request: RouteRequest<GetRoute<P>>, signal?: AbortSignal) =>
  send<RouteAnswer<GetRoute<P>>>('GET', routeUrl(path, request), signal);
export const postJson = <P extends PostPath>(path: P, request: RouteRequest<PostRoute<P>>) => send<RouteAnswer<PostRoute<P>>>('POST', routeUrl(path, request));
