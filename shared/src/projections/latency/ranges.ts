import { granularitiesOf, PERIOD_LENGTH_MS, periodStart, type LatencyGranularity, type LatencyScope } from './index';

export interface BucketRef {
  granularity: LatencyGranularity;
  periodMs: number;
}

const HOUR = PERIOD_LENGTH_MS.hour;
const DAY = PERIOD_LENGTH_MS.day;

/** [from, to) widened to whole UTC hours: the range the buckets answer for exactly, and the one responses report. */
export function wholeHoursCovering(fromMs: number, toMs: number): { fromMs: number; toMs: number } {
  return { fromMs: periodStart(fromMs, 'hour'), toMs: periodStart(toMs + HOUR - 1, 'hour') };
}

/**
 * The scope's buckets whose union is [from, to) widened to whole UTC hours: for the org, whole UTC days inside and
 * hours at the edges (a 30-day range is about 30 day documents plus at most 2*23 hours; with no whole day inside, at
 * most 47 hours); for a project or a user, who have no day documents, every hour.
 */
export function bucketsCovering(fromMs: number, toMs: number, scope: LatencyScope): BucketRef[] {
  const range = wholeHoursCovering(fromMs, toMs);
  const firstDay = periodStart(range.fromMs + DAY - 1, 'day');
  const lastDay = periodStart(range.toMs, 'day');
  if (firstDay >= lastDay || !granularitiesOf(scope).includes('day')) return periods('hour', range.fromMs, range.toMs);
  return [...periods('hour', range.fromMs, firstDay), ...periods('day', firstDay, lastDay), ...periods('hour', lastDay, range.toMs)];
}

/** The scope's buckets that make up one period of a granularity: that bucket, or the hours of a day it has no document for. */
export function bucketsOfPeriod(scope: LatencyScope, granularity: LatencyGranularity, periodMs: number): BucketRef[] {
  if (granularitiesOf(scope).includes(granularity)) return [{ granularity, periodMs }];
  return periods('hour', periodMs, periodMs + PERIOD_LENGTH_MS[granularity]);
}

/** The buckets of one granularity from startMs (aligned) up to endMs. */
function periods(granularity: LatencyGranularity, startMs: number, endMs: number): BucketRef[] {
  const refs: BucketRef[] = [];
  for (let t = startMs; t < endMs; t += PERIOD_LENGTH_MS[granularity]) refs.push({ granularity, periodMs: t });
  return refs;
}
