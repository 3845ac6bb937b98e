import { DDSketch } from '@datadog/sketches-js';

/** The accuracy we promise for every percentile: within 1% of the exact value at that rank. */
export const LATENCY_RELATIVE_ACCURACY = 0.01;

/**
 * A DDSketch (Masson et al., VLDB 2019) of latencies in milliseconds, in a canonical JSON form: the zero count and the
 * non-empty bins of the library's logarithmic mapping, sorted by key. Bin counts add up, so merging is exact and
 * commutative, and the same multiset of values always gives the same document, whatever the order it was folded in
 * (the library's own protobuf bytes depend on how its dense store grew, so they are not canonical).
 */
export interface LatencySketch {
  /** Values too small for the mapping (0 ms, or below ~1e-300): they are reported as 0. */
  zeros: number;
  /**
   * Flat [gap, count, gap, count, ...]: the first gap is the first key, each next one its distance from the key
   * before. Most bins hold one call a few keys from the last, so this is half the JSON of [key, count] pairs, and
   * sketches were most of a latency document's bytes (issue 11). Documents written before hold those pairs:
   * binsOf reads both, and the next fold into such a document rewrites all of its sketches flat.
   */
  bins: number[];
}

type Bin = [key: number, count: number];

/** The mapping is a pure function of the accuracy: one instance serves every sketch. */
const mapping = new DDSketch({ relativeAccuracy: LATENCY_RELATIVE_ACCURACY }).mapping;

export const emptySketch = (): LatencySketch => ({ zeros: 0, bins: [] });

/** The bins as [key, count] pairs, ascending, from the flat form or the pairs of older documents. */
export function binsOf(sketch: LatencySketch): Bin[] {
  const stored = sketch.bins as Array<number | Bin>;
  if (isPairs(stored)) return stored;
  const bins: Bin[] = [];
  let key = 0;
  for (let i = 0; i < stored.length; i += 2) {
    key += stored[i] as number;
    bins.push([key, stored[i + 1] as number]);
  }
  return bins;
}

/** Calls visit with each bin, ascending, without building the pairs (merges of 30 days walk ~10^5 bins). */
function forEachBin(sketch: LatencySketch, visit: (key: number, count: number) => void): void {
  const stored = sketch.bins as Array<number | Bin>;
  if (isPairs(stored)) {
    for (const [key, count] of stored) visit(key, count);
    return;
  }
  let key = 0;
  for (let i = 0; i < stored.length; i += 2) {
    key += stored[i] as number;
    visit(key, stored[i + 1] as number);
  }
}

const isPairs = (stored: Array<number | Bin>): stored is Bin[] => stored.length > 0 && Array.isArray(stored[0]);

/** Sorted pairs to the flat form. */
function flatBins(bins: readonly Bin[]): number[] {
  const flat: number[] = [];
  let previous = 0;
  for (const [key, count] of bins) {
    flat.push(key - previous, count);
    previous = key;
  }
  return flat;
}

export function sketchCount(sketch: LatencySketch): number {
  return binsOf(sketch).reduce((sum, [, count]) => sum + count, sketch.zeros);
}

/** The sketch in the flat form: itself, or a copy of one with the [key, count] pairs of an older document. */
export function flatSketch(sketch: LatencySketch): LatencySketch {
  return isPairs(sketch.bins as Array<number | Bin>) ? { zeros: sketch.zeros, bins: flatBins(binsOf(sketch)) } : sketch;
}

/** Returns a new sketch with the value added (sketches in documents are never mutated in place). */
export function addToSketch(sketch: LatencySketch, valueMs: number): LatencySketch {
  const adding = new SketchAccumulator(sketch);
  adding.add(valueMs);
  return adding.result();
}

/**
 * Adds many values to a sketch: its bins are decoded into a map once, counted into, and encoded once, instead of a
 * copy of the bin list per value (a batch adds each call to 24 sketches; issue 11). Never changes the sketch it
 * started from.
 */
export class SketchAccumulator {
  private zeros: number;
  private bins: Map<number, number> | null = null;

  constructor(private readonly start: LatencySketch) {
    this.zeros = start.zeros;
  }

  add(valueMs: number): void {
    if (!(valueMs > mapping.minPossible)) {
      this.zeros++;
      return;
    }
    if (!this.bins) {
      this.bins = new Map();
      forEachBin(this.start, (key, count) => this.bins!.set(key, count));
    }
    const key = mapping.key(valueMs);
    this.bins.set(key, (this.bins.get(key) ?? 0) + 1);
  }

  /** The sketch with every value added, in the flat form. */
  result(): LatencySketch {
    if (!this.bins) return { zeros: this.zeros, bins: flatSketch(this.start).bins };
    return { zeros: this.zeros, bins: flatBins([...this.bins.entries()].sort((x, y) => x[0] - y[0])) };
  }
}

export const mergeSketches = (a: LatencySketch, b: LatencySketch): LatencySketch => mergeAllSketches([a, b]);

/** Many sketches merged at once: one map of bin counts, sorted once (a 30-day read merges thousands of sketches). */
export function mergeAllSketches(sketches: readonly LatencySketch[]): LatencySketch {
  const merged = new Map<number, number>();
  let zeros = 0;
  for (const sketch of sketches) {
    zeros += sketch.zeros;
    forEachBin(sketch, (key, count) => merged.set(key, (merged.get(key) ?? 0) + count));
  }
  return { zeros, bins: flatBins([...merged.entries()].sort((x, y) => x[0] - y[0])) };
}

/**
 * The value at quantile q (0..1) by nearest rank: the element of 0-based rank ceil(q*n)-1 in sorted order, the smallest
 * value that at least q of the requests did not exceed (so the p99 of 6 calls is the slowest one, as a reader of a
 * latency chart expects; the library's own getValueAtQuantile interpolates rank q*(n-1) instead). It is reported as
 * its bin's representative value, within the relative accuracy of every value in the bin, and clamped to the exact
 * [min, max] when known, which can only bring it closer. Null for an empty sketch.
 */
export function sketchQuantile(sketch: LatencySketch, q: number, exact?: { min: number; max: number }): number | null {
  return sketchQuantiles(sketch, [q], exact)[0]!;
}

/** sketchQuantile for several quantiles, decoding the bins once. */
export function sketchQuantiles(sketch: LatencySketch, qs: readonly number[], exact?: { min: number; max: number }): Array<number | null> {
  const bins = binsOf(sketch);
  const n = bins.reduce((sum, [, count]) => sum + count, sketch.zeros);
  return qs.map((q) => (n === 0 ? null : valueAtRank(sketch.zeros, bins, Math.max(0, Math.ceil(q * n) - 1), n, exact)));
}

function valueAtRank(zeros: number, bins: readonly Bin[], rank: number, n: number, exact?: { min: number; max: number }): number {
  // The first and last ranks are the exact min and max when they are known.
  if (exact && rank === 0) return exact.min;
  if (exact && rank === n - 1) return exact.max;
  let value = 0;
  if (rank >= zeros) {
    let running = zeros;
    value = mapping.value(bins[bins.length - 1]![0]);
    for (const [key, count] of bins) {
      running += count;
      if (running > rank) {
        value = mapping.value(key);
        break;
      }
    }
  }
  return exact ? Math.min(exact.max, Math.max(exact.min, value)) : value;
}
