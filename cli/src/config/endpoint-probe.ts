import { routeUrl, sessionsRoute } from '@km/shared';

/** Whether the endpoint answers and takes the key: one cheap authenticated GET (km status, km doctor). */
export type Reachability = { kind: 'ok' } | { kind: 'key-refused'; status: number } | { kind: 'answers'; status: number } | { kind: 'unreachable' };

export async function probeEndpoint(endpoint: string, apiKey: string | null): Promise<Reachability> {
  try {
    const headers: Record<string, string> = apiKey ? { authorization: `Bearer ${apiKey}` } : {};
    const res = await fetch(endpoint + routeUrl(sessionsRoute.path, { limit: 1 }), { headers, signal: AbortSignal.timeout(2000) });
    if (res.ok) return { kind: 'ok' };
    return res.status === 401 || res.status === 403 ? { kind: 'key-refused', status: res.status } : { kind: 'answers', status: res.status };
  } catch {
    return { kind: 'unreachable' };
  }
}

export function describeReachability(r: Reachability): string {
  if (r.kind === 'ok') return 'yes';
  if (r.kind === 'key-refused') return 'yes, but the API key is refused';
  if (r.kind === 'answers') return `answers ${r.status}`;
  return 'no (nothing listens)';
}
