import { addToSketch, emptySketch, LATENCY_RELATIVE_ACCURACY, mergeSketches, sketchCount, sketchQuantile, type LatencySketch } from '../src/index';
import { DDSketch } from '@datadog/sketches-js';
import { binsOf, mergeAllSketches, mergedSketchQuantiles, sketchQuantiles } from '../src/projections/latency/sketch';

/** A seeded generator (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const normal = (rand: () => number) => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());

const N = 100_000;
const distributions: Array<[string, (rand: () => number) => number]> = [
  ['uniform 1..2000 ms', (r) => 1 + r() * 1999],
  ['lognormal (median 40 ms)', (r) => Math.exp(Math.log(40) + 1.2 * normal(r))],
  ['bimodal (cache hits ~2 ms, misses ~800 ms)', (r) => (r() < 0.7 ? 2 + 0.3 * normal(r) ** 2 : 800 + 60 * Math.abs(normal(r)))],
  ['heavy tail (Pareto, alpha 1.1, from 5 ms)', (r) => 5 / Math.pow(1 - r(), 1 / 1.1)],
  ['sub-millisecond with zeros', (r) => (r() < 0.05 ? 0 : 0.05 + r() * 0.9)],
];

describe('latency sketch accuracy', () => {
  it.each(distributions)('%s: 100k values in 500 buckets, merged, give every percentile within 1%% of the exact one', (_name, draw) => {
    const rand = random(42);
    const values = Array.from({ length: N }, () => draw(rand));
    // Given 500 bucket sketches (values scattered at random, as calls fall into hours),
    const buckets: LatencySketch[] = Array.from({ length: 500 }, emptySketch);
    for (const value of values) {
      const i = Math.floor(rand() * buckets.length);
      buckets[i] = addToSketch(buckets[i]!, value);
    }
    // when they are merged (in an arbitrary tree order),
    let merged = emptySketch();
    for (let i = 0; i < buckets.length; i += 50) merged = mergeSketches(buckets.slice(i, i + 50).reduce(mergeSketches, emptySketch()), merged);
    // then each quantile is within the relative accuracy of the exact value at the same rank.
    expect(sketchCount(merged)).toBe(N);
    const sorted = [...values].sort((a, b) => a - b);
    const exact = { min: sorted[0]!, max: sorted[N - 1]! };
    for (const q of [0, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 1]) {
      const truth = sorted[Math.max(0, Math.ceil(q * N) - 1)]!; // nearest rank
      const estimate = sketchQuantile(merged, q, exact)!;
      expect(Math.abs(estimate - truth)).toBeLessThanOrEqual(LATENCY_RELATIVE_ACCURACY * truth + 1e-12);
    }
  });

  it('merging is commutative and associative on the canonical form', () => {
    const rand = random(7);
    const parts = Array.from({ length: 5 }, () => Array.from({ length: 200 }, () => rand() * 100).reduce(addToSketch, emptySketch()));
    const left = parts.reduce(mergeSketches, emptySketch());
    const right = [...parts].reverse().reduce((acc, s) => mergeSketches(s, acc), emptySketch());
    expect(JSON.stringify(right)).toBe(JSON.stringify(left));
  });

  it('stores bins packed in one string, under a third of the JSON of [key, count] pairs, and reads both older forms as the same sketch', () => {
    const rand = random(11);
    const values = Array.from({ length: 300 }, () => Math.exp(Math.log(40) + 1.2 * normal(rand)));
    const packed = values.reduce(addToSketch, emptySketch());
    expect(typeof packed.bins).toBe('string');
    const pairs = binsOf(packed);
    expect(pairs.map(([key]) => key)).toEqual([...new Set(pairs.map(([key]) => key))].sort((a, b) => a - b));
    expect(pairs.reduce((n, [, count]) => n + count, 0)).toBe(values.length);
    // Written before: [key, count] pairs, then a flat [gap, count, ...] array.
    const older = { zeros: packed.zeros, bins: pairs } as unknown as LatencySketch;
    const flat = { zeros: packed.zeros, bins: pairs.flatMap(([key, count], i) => [key - (i === 0 ? 0 : pairs[i - 1]![0]), count]) };
    expect(JSON.stringify(packed).length).toBeLessThan(JSON.stringify(older).length / 3);
    for (const before of [older, flat]) {
      expect(sketchCount(before)).toBe(sketchCount(packed));
      for (const q of [0.5, 0.99]) expect(sketchQuantile(before, q)).toBe(sketchQuantile(packed, q));
      expect(addToSketch(before, 7)).toEqual(addToSketch(packed, 7));
      expect(mergeSketches(before, emptySketch())).toEqual(packed);
    }
  });

  it('packs negative keys, far-apart keys and counts past 2^32 exactly, and refuses a corrupt string', () => {
    const big = 2 ** 40 + 3;
    const sketch = { zeros: 0, bins: [[-400, 1], [-3, big], [0, 31], [1, 32], [5000, 1025]] } as unknown as LatencySketch;
    const packed = mergeSketches(sketch, emptySketch());
    expect(typeof packed.bins).toBe('string');
    expect(binsOf(packed)).toEqual([[-400, 1], [-3, big], [0, 31], [1, 32], [5000, 1025]]);
    expect(() => binsOf({ zeros: 0, bins: `${packed.bins as string}"` })).toThrow(/corrupt latency sketch/);
    // Merges decode on their own path: the same bins, the same refusal, of a stray character or a cut-off string.
    expect(binsOf(mergeAllSketches([packed, packed]))).toEqual([[-400, 2], [-3, 2 * big], [0, 62], [1, 64], [5000, 2050]]);
    for (const corrupt of [`${packed.bins as string}"`, (packed.bins as string).slice(0, -1), `${packed.bins as string}1`]) {
      expect(() => mergeAllSketches([{ zeros: 0, bins: corrupt }])).toThrow(/corrupt latency sketch/);
    }
  });

  it('merges many sketches into the same bins as adding their counts key by key, whatever keys they span', () => {
    const rand = random(5);
    const sketches = Array.from({ length: 60 }, (_, i) => {
      // Each sketch its own key range, some far below the others, so the dense counts grow both ways.
      const offset = (i % 7) * 900 - 2500;
      const bins: Array<[number, number]> = [];
      for (let key = offset + Math.floor(rand() * 50); bins.length < 40; key += 1 + Math.floor(rand() * 30)) bins.push([key, 1 + Math.floor(rand() * 1000)]);
      return { zeros: Math.floor(rand() * 3), bins } as unknown as LatencySketch;
    });
    const expected = new Map<number, number>();
    for (const sketch of sketches) for (const [key, count] of binsOf(sketch)) expected.set(key, (expected.get(key) ?? 0) + count);
    const merged = mergeAllSketches(sketches);
    expect(binsOf(merged)).toEqual([...expected].sort(([a], [b]) => a - b));
    expect(merged.zeros).toBe(sketches.reduce((n, s) => n + s.zeros, 0));
    expect(mergeAllSketches([...sketches].reverse())).toEqual(merged);
  });

  /** Nearest rank over the bins as listed, written out here apart from the code under test. */
  const nearestRank = (zeros: number, bins: Array<[number, number]>, q: number, exact?: { min: number; max: number }) => {
    const n = bins.reduce((sum, [, count]) => sum + count, zeros);
    if (n === 0) return null;
    const rank = Math.max(0, Math.ceil(q * n) - 1);
    if (exact && rank === 0) return exact.min;
    if (exact && rank === n - 1) return exact.max;
    let value = 0;
    if (rank >= zeros) {
      let running = zeros;
      const key = bins.find(([, count]) => (running += count) > rank)![0];
      value = new DDSketch({ relativeAccuracy: LATENCY_RELATIVE_ACCURACY }).mapping.value(key);
    }
    return exact ? Math.min(exact.max, Math.max(exact.min, value)) : value;
  };

  it('reads quantiles off the merged counts as by nearest rank over the packed merge, in any order of quantiles, zeros and bounds', () => {
    const rand = random(9);
    const qs = [0.99, 0, 0.5, 1, 0.95, 0.001, 0.5];
    for (let round = 0; round < 40; round++) {
      // Some rounds mostly zeros, some empty, some with far-apart keys: every rank lands in zeros, bins or the ends.
      const zeroShare = round % 4 === 0 ? 0.9 : 0.1;
      const sketches = Array.from({ length: 1 + Math.floor(rand() * 12) }, () =>
        Array.from({ length: Math.floor(rand() * 40) }, () => (rand() < zeroShare ? 0 : Math.exp(8 * rand() - 3))).reduce(addToSketch, emptySketch()),
      );
      const merged = mergeAllSketches(sketches);
      const count = sketchCount(merged);
      for (const exact of [undefined, { min: 0, max: 3000 }]) {
        const expected = qs.map((q) => nearestRank(merged.zeros, binsOf(merged), q, exact));
        expect(mergedSketchQuantiles(sketches, qs, exact)).toEqual(count === 0 ? qs.map(() => null) : expected);
        expect(sketchQuantiles(merged, qs, exact)).toEqual(expected);
      }
    }
  });

  it('keeps keys below 1 ms (negative) and zeros apart from the bins', () => {
    const sketch = [0.2, 0, 5, 0.2, 0.9].reduce(addToSketch, emptySketch());
    expect(sketch.zeros).toBe(1);
    expect(binsOf(sketch).map(([, count]) => count)).toEqual([2, 1, 1]);
    expect(sketchQuantile(sketch, 1)! / 5).toBeCloseTo(1, 1);
  });

  it('an empty sketch has no percentiles', () => {
    expect(sketchQuantile(emptySketch(), 0.5)).toBeNull();
  });
});
