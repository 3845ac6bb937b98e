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
   * The bins, packed (packBins): the first key, then each next key's distance from the one before, each with its
   * count, as variable-length digits in one string. A day of 200 tools holds ~30,000 bins: as JSON numbers they were
   * most of a latency document's bytes and of a 30-day query's parse time; a string parses at once (issue 11).
   * Documents written before hold a flat number array [gap, count, ...] or [key, count] pairs: binsOf reads all
   * three, and the next fold into such a document rewrites its sketches packed.
   */
  bins: string | number[];
}

type Bin = [key: number, count: number];

/** The mapping is a pure function of the accuracy: one instance serves every sketch. */
const mapping = new DDSketch({ relativeAccuracy: LATENCY_RELATIVE_ACCURACY }).mapping;

export const emptySketch = (): LatencySketch => ({ zeros: 0, bins: '' });

/**
 * Packing: each number is written in base 32 digits, least significant first, one character per digit, from an
 * alphabet of 64 that JSON never escapes; the upper half of the alphabet marks a digit that another follows. Most
 * gaps and counts are under 32: one character each. The first key may be negative (below 1 ms): it is zigzagged.
 */
const DIGITS = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_';
const DIGIT_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < DIGITS.length; i++) DIGIT_VALUE[DIGITS.charCodeAt(i)] = i;

function packNumber(out: string[], n: number): void {
  // Arithmetic, not bit operations: a count may pass 2^31.
  while (n >= 32) {
    out.push(DIGITS[32 + (n % 32)]!);
    n = Math.floor(n / 32);
  }
  out.push(DIGITS[n]!);
}

const zigzag = (n: number) => (n >= 0 ? 2 * n : -2 * n - 1);
const unzigzag = (n: number) => (n % 2 === 0 ? n / 2 : -(n + 1) / 2);

/** Sorted [key, count] pairs, packed. */
function packBins(bins: Iterable<readonly [number, number]>): string {
  const out: string[] = [];
  let previous: number | null = null;
  for (const [key, count] of bins) {
    packNumber(out, previous === null ? zigzag(key) : key - previous);
    packNumber(out, count);
    previous = key;
  }
  return out.join('');
}

/**
 * Calls visit with each packed bin, ascending. A character outside the alphabet, or a string cut off inside a number
 * or between a key and its count, is a corrupt document: it throws. One flat loop, no call per digit: merges of 30
 * days decode ~10^6 bins, and decoding was a third of a 30-day read by tool (issue 11).
 */
function forEachPacked(packed: string, visit: (key: number, count: number) => void): void {
  let key = 0;
  let first = true;
  let n = 0;
  let scale = 1;
  let step = 0;
  let wantCount = false;
  for (let i = 0; i < packed.length; i++) {
    const digit = DIGIT_VALUE[packed.charCodeAt(i)] ?? -1;
    if (digit < 0) throw new Error(`corrupt latency sketch: unexpected character at ${i}`);
    if (digit >= 32) {
      n += (digit - 32) * scale;
      scale *= 32;
      continue;
    }
    const value = n + digit * scale;
    n = 0;
    scale = 1;
    if (!wantCount) {
      step = value;
      wantCount = true;
      continue;
    }
    key = first ? unzigzag(step) : key + step;
    first = false;
    wantCount = false;
    visit(key, value);
  }
  if (wantCount || scale !== 1) throw new Error(`corrupt latency sketch: unexpected end at ${packed.length}`);
}

/** The bins as [key, count] pairs, ascending, from any stored form. */
export function binsOf(sketch: LatencySketch): Bin[] {
  const bins: Bin[] = [];
  forEachBin(sketch, (key, count) => bins.push([key, count]));
  return bins;
}

