import { sessionsRoute } from '@km/shared';
import { callApi } from '../commands/api-client';

/** Sessions whose server km could not start, in the last day, per server and reason (km status, km doctor). */
export interface StartFailure {
  server: string;
  reason: string;
  count: number;
  lastAt: string;
}

const DAY_MS = 86_400_000;

export async function recentStartFailures(target: { endpoint: string; apiKey: string | null }, now = Date.now()): Promise<StartFailure[] | null> {
  let sessions;
  try {
    ({ sessions } = await callApi(sessionsRoute, { request: { limit: 500 }, target, timeoutMs: 3000 }));
  } catch {
    return null; // not reachable, or a km serve of another version: the caller says what it can
  }
  const byServer = new Map<string, StartFailure>();
  for (const s of sessions) {
    if (!s.startError || Date.parse(s.lastActivityAt) < now - DAY_MS) continue;
    const key = `${s.server.name}\u0000${s.startError}`;
    const seen = byServer.get(key);
    if (seen) {
      seen.count++;
      if (s.lastActivityAt > seen.lastAt) seen.lastAt = s.lastActivityAt;
    } else byServer.set(key, { server: s.server.name, reason: s.startError, count: 1, lastAt: s.lastActivityAt });
  }
  return [...byServer.values()].sort((a, b) => b.lastAt.localeCompare(a.lastAt));
}

export const describeStartFailure = (f: StartFailure) => `${f.server}: ${f.reason}${f.count > 1 ? ` (${f.count} times)` : ''}, last at ${f.lastAt}`;
