import { DDSketch } from '@datadog/sketches-js';

/** The accuracy we promise for every percentile: within 1% of the exact value at that rank. */
export const LATENCY_RELATIVE_ACCURACY = 0.01;

/**
 * A DDSketch (Masson et al., VLDB 2019) of latencies in milliseconds, in a canonical JSON form: the zero count and the
 * non-empty bins of the library's logarithmic mapping as [binKey, count] pairs sorted by key. Bin counts add up, so
 * merging is exact and commutative, and the same multiset of values always gives the same document, whatever the order
 * it was folded in (the library's own protobuf bytes depend on how its dense store grew, so they are not canonical).
 */
export interface LatencySketch {
  /** Values too small for the mapping (0 ms, or below ~1e-300): they are reported as 0. */
  zeros: number;
  bins: Array<[key: number, count: number]>;
}

/** The mapping is a pure function of the accuracy: one instance serves every sketch. */
const mapping = new DDSketch({ relativeAccuracy: LATENCY_RELATIVE_ACCURACY }).mapping;

export const emptySketch = (): LatencySketch => ({ zeros: 0, bins: [] });

export function sketchCount(sketch: LatencySketch): number {
  return sketch.bins.reduce((sum, [, count]) => sum + count, sketch.zeros);
}

/** Returns a new sketch with the value added (sketches in documents are never mutated in place). */
export function addToSketch(sketch: LatencySketch, valueMs: number): LatencySketch {
  if (!(valueMs > mapping.minPossible)) return { zeros: sketch.zeros + 1, bins: sketch.bins };
  return { zeros: sketch.zeros, bins: addBin(sketch.bins, mapping.key(valueMs), 1) };
}

export function mergeSketches(a: LatencySketch, b: LatencySketch): LatencySketch {
  const merged = new Map<number, number>();
  for (const [key, count] of [...a.bins, ...b.bins]) merged.set(key, (merged.get(key) ?? 0) + count);
  return { zeros: a.zeros + b.zeros, bins: [...merged.entries()].sort((x, y) => x[0] - y[0]) };
}

/** Copies the list but shares the untouched pairs: a pair is never changed in place, only replaced. */
function addBin(bins: LatencySketch['bins'], key: number, count: number): LatencySketch['bins'] {
  const next = bins.slice();
  const at = next.findIndex(([k]) => k >= key);
  if (at === -1) next.push([key, count]);
  else if (next[at]![0] === key) next[at] = [key, next[at]![1] + count];
  else next.splice(at, 0, [key, count]);
  return next;
}

/**
 * The value at quantile q (0..1) by nearest rank: the element of 0-based rank ceil(q*n)-1 in sorted order, the smallest
 * value that at least q of the requests did not exceed (so the p99 of 6 calls is the slowest one, as a reader of a
 * latency chart expects; the library's own getValueAtQuantile interpolates rank q*(n-1) instead). It is reported as
 * its bin's representative value, within the relative accuracy of every value in the bin, and clamped to the exact
 * [min, max] when known, which can only bring it closer. Null for an empty sketch.
 */
export function sketchQuantile(sketch: LatencySketch, q: number, exact?: { min: number; max: number }): number | null {
  const n = sketchCount(sketch);
  if (n === 0) return null;
  const rank = Math.max(0, Math.ceil(q * n) - 1);
  // The first and last ranks are the exact min and max when they are known.
  if (exact && rank === 0) return exact.min;
  if (exact && rank === n - 1) return exact.max;
  let value = 0;
  if (rank >= sketch.zeros) {
    let running = sketch.zeros;
    value = mapping.value(sketch.bins[sketch.bins.length - 1]![0]);
    for (const [key, count] of sketch.bins) {
      running += count;
      if (running > rank) {
        value = mapping.value(key);
        break;
      }
    }
  }
  return exact ? Math.min(exact.max, Math.max(exact.min, value)) : value;
}
