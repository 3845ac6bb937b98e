import { routeUrl, type ApiRoute, type RouteAnswer, type RouteBody, type RouteRequest } from '@km/shared';
import { loadSettings, runningTarget } from '../config/settings';

export interface ApiCall<R extends ApiRoute> {
  /** The path and query parameters, by the names the contract declares. */
  request?: RouteRequest<R>;
  body?: RouteBody<R>;
  /** The API to call; the one km ships to (local km serve unless km login / KM_ENDPOINT say otherwise) by default. */
  target?: { endpoint: string; apiKey: string | null };
  /** Aborts the call (Ctrl-C in km tail); the call then answers null. */
  signal?: AbortSignal;
  timeoutMs?: number;
}

/**
 * A call to a route of the contract (shared/src/api): its method and path from the declaration, its answer parsed
 * by the route's answer schema, so a server that answers something else is an error here, not a crash later. Throws
 * a message a user can act on; null only when `signal` aborted it.
 */
export async function callApi<R extends ApiRoute>(route: R, call?: ApiCall<R> & { signal?: undefined }): Promise<RouteAnswer<R>>;
export async function callApi<R extends ApiRoute>(route: R, call: ApiCall<R>): Promise<RouteAnswer<R> | null>;
export async function callApi<R extends ApiRoute>(route: R, call: ApiCall<R> = {}): Promise<RouteAnswer<R> | null> {
  const { endpoint, apiKey } = call.target ?? runningTarget(loadSettings());
  const url = routeUrl(route.path, call.request as Record<string, string | number | null | undefined> | undefined);
  const what = `${route.method} ${url.split('?')[0]}`;
  // The caller's abort or the timeout, whichever comes first (AbortSignal.any needs Node 20.3).
  const request = new AbortController();
  const abort = () => request.abort();
  const timer = setTimeout(abort, call.timeoutMs ?? 10_000);
  call.signal?.addEventListener('abort', abort, { once: true });
  let res: Response;
  try {
    res = await fetch(endpoint + url, {
      method: route.method,
      headers: { ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}), ...(call.body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
      signal: request.signal,
    });
  } catch (error) {
    if (call.signal?.aborted) return null;
    throw new Error(`nothing answered at ${endpoint} (${(error as Error).message}): start the local stack with \`km serve\`, or check KM_ENDPOINT / km login`);
  } finally {
    clearTimeout(timer);
    call.signal?.removeEventListener('abort', abort);
  }
  const answer = (await res.json().catch(() => null)) as unknown;
  if (!res.ok) throw new Error(`${what} answered ${res.status}: ${(answer as { error?: unknown } | null)?.error ?? 'no details'}`);
  const parsed = route.answer.safeParse(answer);
  if (!parsed.success) throw new Error(`${what} answered something this km does not read (${parsed.error.issues[0]?.message}): is ${endpoint} a km API of another version?`);
  return parsed.data as RouteAnswer<R>;
}
