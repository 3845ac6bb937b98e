import { bucketsOfPeriod, mergeAllStats, periodStart, summarizeStats, type LatencyBucketDoc, type LatencyGranularity } from '@km/shared';
import { authenticateRequest } from './authenticate-request';
import { errorResponse, jsonResponse, withUnexpectedErrorsAs500, type HttpHandler } from './http-results';
import { filteredStats, readLatencyBuckets } from './latency-buckets';
import { enumParam, latencyWindow } from './latency-params';
import type { LatencyQueryDeps } from './query-latency';

/** A point is one bucket document: hours and days are what the latency read model keeps. */
export const TIMESERIES_BUCKETS = ['hour', 'day'] as const satisfies readonly LatencyGranularity[];
const BUCKET_MS: Record<LatencyGranularity, number> = { hour: 3_600_000, day: 86_400_000 };
/** A chart has at most this many points: two months of hours, a quarter of days. */
export const MAX_POINTS = 1500;
const NO_MINUTES = 'bucket=minute is no longer available: latency is kept per hour and per day (issue 11); use bucket=hour';

export interface TimeseriesPoint {
  /** The bucket's start, ISO UTC. */
  t: string;
  count: number;
  errors: number;
  toolErrors: number;
  timeouts: number;
  /** The same share as /api/latency's errorRate: JSON-RPC errors, tool errors and timeouts over all requests. */
  errorRate: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

/**
 * GET /api/latency/timeseries?bucket=hour|day&from&to&server&tool&projectId|userId: one point per bucket, empty
 * buckets included (count 0, null percentiles), each point read from one document of that granularity (a project or
 * user day: its hours). from and to widen to whole buckets (UTC days for bucket=day).
 */
export function makeQueryLatencyTimeseriesHandler(deps: LatencyQueryDeps): HttpHandler {
  return withUnexpectedErrorsAs500(async (request) => {
    const auth = await authenticateRequest(deps.authenticator, request);
    if ('response' in auth) return auth.response;
    const query = request.query;
    if (query.get('bucket') === 'minute') return errorResponse(400, NO_MINUTES);
    const bucket = enumParam(query, 'bucket', TIMESERIES_BUCKETS, 'hour');
    if ('error' in bucket) return errorResponse(400, bucket.error);
    const window = latencyWindow(query, deps.now());
    if ('error' in window) return errorResponse(400, window.error);
    const { range, scope, filters } = window.value;

    const granularity = bucket.value;
    const step = BUCKET_MS[granularity];
    const first = periodStart(range.fromMs, granularity);
    const end = periodStart(range.toMs + step - 1, granularity);
    const points = (end - first) / step;
    if (points > MAX_POINTS) {
      return errorResponse(400, `${points} ${bucket.value} buckets is more than the ${MAX_POINTS} a series may have: use a larger bucket or a shorter range`);
    }
    const periods: number[] = [];
    for (let t = first; t < end; t += step) periods.push(t);
    // A point is one document, or for a project's or user's day (they have no day documents) its hours.
    const parts = periods.map((periodMs) => bucketsOfPeriod(scope, granularity, periodMs));
    const docs = await readLatencyBuckets(deps.readModelStore, auth.caller.orgId, scope, parts.flat());
    let next = 0;
    return jsonResponse(200, {
      bucket: granularity,
      points: periods.map((periodMs, i): TimeseriesPoint => {
        const inPoint = docs.slice(next, (next += parts[i]!.length)).filter((doc): doc is LatencyBucketDoc => doc !== null);
        const { count, errors, toolErrors, timeouts, errorRate, p50, p95, p99, max } = summarizeStats(mergeAllStats(inPoint.flatMap((doc) => filteredStats(doc, filters))));
        return { t: new Date(periodMs).toISOString(), count, errors, toolErrors, timeouts, errorRate, p50, p95, p99, max };
      }),
    });
  });
}
