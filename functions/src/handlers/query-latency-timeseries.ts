import {
  badParameter,
  bucketsOfPeriod,
  latencyTimeseriesRoute,
  periodStart,
  PERIOD_LENGTH_MS,
  summarizeAllStats,
  type LatencyBucketDoc,
  type TimeseriesPointAnswer,
} from '@km/shared';
import { filteredStats, readLatencyBuckets } from './latency-buckets';
import { latencyRange, latencyScopes, serverTool } from './latency-params';
import type { LatencyQueryDeps } from './query-latency';
import { routeHandler } from './route-handler';

/** A chart has at most this many points: two months of hours, a quarter of days. */
export const MAX_POINTS = 1500;

/** One point of the series, as the contract declares it. */
export type TimeseriesPoint = TimeseriesPointAnswer;

/**
 * GET /api/latency/timeseries?bucket=hour|day&from&to&server&tool&projectId|userId: one point per bucket, empty
 * buckets included (count 0, null percentiles), each point read from one document of that granularity (a project or
 * user day: its hours). from and to widen to whole buckets (UTC days for bucket=day).
 */
export const makeQueryLatencyTimeseriesHandler = routeHandler(latencyTimeseriesRoute, async (caller, params, deps: LatencyQueryDeps) => {
  const range = latencyRange(params, deps.now());
  const filters = serverTool(params);
  const granularity = params.bucket;
  const step = PERIOD_LENGTH_MS[granularity];
  const first = periodStart(range.fromMs, granularity);
  const end = periodStart(range.toMs + step - 1, granularity);
  const points = (end - first) / step;
  if (points > MAX_POINTS) throw badParameter('bucket', `${points} ${granularity} buckets is more than the ${MAX_POINTS} a series may have: use a larger bucket or a shorter range`);
  const periods: number[] = [];
  for (let t = first; t < end; t += step) periods.push(t);
  // A point is one document, or for a project's or user's day (they have no day documents) its hours; a team's
  // point is its users' documents of the period, merged.
  const inPeriods: LatencyBucketDoc[][] = periods.map(() => []);
  for (const scope of await latencyScopes(deps.readModelStore, caller.orgId, params)) {
    const parts = periods.map((periodMs) => bucketsOfPeriod(scope, granularity, periodMs));
    const docs = await readLatencyBuckets(deps.readModelStore, caller.orgId, scope, parts.flat());
    let next = 0;
    // A loop, not push(...): a busy project's day may hold more documents than a call may take arguments.
    parts.forEach((part, i) => {
      for (const doc of docs.slice(next, (next += part.length)).flat()) inPeriods[i]!.push(doc);
    });
  }
  return {
    bucket: granularity,
    points: periods.map((periodMs, i): TimeseriesPoint => {
      const inPoint = inPeriods[i]!;
      const { count, errors, toolErrors, timeouts, errorRate, p50, p95, p99, max } = summarizeAllStats(inPoint.flatMap((doc) => filteredStats(doc, filters)));
      return { t: new Date(periodMs).toISOString(), count, errors, toolErrors, timeouts, errorRate, p50, p95, p99, max };
    }),
  };
});
