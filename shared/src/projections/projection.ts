import type { KmEvent } from '../events';

/**
 * A read model as a pure fold. Every document lives in the tenant's partition (orgId) under the ids that
 * docIds gives (an event may update several documents, e.g. one bucket per dimension and granularity);
 * evolve must be deterministic, order-independent and idempotent by event id, because Event Hubs delivers at
 * least once and a projector may replay after a crash.
 */
export interface Projection<State> {
  /** The projector's name; also the read model's container / table name. */
  readonly name: string;
  /** The documents this event updates; empty when the event does not concern this read model. */
  docIds(event: KmEvent): string[];
  /** Folds the event into one of its documents (docId says which, for folds that bucket). */
  evolve(state: State | null, event: KmEvent, docId: string): State;
}

/** Sorted-set insert for the event ids a document has folded; returns false when the id was already there. */
export function addAppliedId(applied: string[], id: string): boolean {
  let lo = 0;
  let hi = applied.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (applied[mid]! < id) lo = mid + 1;
    else hi = mid;
  }
  if (applied[lo] === id) return false;
  applied.splice(lo, 0, id);
  return true;
}
