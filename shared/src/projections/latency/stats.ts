import type { Interaction } from '../../events';
import { addSaturating, bounded, isServerFailure, own } from '../projection';
import { MAX_BYTES, MAX_DURATION_MS } from '../../events';
import { emptySketch, packedSketch, mergeAllSketches, mergedSketchQuantiles, SketchAccumulator, sketchQuantiles, type LatencySketch } from './sketch';

/**
 * What the Performance Hub knows about a set of interactions. Every field merges exactly and commutatively: counts
 * and sums are integers (waiting time in whole microseconds, so float rounding cannot make the sum depend on the
 * order), min and max are order-free, and the sketch adds bin counts.
 */
export interface LatencyStats {
  count: number;
  /** JSON-RPC errors (outcome 'error'). */
  errors: number;
  /** The same errors by JSON-RPC code; keys are the codes as text, sorted. */
  errorCodes: Record<string, number>;
  /** Results with isError: true. */
  toolErrors: number;
  /** Requests never answered (outcome 'unanswered'): they have no latency and stay out of the sketch. */
  timeouts: number;
  /** Request bytes, into the server. */
  bytesIn: number;
  /** Response bytes, out of the server. */
  bytesOut: number;
  /** Total waiting time of the answered requests, in whole microseconds. */
  totalMicros: number;
  minMs: number | null;
  maxMs: number | null;
  sketch: LatencySketch;
}

export const emptyStats = (): LatencyStats => ({
  count: 0,
  errors: 0,
  errorCodes: {},
  toolErrors: 0,
  timeouts: 0,
  bytesIn: 0,
  bytesOut: 0,
  totalMicros: 0,
  minMs: null,
  maxMs: null,
  sketch: emptySketch(),
});

export const latencyMicros = (latencyMs: number) => Math.round(bounded(latencyMs, MAX_DURATION_MS) * 1000);

export function addInteraction(stats: LatencyStats, event: Interaction): LatencyStats {
  const adding = new StatsAccumulator(stats);
  adding.add(event);
  return adding.result();
}

/**
 * Adds many interactions to stats in place, on a copy made once: a batch adds each call to four stats in each of six
 * documents, and an object spread and a sketch copy per call was most of the fold's time and garbage (issue 11).
 */
export class StatsAccumulator {
  private readonly stats: LatencyStats;
  private readonly sketch: SketchAccumulator;
  private codes: Record<string, number> | null = null;

  /** From stored stats (fields at their empty value left out) or full ones. */
  constructor(start: StoredStats) {
    this.stats = { ...emptyStats(), ...start } as LatencyStats;
    this.sketch = new SketchAccumulator(this.stats.sketch);
  }

  add(event: Interaction): void {
    const stats = this.stats;
    stats.count++;
    stats.bytesIn = addSaturating(stats.bytesIn, bounded(event.requestBytes, MAX_BYTES));
    stats.bytesOut = addSaturating(stats.bytesOut, bounded(event.responseBytes, MAX_BYTES));
    if (isServerFailure(event)) {
      if (event.outcome === 'error') {
        stats.errors++;
        if (event.error) {
          // Copied prototype-free once: the codes come from the server.
          this.codes ??= Object.assign(Object.create(null) as Record<string, number>, stats.errorCodes);
          const code = String(event.error.code);
          this.codes[code] = (own(this.codes, code) ?? 0) + 1;
        }
      }
      if (event.outcome === 'tool_error') stats.toolErrors++;
      if (event.outcome === 'unanswered') stats.timeouts++;
    }
    if (event.outcome === 'unanswered' || event.latencyMs === null) return;
    stats.totalMicros = addSaturating(stats.totalMicros, latencyMicros(event.latencyMs));
    stats.minMs = stats.minMs === null ? event.latencyMs : Math.min(stats.minMs, event.latencyMs);
    stats.maxMs = stats.maxMs === null ? event.latencyMs : Math.max(stats.maxMs, event.latencyMs);
    this.sketch.add(event.latencyMs);
  }

  /** The full stats, sketch packed and error codes sorted. */
  result(): LatencyStats {
    return { ...this.stats, errorCodes: this.codes ? sortedCounts(this.codes) : this.stats.errorCodes, sketch: this.sketch.result() };
  }
}

export const mergeStats = (a: LatencyStats, b: LatencyStats): LatencyStats => mergeAllStats([a, b]);

/**
 * Many stats merged at once, the same as merging them pair by pair: the sketches' bins are counted in one dense
 * array, not copied and re-sorted per pair (a 30-day read by tool merges thousands of stats). Takes stored stats as
 * they are (a field left out is empty), so queries read documents without expanding them.
 */
export function mergeAllStats(all: readonly StoredStats[]): LatencyStats {
  const { merged, sketches } = mergedScalars(all);
  merged.sketch = mergeAllSketches(sketches);
  return merged;
}

/** summarizeStats(mergeAllStats(all)), with the percentiles read off the merged bins instead of a packed sketch. */
export function summarizeAllStats(all: readonly StoredStats[]): LatencySummary {
  const { merged, sketches } = mergedScalars(all);
  return summaryOf(merged, mergedSketchQuantiles(sketches, SUMMARY_QUANTILES, exactRange(merged)));
}

