import { periodStart, type LatencyGranularity } from './index';

export interface BucketRef {
  granularity: LatencyGranularity;
  periodMs: number;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;

/**
 * The buckets whose union is [from, to) widened to whole minutes: whole hours inside, minutes at the edges. Ranges are
 * therefore exact to the minute, and a day costs at most 24 + 118 documents.
 */
export function bucketsCovering(fromMs: number, toMs: number): BucketRef[] {
  const start = periodStart(fromMs, 'minute');
  const end = periodStart(toMs + MINUTE - 1, 'minute');
  const refs: BucketRef[] = [];
  const minutes = (a: number, b: number) => {
    for (let t = a; t < b; t += MINUTE) refs.push({ granularity: 'minute', periodMs: t });
  };
  const firstHour = periodStart(start + HOUR - 1, 'hour');
  const lastHour = periodStart(end, 'hour');
  if (firstHour >= lastHour) {
    minutes(start, end);
    return refs;
  }
  minutes(start, firstHour);
  for (let t = firstHour; t < lastHour; t += HOUR) refs.push({ granularity: 'hour', periodMs: t });
  minutes(lastHour, end);
  return refs;
}
