import { roleAllows, routeUrl, sessionsRoute, whoamiRoute } from '@km/shared';

/**
 * Whether the endpoint answers and takes the key, for shipping too: one cheap authenticated GET, and for a key,
 * what it is (km status, km doctor). cannot-ship: the key reads, but its role may not ship events (a viewer's).
 */
export type Reachability =
  | { kind: 'ok' }
  | { kind: 'key-refused'; status: number }
  | { kind: 'cannot-ship'; role: string }
  | { kind: 'other-org'; keyOrg: string; org: string }
  | { kind: 'answers'; status: number }
  | { kind: 'unreachable' };

/** org: the org km stamps sessions with when KM_ORG names one (null: the key's own); another org's key is refused. */
export async function probeEndpoint(endpoint: string, apiKey: string | null, org: string | null = null): Promise<Reachability> {
  try {
    const headers: Record<string, string> = apiKey ? { authorization: `Bearer ${apiKey}` } : {};
    const res = await fetch(endpoint + routeUrl(sessionsRoute.path, { limit: 1 }), { headers, signal: AbortSignal.timeout(2000) });
    if (res.ok) return apiKey ? await shipping(endpoint, headers, org) : { kind: 'ok' };
    return res.status === 401 || res.status === 403 ? { kind: 'key-refused', status: res.status } : { kind: 'answers', status: res.status };
  } catch {
    return { kind: 'unreachable' };
  }
}

/**
 * ok; cannot-ship when whoami names a role that may not ship, other-org when the key is of another org than the one
 * sessions are stamped with (the API refuses those events); an endpoint without whoami (older) is ok.
 */
async function shipping(endpoint: string, headers: Record<string, string>, org: string | null): Promise<Reachability> {
  try {
    const res = await fetch(endpoint + routeUrl(whoamiRoute.path), { headers, signal: AbortSignal.timeout(2000) });
    const me = res.ok ? whoamiRoute.answer.safeParse(await res.json().catch(() => null)) : null;
    if (!me?.success) return { kind: 'ok' };
    if (!roleAllows(me.data.role, 'ingest')) return { kind: 'cannot-ship', role: me.data.role };
    return org !== null && me.data.orgId !== org ? { kind: 'other-org', keyOrg: me.data.orgId, org } : { kind: 'ok' };
  } catch {
    return { kind: 'ok' }; // it answered the sessions GET: reachable, whatever whoami did
  }
}

export function describeReachability(r: Reachability): string {
  if (r.kind === 'ok') return 'yes';
  if (r.kind === 'cannot-ship') return `yes, but the API key's role "${r.role}" may not ship events`;
  if (r.kind === 'other-org') return `yes, but the API key is of org "${r.keyOrg}" and KM_ORG names "${r.org}": every session is refused`;
  if (r.kind === 'key-refused') return 'yes, but the API key is refused';
  if (r.kind === 'answers') return `answers ${r.status}`;
  return 'no (nothing listens)';
}
