import type { KmEvent, ServerEvent } from '../events';

/**
 * A read model as a pure fold. Every document lives in the tenant's partition (orgId) under the ids that
 * docIds gives (an event may update several documents, e.g. one bucket per dimension and granularity);
 * evolve must be deterministic and order-independent. It need not be idempotent: the projector hands each event to
 * a document once, skipping replays by the log position the document recorded (functions/src/projector.ts).
 */
export interface Projection<State, E extends KmEvent | ServerEvent = KmEvent> {
  /** The projector's name; also the read model's container / table name. */
  readonly name: string;
  /** The documents this event updates; empty when the event does not concern this read model. */
  docIds(event: E): string[];
  /** Folds the event into one of its documents (docId says which, for folds that bucket). */
  evolve(state: State | null, event: E, docId: string): State;
  /**
   * The same as folding the events one by one with evolve, in one pass: for folds that would otherwise copy a large
   * document per event (a projector folds a whole batch per document). Pure too: the input state is not changed.
   */
  evolveBatch?(state: State | null, events: readonly E[], docId: string): State;
  /** True when the fold also reads server-made events (budget.set); other folds are only handed client events. */
  readonly foldsServerEvents?: boolean;
  /**
   * Events a document implies, with ids derived from the document (so appending them again is a no-op): the
   * projector appends them to the log before it writes the document, so a crash in between cannot lose one.
   */
  emits?(doc: State, docId: string): ServerEvent[];
}

/** Where value sits, or would be inserted, in a sorted list of strings (binary search). */
export function sortedIndex(list: readonly string[], value: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Sorted-set insert (of the file hashes a document counts); returns false when the value was already there. */
export function addAppliedId(applied: string[], id: string): boolean {
  const at = sortedIndex(applied, id);
  if (applied[at] === id) return false;
  applied.splice(at, 0, id);
  return true;
}

/**
 * Documents written before replays were skipped by log position carry the ids they folded (`applied`, `recent`):
 * a copy without them, so the next write of an old document drops the lists.
 */
export function withoutIdLists<T extends object>(doc: T): T {
  const { applied: _applied, recent: _recent, ...rest } = doc as T & { applied?: unknown; recent?: unknown };
  return rest as T;
}

/** A copy of a record whose keys come from events, without a prototype: assigning any key (even `__proto__`) adds it. */
export function ownRecord<T>(record: Readonly<Record<string, T>>): Record<string, T> {
  return Object.assign(Object.create(null) as Record<string, T>, record);
}

/**
 * The value under key only when the record itself holds it: keys come from events, and a name like `constructor`
 * or `__proto__` must not read what every object inherits.
 */
export function own<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
}

/**
 * a + b for the non-negative integer sums of the folds, saturating at the largest safe integer: a sum past it would
 * stop being exact (and so order-independent); min(a + b, MAX) is still order-independent for non-negative terms.
 */
export function addSaturating(a: number, b: number): number {
  return Math.min(a + b, Number.MAX_SAFE_INTEGER);
}

/** A finite number in [0, max]; anything else (NaN, Infinity, negative) folds as 0 or max. */
export function bounded(value: number, max: number): number {
  return Number.isFinite(value) && value > 0 ? Math.min(value, max) : value === Infinity ? max : 0;
}

/**
 * Whether an interaction counts against its server: an error, a tool error or no answer, to a request the client
 * sent. A request the server sent (roots/list, sampling) is the client's to answer, so how that went is the
 * client's: a client with no roots that never answers roots/list leaves a healthy session (issue 10). Nor does a
 * request the client abandoned by ending the session (Interaction.abandoned).
 */
export const isServerFailure = (event: { direction: 'client_to_server' | 'server_to_client'; outcome: string; refusedByPolicy?: true; abandoned?: true }): boolean =>
  event.direction === 'client_to_server' && event.outcome !== 'ok' && reachedServer(event) && event.abandoned !== true;

/** False for a request km's policy refused and answered itself: the server never saw it (no call of the server's). */
export const reachedServer = (event: { refusedByPolicy?: true }): boolean => event.refusedByPolicy !== true;
