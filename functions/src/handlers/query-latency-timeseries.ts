import { emptyStats, mergeStats, own, periodStart, summarizeStats, type BucketRef, type LatencyBucketDoc, type LatencyStats } from '@km/shared';
import { authenticateRequest } from './authenticate-request';
import { errorResponse, jsonResponse, withUnexpectedErrorsAs500, type HttpHandler } from './http-results';
import { readLatencyBuckets } from './latency-buckets';
import { enumParam, latencyWindow } from './latency-params';
import type { LatencyQueryDeps } from './query-latency';

export const TIMESERIES_BUCKETS = ['minute', 'hour', 'day'] as const;
type TimeseriesBucket = (typeof TIMESERIES_BUCKETS)[number];
const BUCKET_MS: Record<TimeseriesBucket, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
/** A chart has at most this many points: a day of minutes, two months of hours, a quarter of days. */
export const MAX_POINTS = 1500;

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
 * GET /api/latency/timeseries?bucket=minute|hour|day&from&to&server&tool&projectId|userId: one point per bucket, empty
 * buckets included (count 0, null percentiles). from and to widen to whole buckets; a day is the merge of its 24 hours.
 */
export function makeQueryLatencyTimeseriesHandler(deps: LatencyQueryDeps): HttpHandler {
  return withUnexpectedErrorsAs500(async (request) => {
    const auth = await authenticateRequest(deps.authenticator, request);
    if ('response' in auth) return auth.response;
    const query = request.query;
    const bucket = enumParam(query, 'bucket', TIMESERIES_BUCKETS, 'hour');
    if ('error' in bucket) return errorResponse(400, bucket.error);
    const window = latencyWindow(query, deps.now());
    if ('error' in window) return errorResponse(400, window.error);
    const { range, scope, filters } = window.value;

    const step = BUCKET_MS[bucket.value];
    const first = alignDown(range.fromMs, step);
    const end = alignDown(range.toMs + step - 1, step);
    const points = (end - first) / step;
    if (points > MAX_POINTS) {
      return errorResponse(400, `${points} ${bucket.value} buckets is more than the ${MAX_POINTS} a series may have: use a larger bucket or a shorter range`);
    }
    const granularity = bucket.value === 'minute' ? 'minute' : 'hour';
    const refs: BucketRef[] = [];
    for (let t = first; t < end; t += BUCKET_MS[granularity]) refs.push({ granularity, periodMs: t });
    const docs = await readLatencyBuckets(deps.readModelStore, auth.caller.orgId, scope, refs);

    const series = new Map<number, LatencyStats>();
    for (let t = first; t < end; t += step) series.set(t, emptyStats());
    docs.forEach((doc, i) => {
      if (!doc) return;
      const t = alignDown(refs[i]!.periodMs, step);
      series.set(t, mergeStats(series.get(t)!, statsOf(doc, filters)));
    });
    return jsonResponse(200, {
      bucket: bucket.value,
      points: [...series.entries()].map(([t, stats]): TimeseriesPoint => {
        const { count, errors, toolErrors, timeouts, errorRate, p50, p95, p99, max } = summarizeStats(stats);
        return { t: new Date(t).toISOString(), count, errors, toolErrors, timeouts, errorRate, p50, p95, p99, max };
      }),
    });
  });
}

/** Days are UTC days, as hours and minutes are: the same alignment the buckets use. */
const alignDown = (ms: number, step: number) => (step === BUCKET_MS.day ? ms - (((ms % step) + step) % step) : periodStart(ms, step === BUCKET_MS.minute ? 'minute' : 'hour'));

/** Everything, one server, one server's tool, or a tool by name on every server. */
function statsOf(doc: LatencyBucketDoc, filters: { server?: string; tool?: string }): LatencyStats {
  if (filters.tool === undefined) return filters.server === undefined ? doc.total : (own(doc.servers, filters.server) ?? emptyStats());
  return Object.values(doc.tools)
    .filter(({ server, tool }) => tool === filters.tool && (filters.server === undefined || server === filters.server))
    .reduce<LatencyStats>((acc, { server: _server, tool: _tool, ...stats }) => mergeStats(acc, stats), emptyStats());
}
