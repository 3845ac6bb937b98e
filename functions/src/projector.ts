import type { Projection, StoredEvent } from '@km/shared';
import { ConcurrencyError, type EventLog, type ReadModelStore } from './ports';

export interface ProjectBatchResult {
  /** Documents written (an unchanged document is not rewritten). */
  written: number;
  /** Events this projection folded (events it does not concern are skipped). */
  folded: number;
}

/** Another writer can only be another projector replica of the same fold; a few re-reads always settle it. */
const MAX_ATTEMPTS = 5;

/**
 * Folds a batch into the read model: one read and one conditional write per document, however many of the
 * batch's events concern it. Used by the embedded loop and by the cloud Event Hubs trigger alike.
 */
export async function projectBatch<State>(
  projection: Projection<State>,
  store: ReadModelStore,
  events: readonly StoredEvent[],
): Promise<ProjectBatchResult> {
  const groups = groupByDocument(projection, events);
  let written = 0;
  let folded = 0;
  for (const { orgId, docId, events: docEvents } of groups.values()) {
    folded += docEvents.length;
    if (await foldIntoDocument(projection, store, orgId, docId, docEvents)) written++;
  }
  return { written, folded };
}

/** Groups by tenant as well as document id: two orgs may well use the same session id. */
function groupByDocument<State>(projection: Projection<State>, events: readonly StoredEvent[]) {
  const groups = new Map<string, { orgId: string; docId: string; events: StoredEvent[] }>();
  for (const event of events) {
    for (const docId of projection.docIds(event)) {
      const key = JSON.stringify([event.orgId, docId]);
      const group = groups.get(key);
      if (group) group.events.push(event);
      else groups.set(key, { orgId: event.orgId, docId, events: [event] });
    }
  }
  return groups;
}

/** Returns whether the document was written. */
async function foldIntoDocument<State>(
  projection: Projection<State>,
  store: ReadModelStore,
  orgId: string,
  docId: string,
  events: StoredEvent[],
): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    const current = await store.get<State>(projection.name, orgId, docId);
    const before = current?.doc ?? null;
    const after = events.reduce<State | null>((state, event) => projection.evolve(state, event, docId), before);
    // The folds return their input when every event was already applied: a replay then costs no write.
    if (after === null || after === before) return false;
    try {
      await store.upsert(projection.name, orgId, docId, after, current ? current.etag : null);
      return true;
    } catch (error) {
      if (!(error instanceof ConcurrencyError) || attempt >= MAX_ATTEMPTS) throw error;
    }
  }
}

/**
 * One step of a checkpointed projector: read after the checkpoint, fold, then move the checkpoint. A crash between
 * the write and the checkpoint replays the page, which the idempotent folds absorb. Returns the events handled.
 */
export async function runProjectorOnce<State>(
  projection: Projection<State>,
  log: EventLog,
  store: ReadModelStore,
  maxBatch: number,
): Promise<number> {
  const checkpoint = await log.getCheckpoint(projection.name);
  const page = await log.read(checkpoint, maxBatch);
  const last = page[page.length - 1];
  if (!last) return 0;
  await projectBatch(
    projection,
    store,
    page.map((entry) => entry.event),
  );
  await log.setCheckpoint(projection.name, last.position);
  return page.length;
}