/** Everything but the sketch merged; the sketches to merge. */
function mergedScalars(all: readonly StoredStats[]): { merged: LatencyStats; sketches: LatencySketch[] } {
  const merged = emptyStats();
  const codes: Record<string, number> = Object.create(null);
  const sketches: LatencySketch[] = [];
  for (const stats of all) {
    merged.count += stats.count ?? 0;
    merged.errors += stats.errors ?? 0;
    merged.toolErrors += stats.toolErrors ?? 0;
    merged.timeouts += stats.timeouts ?? 0;
    merged.bytesIn = addSaturating(merged.bytesIn, stats.bytesIn ?? 0);
    merged.bytesOut = addSaturating(merged.bytesOut, stats.bytesOut ?? 0);
    merged.totalMicros = addSaturating(merged.totalMicros, stats.totalMicros ?? 0);
    merged.minMs = lesser(merged.minMs, stats.minMs ?? null);
    merged.maxMs = greater(merged.maxMs, stats.maxMs ?? null);
    for (const [code, n] of Object.entries(stats.errorCodes ?? {})) codes[code] = (own(codes, code) ?? 0) + n;
    if (stats.sketch) sketches.push(stats.sketch);
  }
  merged.errorCodes = sortedCounts(codes);
  return { merged, sketches };
}

const lesser = (x: number | null, y: number | null) => (x === null ? y : y === null ? x : Math.min(x, y));
const greater = (x: number | null, y: number | null) => (x === null ? y : y === null ? x : Math.max(x, y));

/**
 * LatencyStats as a document stores them: the fields still at their empty value (no errors, no timeouts, no
 * answered call's min and max, ...) are left out, as most tools of a bucket have none (8.7% of the latency bytes).
 * Fields that are not stats (a tool's server and name) are always kept.
 */
export type StoredStats<T extends LatencyStats = LatencyStats> = Omit<T, keyof LatencyStats> & Partial<LatencyStats>;

const EMPTY: Readonly<LatencyStats> = emptyStats();

/** The stats without their empty fields, in the same key order (a pure function: documents stay canonical). */
export function storedStats<T extends LatencyStats>(stats: T): StoredStats<T> {
  return Object.fromEntries(Object.entries(stats).filter(([field, value]) => !isEmptyField(field, value))) as StoredStats<T>;
}

/** Stored stats, or the full stats of an older document, as full stats with a packed sketch: what a fold adds to. */
export function expandStats<T extends LatencyStats>(stored: StoredStats<T>): T {
  return withPackedSketch({ ...emptyStats(), ...stored } as T);
}

/**
 * Whether stats are already as storedStats would store them (no empty field, a packed sketch): a fold re-stores the
 * untouched stats of a document as they are, instead of expanding and filtering each one on every write.
 */
export function isStoredForm(stats: StoredStats): boolean {
  for (const field in stats) if (isEmptyField(field, stats[field as keyof StoredStats])) return false;
  return stats.sketch === undefined || packedSketch(stats.sketch) === stats.sketch;
}

function isEmptyField(field: string, value: unknown): boolean {
  if (!Object.prototype.hasOwnProperty.call(EMPTY, field)) return false;
  if (field === 'errorCodes') return Object.keys(value as object).length === 0;
  if (field === 'sketch') return (value as LatencySketch).zeros === 0 && (value as LatencySketch).bins.length === 0;
  return value === EMPTY[field as keyof LatencyStats];
}

/** The stats with a packed sketch (older documents hold number arrays): the same object when it already is. */
export function withPackedSketch<T extends LatencyStats>(stats: T): T {
  const sketch = packedSketch(stats.sketch);
  return sketch === stats.sketch ? stats : { ...stats, sketch };
}

/** The numbers the API answers with (milliseconds). Percentiles are null when no request was answered. */
export interface LatencySummary {
  count: number;
  errors: number;
  errorCodes: Record<string, number>;
  toolErrors: number;
  timeouts: number;
  /** Share of requests that did not end well: JSON-RPC errors, tool errors and timeouts over all requests. */
  errorRate: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
  bytesIn: number;
  bytesOut: number;
  totalMs: number;
}

const SUMMARY_QUANTILES = [0.5, 0.95, 0.99];
const exactRange = (stats: LatencyStats) => (stats.minMs !== null && stats.maxMs !== null ? { min: stats.minMs, max: stats.maxMs } : undefined);

export function summarizeStats(stats: LatencyStats): LatencySummary {
  return summaryOf(stats, sketchQuantiles(stats.sketch, SUMMARY_QUANTILES, exactRange(stats)));
}

function summaryOf(stats: LatencyStats, [p50 = null, p95 = null, p99 = null]: Array<number | null>): LatencySummary {
  return {
    count: stats.count,
    errors: stats.errors,
    errorCodes: stats.errorCodes,
    toolErrors: stats.toolErrors,
    timeouts: stats.timeouts,
    errorRate: stats.count === 0 ? 0 : (stats.errors + stats.toolErrors + stats.timeouts) / stats.count,
    p50,
    p95,
    p99,
    max: stats.maxMs,
    bytesIn: stats.bytesIn,
    bytesOut: stats.bytesOut,
    totalMs: stats.totalMicros / 1000,
  };
}

/** Object keys in sorted order, so that documents are byte-identical whatever order the events came in. */
export function sortedCounts<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** record with key set to value, keys kept sorted; re-sorts only when the key is new (replacing keeps the order). */
export function withKey<T>(record: Record<string, T>, key: string, value: T): Record<string, T> {
  return Object.prototype.hasOwnProperty.call(record, key) ? { ...record, [key]: value } : sortedCounts({ ...record, [key]: value });
}
