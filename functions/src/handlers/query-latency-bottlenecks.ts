import { bucketsCovering, latencyBottlenecksRoute, LEGACY_LATENCY_SESSIONS_MODEL, notFound, sessionsProjection, type LatencySessionDoc, type SessionDoc, type SessionWait, type StoredStats } from '@km/shared';
import { readLatencyBuckets } from './latency-buckets';
import { latencyRange, latencyScopes } from './latency-params';
import type { LatencyQueryDeps } from './query-latency';
import type { Caller } from '../ports';
import { inKeyScope, keyScopeName, routeHandler } from './route-handler';

export interface BottleneckGroup {
  server: string;
  /** null: the server's methods other than tools/call (initialize, resources/read, prompts/get, ...). */
  tool: string | null;
  totalMs: number;
  /** totalMs over the waiting time of all groups (0..1). */
  share: number;
  count: number;
}

interface Wait {
  server: string;
  tool: string | null;
  totalMicros: number;
  count: number;
}

/**
 * GET /api/latency/bottlenecks?from&to&projectId|userId&server&tool, or ?sessionId: where the waiting time went, by
 * server and tool, largest share first (shares of what the server and tool filters keep). With sessionId, the whole session (from and to do not apply).
 */
export const makeQueryLatencyBottlenecksHandler = routeHandler(latencyBottlenecksRoute, async (caller, params, deps: LatencyQueryDeps) => {
  const waits = params.sessionId !== undefined ? await sessionWaits(deps, caller, params.sessionId) : await rangeWaits(deps, caller.orgId, params);
  // Shares are of the waiting time the filters keep: where the time of this server (or tool) went.
  const { server, tool } = params;
  return { groups: rank(waits.filter((wait) => (server === undefined || wait.server === server) && (tool === undefined || wait.tool === tool))) };
});

/**
 * The whole session's waits, from its document (from, to and the scope are refused with a sessionId). A km.db from
 * before the waits moved there also holds them in the old latencySessions model: that model stopped folding when
 * the session documents started, so the two hold different events and add up.
 */
async function sessionWaits(deps: LatencyQueryDeps, caller: Caller, sessionId: string): Promise<Wait[]> {
  const [session, legacy] = await Promise.all([
    deps.readModelStore.get<SessionDoc>(sessionsProjection.name, caller.orgId, sessionId),
    deps.readModelStore.get<LatencySessionDoc>(LEGACY_LATENCY_SESSIONS_MODEL, caller.orgId, sessionId),
  ]);
  const parts: Array<{ server: string; waits: Readonly<Record<string, SessionWait>> }> = [];
  // A project key reads its own project's sessions only (with a sessionId the route scopes itself).
  if (session?.doc.waits && inKeyScope(caller, session.doc.projectId)) parts.push({ server: session.doc.server.name, waits: session.doc.waits });
  if (legacy && inKeyScope(caller, legacy.doc.projectId)) parts.push({ server: legacy.doc.server, waits: legacy.doc.waits });
  if (parts.length === 0) throw notFound(`no interactions recorded for session "${sessionId}" in ${keyScopeName(caller)}: list sessions with GET /api/sessions.`);
  const totals = waitTotals();
  for (const { server, waits } of parts) for (const wait of Object.values(waits)) totals.add(server, wait.tool, wait.totalMicros, wait.count);
  return totals.list();
}

/** The waits of the range and scope (a team: its users'), per server and tool, from the latency buckets. */
async function rangeWaits(
  deps: LatencyQueryDeps,
  orgId: string,
  params: { from?: number | undefined; to?: number | undefined; projectId?: string | undefined; userId?: string | undefined; teamId?: string | undefined },
): Promise<Wait[]> {
  const range = latencyRange(params, deps.now());
  const scopes = await latencyScopes(deps.readModelStore, orgId, params);
  const docs = (await Promise.all(scopes.map((scope) => readLatencyBuckets(deps.readModelStore, orgId, scope, bucketsCovering(range.fromMs, range.toMs, scope))))).flat(2);
  const { add, list } = waitTotals();
  for (const doc of docs) {
    // A server's waiting time outside tools/call is what its total leaves after its tools (integers: exact).
    // Stored stats leave out what is 0.
    const rest = new Map(Object.entries(doc.servers).map(([server, stats]) => [server, waitOf(stats)]));
    for (const stats of Object.values(doc.tools)) {
      const { server, tool } = stats;
      const { totalMicros, count } = waitOf(stats);
      add(server, tool, totalMicros, count);
      const left = rest.get(server);
      if (left) rest.set(server, { totalMicros: left.totalMicros - totalMicros, count: left.count - count });
    }
    for (const [server, left] of rest) if (left.count > 0) add(server, null, left.totalMicros, left.count);
  }
  return list();
}

/** Waits summed per server and tool. */
function waitTotals() {
  const byKey = new Map<string, Wait>();
  return {
    add(server: string, tool: string | null, totalMicros: number, count: number) {
      const key = JSON.stringify([server, tool]);
      const wait = byKey.get(key) ?? { server, tool, totalMicros: 0, count: 0 };
      byKey.set(key, { ...wait, totalMicros: wait.totalMicros + totalMicros, count: wait.count + count });
    },
    list: () => [...byKey.values()],
  };
}

const waitOf = (stats: StoredStats) => ({ totalMicros: stats.totalMicros ?? 0, count: stats.count ?? 0 });

function rank(waits: Wait[]): BottleneckGroup[] {
  const total = waits.reduce((sum, wait) => sum + wait.totalMicros, 0);
  return waits
    .filter((wait) => wait.count > 0)
    .sort((a, b) => b.totalMicros - a.totalMicros || b.count - a.count || (a.server + (a.tool ?? '') < b.server + (b.tool ?? '') ? -1 : 1))
    .map(({ server, tool, totalMicros, count }) => ({ server, tool, totalMs: totalMicros / 1000, share: total === 0 ? 0 : totalMicros / total, count }));
}