/** Calls visit with each bin, ascending, without building the pairs (merges of 30 days walk ~10^5 bins). */
function forEachBin(sketch: LatencySketch, visit: (key: number, count: number) => void): void {
  const stored = sketch.bins as string | Array<number | Bin>;
  if (typeof stored === 'string') return forEachPacked(stored, visit);
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

export function sketchCount(sketch: LatencySketch): number {
  return binsOf(sketch).reduce((sum, [, count]) => sum + count, sketch.zeros);
}

/** The sketch in the packed form: itself, or a copy of one with the number arrays of an older document. */
export function packedSketch(sketch: LatencySketch): LatencySketch {
  return typeof sketch.bins === 'string' ? sketch : { zeros: sketch.zeros, bins: packBins(binsOf(sketch)) };
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

  /** The sketch with every value added, packed. */
  result(): LatencySketch {
    if (!this.bins) return { zeros: this.zeros, bins: packedSketch(this.start).bins };
    return { zeros: this.zeros, bins: packBins([...this.bins.entries()].sort((x, y) => x[0] - y[0])) };
  }
}

export const mergeSketches = (a: LatencySketch, b: LatencySketch): LatencySketch => mergeAllSketches([a, b]);

/**
 * Many sketches merged at once (a 30-day read by tool merges thousands): counted into one dense array indexed by
 * key, which grows to the keys met, instead of a map, and packed once. Keys are dense: latencies from 0.01 ms to an
 * hour span ~1,100 of them.
 */
export function mergeAllSketches(sketches: readonly LatencySketch[]): LatencySketch {
  const { zeros, bins } = mergedBins(sketches);
  return { zeros, bins: packBins(bins) };
}

/**
 * sketchQuantiles of the sketches merged, read off the merged counts in one pass: no bins packed or listed only to
 * be read back (a 30-day read by tool does this for each of 200 tools; issue 11).
 */
export function mergedSketchQuantiles(sketches: readonly LatencySketch[], qs: readonly number[], exact?: { min: number; max: number }): Array<number | null> {
  const { zeros, dense } = mergedCounts(sketches);
  return dense.quantiles(zeros, qs, exact);
}

function mergedBins(sketches: readonly LatencySketch[]): { zeros: number; bins: Bin[] } {
  const { zeros, dense } = mergedCounts(sketches);
  return { zeros, bins: [...dense.bins()] };
}

function mergedCounts(sketches: readonly LatencySketch[]): { zeros: number; dense: DenseCounts } {
  const dense = new DenseCounts();
  let zeros = 0;
  for (const sketch of sketches) {
    zeros += sketch.zeros;
    forEachBin(sketch, dense.add);
  }
  return { zeros, dense };
}

/** Counts by integer key in a Float64Array (exact to 2^53) that grows both ways to cover the keys added. */
class DenseCounts {
  private counts = new Float64Array(0);
  private base = 0;
  private total = 0;

  readonly add = (key: number, count: number): void => {
    let at = key - this.base;
    if (at < 0 || at >= this.counts.length) at = this.grow(key);
    this.counts[at]! += count;
    this.total += count;
  };

  /**
   * The values at quantiles qs by nearest rank (see sketchQuantile), every rank found in one walk up the keys: the
   * first and last ranks are the exact min and max when known, a rank among the zeros is 0, any other is the
   * representative value of the first key whose running count passes it, clamped to the exact range.
   */
  quantiles(zeros: number, qs: readonly number[], exact?: { min: number; max: number }): Array<number | null> {
    const n = zeros + this.total;
    if (n === 0) return qs.map(() => null);
    const ranks = qs.map((q) => Math.max(0, Math.ceil(q * n) - 1));
    const keys: number[] = new Array(qs.length);
    // The walk visits ranks in ascending order; each is answered by the first key whose running count passes it.
    const order = ranks.map((_, i) => i).sort((a, b) => ranks[a]! - ranks[b]!);
    let next = 0;
    while (next < order.length && ranks[order[next]!]! < zeros) next++;
    let running = zeros;
    let last = 0;
    for (let at = 0; at < this.counts.length && next < order.length; at++) {
      const count = this.counts[at]!;
      if (count === 0) continue;
      running += count;
      last = this.base + at;
      while (next < order.length && running > ranks[order[next]!]!) keys[order[next++]!] = last;
    }
    return ranks.map((rank, i) => {
      if (exact && rank === 0) return exact.min;
      if (exact && rank === n - 1) return exact.max;
      const value = rank < zeros ? 0 : mapping.value(keys[i] ?? last);
      return exact ? Math.min(exact.max, Math.max(exact.min, value)) : value;
    });
  }

  private grow(key: number): number {
    const empty = this.counts.length === 0;
    const low = empty ? key : Math.min(key, this.base);
    const high = empty ? key : Math.max(key, this.base + this.counts.length - 1);
    // Room to spare on both sides: the next sketches' keys mostly lie near these (0.01 ms to an hour is ~1,100 keys).
    const spare = Math.max(empty ? 1024 : 64, high - low);
    const grown = new Float64Array(high - low + 1 + 2 * spare);
    if (!empty) grown.set(this.counts, this.base - (low - spare));
    this.counts = grown;
    this.base = low - spare;
    return key - this.base;
  }

  *bins(): Generator<[number, number]> {
    for (let at = 0; at < this.counts.length; at++) if (this.counts[at]! > 0) yield [this.base + at, this.counts[at]!];
  }
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
  return mergedSketchQuantiles([sketch], qs, exact);
}
