import { loadSettings, resolveTarget } from '../config/settings';

/** A call to the km API the CLI ships to (the local km serve unless km login / KM_ENDPOINT say otherwise). */
export async function callApi<T>(method: 'GET' | 'PUT', path: string, body?: unknown): Promise<T> {
  const { endpoint, apiKey } = resolveTarget(loadSettings());
  let res: Response;
  try {
    res = await fetch(`${endpoint}${path}`, {
      method,
      headers: { ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch {
    throw new Error(`cannot reach ${endpoint}: start it with \`km serve\` (or check KM_ENDPOINT / km login)`);
  }
  const answer = (await res.json().catch(() => null)) as (T & { error?: string }) | null;
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${answer?.error ?? 'no details'}`);
  return answer as T;
}
