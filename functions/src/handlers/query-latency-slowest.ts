import { bucketsCovering, keepSlowest, SLOWEST_KEPT, type SlowInteraction } from '@km/shared';
import { authenticateRequest } from './authenticate-request';
import { errorResponse, jsonResponse, withUnexpectedErrorsAs500, type HttpHandler } from './http-results';
import { readLatencyBuckets } from './latency-buckets';
import { rangeParams, scopeParams } from './latency-params';
import { refuseParams } from './query-params';
import type { LatencyQueryDeps } from './query-latency';
import { limitParam } from './query-params';

/**
 * GET /api/latency/slowest?limit&from&to&projectId|userId: the slowest answered interactions that started in the range
 * widened to whole UTC hours (as the other latency endpoints), slowest first, each with its session for drill-down.
 * Exact: every bucket keeps its own top SLOWEST_KEPT, the buckets tile the widened range, and the top N of a range is
 * within the union of its buckets' top N. Cutting an edge hour to the instant would not be: its 20 slowest may all
 * lie outside the range.
 */
export function makeQueryLatencySlowestHandler(deps: LatencyQueryDeps): HttpHandler {
  return withUnexpectedErrorsAs500(async (request) => {
    const auth = await authenticateRequest(deps.authenticator, request);
    if ('response' in auth) return auth.response;
    const query = request.query;
    const limit = limitParam(query, 20, SLOWEST_KEPT);
    if ('error' in limit) return errorResponse(400, limit.error);
    const range = rangeParams(query, deps.now());
    if ('error' in range) return errorResponse(400, range.error);
    const scope = scopeParams(query);
    if ('error' in scope) return errorResponse(400, scope.error);
    const refused = refuseParams(query, ['server', 'tool'], 'the slowest calls are kept per org, project or user; see /api/latency?groupBy=tool for per-tool percentiles');
    if ('error' in refused) return errorResponse(400, refused.error);

    const docs = await readLatencyBuckets(deps.readModelStore, auth.caller.orgId, scope.value, bucketsCovering(range.value.fromMs, range.value.toMs, scope.value));
    const candidates: SlowInteraction[] = docs.flatMap((doc) => doc?.slowest ?? []);
    return jsonResponse(200, { interactions: keepSlowest(candidates, limit.value) });
  });
}
