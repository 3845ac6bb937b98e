import { writeDocuments, type PositionedEvent } from './projector';
import type { ReadModelStore } from './ports';

/**
 * The store model that remembers, per (orgId, event id), which log entry first carried the event. Cloud only:
 * Event Hubs does not deduplicate, so a client's retry of an accepted batch is appended again at a new sequence
 * number, and the documents' position checks cannot tell it from a new event. The embedded log refuses such a
 * retry at append, so it never needs this. One small document per event id, never rewritten.
 */
export const FIRST_SIGHTINGS_MODEL = 'eventFirsts';

interface Sighting {
  at: string;
}

const entryOf = (e: PositionedEvent) => `${e.partition}:${e.position}`;

/**
 * The events of a trigger batch that are the first log entry of their id. Each projector asks on its own; the first
 * to ask records the entry (a create that fails if one exists), the others read it back, so all of them keep the
 * same entry and drop the same retries. A redelivery of the same entry is kept (the positions absorb it).
 */
export async function firstSightings(store: ReadModelStore, events: readonly PositionedEvent[]): Promise<PositionedEvent[]> {
  const known = events.filter((e) => e.position !== null);
  const outcomes = await writeDocuments(
    store,
    FIRST_SIGHTINGS_MODEL,
    known.map((e) => ({ partitionKey: e.event.orgId, id: e.event.id, doc: { at: entryOf(e) } satisfies Sighting, ifMatch: null })),
  );
  const retries = new Set<PositionedEvent>();
  await Promise.all(
    known.map(async (entry, i) => {
      if (!('conflict' in outcomes[i]!)) return;
      const first = await store.get<Sighting>(FIRST_SIGHTINGS_MODEL, entry.event.orgId, entry.event.id);
      if (first && first.doc.at !== entryOf(entry)) retries.add(entry);
    }),
  );
  return events.filter((e) => !retries.has(e));
}
