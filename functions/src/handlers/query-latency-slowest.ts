import { bucketsCovering, keepSlowest, SLOWEST_KEPT, type SlowInteraction } from '@km/shared';
import { authenticateRequest } from './authenticate-request';
import { errorResponse, jsonResponse, withUnexpectedErrorsAs500, type HttpHandler } from './http-results';
import { readLatencyBuckets } from './latency-buckets';
import { rangeParams, refuseParams, scopeParams } from './latency-params';
import type { LatencyQueryDeps } from './query-latency';
import { limitParam } from './query-params';

/**
 * GET /api/latency/slowest?limit&from&to&projectId|userId: the slowest answered interactions that started in the range,
 * slowest first, each with its session for drill-down. Exact: every bucket keeps its own top SLOWEST_KEPT, and the
 * top N of a range is within the union of its buckets' top N.
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

    const { fromMs, toMs } = range.value;
    const docs = await readLatencyBuckets(deps.readModelStore, auth.caller.orgId, scope.value, bucketsCovering(fromMs, toMs));
    const candidates: SlowInteraction[] = [];
    for (const doc of docs) {
      for (const row of doc?.slowest ?? []) {
        const started = Date.parse(row.startedAt);
        if (started >= fromMs && started < toMs) candidates.push(row);
      }
    }
    return jsonResponse(200, { interactions: keepSlowest(candidates, limit.value) });
  });
}
