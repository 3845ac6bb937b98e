import { bucketsCovering, latencySessionsProjection, type LatencySessionDoc, type StoredStats } from '@km/shared';
import { authenticateRequest } from './authenticate-request';
import { errorResponse, jsonResponse, withUnexpectedErrorsAs500, type HttpHandler } from './http-results';
import { readLatencyBuckets } from './latency-buckets';
import { rangeParams, scopeParams, serverToolParams } from './latency-params';
import { refuseParams } from './query-params';
import type { LatencyQueryDeps } from './query-latency';
import { nameParam } from './query-params';

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
export function makeQueryLatencyBottlenecksHandler(deps: LatencyQueryDeps): HttpHandler {
  return withUnexpectedErrorsAs500(async (request) => {
    const auth = await authenticateRequest(deps.authenticator, request);
    if ('response' in auth) return auth.response;
    const query = request.query;
    const sessionId = nameParam(query.get('sessionId'), 'sessionId');
    if ('error' in sessionId) return errorResponse(400, sessionId.error);
    const filters = serverToolParams(query);
    if ('error' in filters) return errorResponse(400, filters.error);

    let waits: Wait[];
    if (sessionId.value !== undefined) {
      const refused = refuseParams(query, ['from', 'to', 'projectId', 'userId'], 'a sessionId names the whole session');
      if ('error' in refused) return errorResponse(400, refused.error);
      const found = await deps.readModelStore.get<LatencySessionDoc>(latencySessionsProjection.name, auth.caller.orgId, sessionId.value);
      if (!found) return errorResponse(404, `no interactions recorded for session "${sessionId.value}" in your org: list sessions with GET /api/sessions.`);
      waits = Object.values(found.doc.waits).map((wait) => ({ server: found.doc.server, ...wait }));
    } else {
      const range = rangeParams(query, deps.now());
      if ('error' in range) return errorResponse(400, range.error);
      const scope = scopeParams(query);
      if ('error' in scope) return errorResponse(400, scope.error);
      const docs = await readLatencyBuckets(deps.readModelStore, auth.caller.orgId, scope.value, bucketsCovering(range.value.fromMs, range.value.toMs, scope.value));
      const byKey = new Map<string, Wait>();
      const add = (server: string, tool: string | null, totalMicros: number, count: number) => {
        const key = JSON.stringify([server, tool]);
        const wait = byKey.get(key) ?? { server, tool, totalMicros: 0, count: 0 };
        byKey.set(key, { ...wait, totalMicros: wait.totalMicros + totalMicros, count: wait.count + count });
      };
      for (const doc of docs) {
        if (!doc) continue;
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
      waits = [...byKey.values()];
    }
    // Shares are of the waiting time the filters keep: where the time of this server (or tool) went.
    const { server, tool } = filters.value;
    return jsonResponse(200, { groups: rank(waits.filter((wait) => (server === undefined || wait.server === server) && (tool === undefined || wait.tool === tool))) });
  });
}

const waitOf = (stats: StoredStats) => ({ totalMicros: stats.totalMicros ?? 0, count: stats.count ?? 0 });

function rank(waits: Wait[]): BottleneckGroup[] {
  const total = waits.reduce((sum, wait) => sum + wait.totalMicros, 0);
  return waits
    .filter((wait) => wait.count > 0)
    .sort((a, b) => b.totalMicros - a.totalMicros || b.count - a.count || (a.server + (a.tool ?? '') < b.server + (b.tool ?? '') ? -1 : 1))
    .map(({ server, tool, totalMicros, count }) => ({ server, tool, totalMs: totalMicros / 1000, share: total === 0 ? 0 : totalMicros / total, count }));
}
