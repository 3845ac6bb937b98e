import { periodStart, type LatencyGranularity } from './index';

export interface BucketRef {
  granularity: LatencyGranularity;
  periodMs: number;
}

const HOUR = 3_600_000;
const DAY = 86_400_000;
const LENGTH_MS: Record<LatencyGranularity, number> = { hour: HOUR, day: DAY };

/** [from, to) widened to whole UTC hours: the range the buckets answer for exactly, and the one responses report. */
export function wholeHoursCovering(fromMs: number, toMs: number): { fromMs: number; toMs: number } {
  return { fromMs: periodStart(fromMs, 'hour'), toMs: periodStart(toMs + HOUR - 1, 'hour') };
}

/**
 * The buckets whose union is [from, to) widened to whole UTC hours: whole UTC days inside, hours at the edges. Ranges
 * are therefore exact to the hour, and a 30-day range costs about 30 day documents plus at most 2*23 hour documents
 * (a range with no whole day inside is all hours, at most 47).
 */
export function bucketsCovering(fromMs: number, toMs: number): BucketRef[] {
  const range = wholeHoursCovering(fromMs, toMs);
  const firstDay = periodStart(range.fromMs + DAY - 1, 'day');
  const lastDay = periodStart(range.toMs, 'day');
  if (firstDay >= lastDay) return periods('hour', range.fromMs, range.toMs);
  return [...periods('hour', range.fromMs, firstDay), ...periods('day', firstDay, lastDay), ...periods('hour', lastDay, range.toMs)];
}

/** The buckets of one granularity from startMs (aligned) up to endMs. */
function periods(granularity: LatencyGranularity, startMs: number, endMs: number): BucketRef[] {
  const refs: BucketRef[] = [];
  for (let t = startMs; t < endMs; t += LENGTH_MS[granularity]) refs.push({ granularity, periodMs: t });
  return refs;
}
