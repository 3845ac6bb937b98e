import { bucketsCovering, keepSlowest, latencySlowestRoute, type SlowInteraction } from '@km/shared';
import { readLatencyBuckets } from './latency-buckets';
import { latencyRange, latencyScopes } from './latency-params';
import type { LatencyQueryDeps } from './query-latency';
import { routeHandler } from './route-handler';

/**
 * GET /api/latency/slowest?limit&from&to&projectId|userId: the slowest answered interactions that started in the range
 * widened to whole UTC hours (as the other latency endpoints), slowest first, each with its session for drill-down.
 * Exact: every bucket keeps its own top SLOWEST_KEPT, the buckets tile the widened range, and the top N of a range is
 * within the union of its buckets' top N. Cutting an edge hour to the instant would not be: its 20 slowest may all
 * lie outside the range.
 */
export const makeQueryLatencySlowestHandler = routeHandler(latencySlowestRoute, async (caller, params, deps: LatencyQueryDeps) => {
  const range = latencyRange(params, deps.now());
  // A team's: the union of its users' kept slowest, which holds the team's top N as each user's holds theirs.
  const scopes = await latencyScopes(deps.readModelStore, caller.orgId, params);
  const docs = (await Promise.all(scopes.map((scope) => readLatencyBuckets(deps.readModelStore, caller.orgId, scope, bucketsCovering(range.fromMs, range.toMs, scope))))).flat(2);
  const candidates: SlowInteraction[] = docs.flatMap((doc) => doc.slowest);
  return { interactions: keepSlowest(candidates, params.limit) };
});
