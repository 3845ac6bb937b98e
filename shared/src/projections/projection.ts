import type { KmEvent } from '../events';

/**
 * A read model as a pure fold. Every document lives in the tenant's partition (orgId) under the id that
 * docId gives; evolve must be deterministic, order-independent and idempotent by event id, because Event Hubs
 * delivers at least once and a projector may replay after a crash.
 */
export interface Projection<State> {
  /** The projector's name; also the read model's container / table name. */
  readonly name: string;
  /** The document this event updates, or null when the event does not concern this read model. */
  docId(event: KmEvent): string | null;
  evolve(state: State | null, event: KmEvent): State;
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
