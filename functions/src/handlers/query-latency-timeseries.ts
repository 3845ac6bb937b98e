import {
  badParameter,
  emptyStats,
  latencyTimeseriesRoute,
  mergeAllStats,
  periodStart,
  summarizeStats,
  type BucketRef,
  type LatencyBucketDoc,
  type LatencyGranularity,
  type LatencyStats,
  type TimeseriesPointAnswer,
} from '@km/shared';
import { filteredStats, readLatencyBuckets } from './latency-buckets';
import { latencyRange, latencyScope, serverTool } from './latency-params';
import type { LatencyQueryDeps } from './query-latency';
import { routeHandler } from './route-handler';

const BUCKET_MS: Record<LatencyGranularity, number> = { hour: 3_600_000, day: 86_400_000 };
/** A chart has at most this many points: two months of hours, a quarter of days. */
export const MAX_POINTS = 1500;

/** One point of the series, as the contract declares it. */
export type TimeseriesPoint = TimeseriesPointAnswer;

/**
 * GET /api/latency/timeseries?bucket=hour|day&from&to&server&tool&projectId|userId: one point per bucket, empty
 * buckets included (count 0, null percentiles), each point read from one document of that granularity. from and to
 * widen to whole buckets (UTC days for bucket=day).
 */
export const makeQueryLatencyTimeseriesHandler = routeHandler(latencyTimeseriesRoute, async (caller, params, deps: LatencyQueryDeps) => {
  const range = latencyRange(params, deps.now());
  const filters = serverTool(params);
  const granularity = params.bucket;
  const step = BUCKET_MS[granularity];
  const first = periodStart(range.fromMs, granularity);
  const end = periodStart(range.toMs + step - 1, granularity);
  const points = (end - first) / step;
  if (points > MAX_POINTS) throw badParameter('bucket', `${points} ${granularity} buckets is more than the ${MAX_POINTS} a series may have: use a larger bucket or a shorter range`);
  const refs: BucketRef[] = [];
  for (let t = first; t < end; t += step) refs.push({ granularity, periodMs: t });
  const docs = await readLatencyBuckets(deps.readModelStore, caller.orgId, latencyScope(params), refs);
  return {
    bucket: granularity,
    points: refs.map((ref, i): TimeseriesPoint => {
      const doc = docs[i];
      const { count, errors, toolErrors, timeouts, errorRate, p50, p95, p99, max } = summarizeStats(doc ? statsOf(doc, filters) : emptyStats());
      return { t: new Date(ref.periodMs).toISOString(), count, errors, toolErrors, timeouts, errorRate, p50, p95, p99, max };
    }),
  };
});

/** Everything, one server, one server's tool, or a tool by name on every server (merged: stored stats leave out zeros). */
const statsOf = (doc: LatencyBucketDoc, filters: { server?: string; tool?: string }): LatencyStats => mergeAllStats(filteredStats(doc, filters));
