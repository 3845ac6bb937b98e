import { isServerEvent, type LoggedEvent, type Projection, type ServerEvent } from '@km/shared';
import { ConcurrencyError, type EventLog, type ReadModelStore } from './ports';
import { describeError, stderrLogger } from './logger';

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
  projection: AnyProjection<State>,
  store: ReadModelStore,
  events: readonly LoggedEvent[],
  /** Where the events a document implies go (Projection.emits); the log, in both run modes. */
  emit?: (events: ServerEvent[]) => Promise<void>,
): Promise<ProjectBatchResult> {
  const groups = groupByDocument(projection, events);
  let written = 0;
  let folded = 0;
  for (const { orgId, docId, events: docEvents } of groups.values()) {
    folded += docEvents.length;
    if (await foldIntoDocument(projection, store, orgId, docId, docEvents, emit)) written++;
  }
  return { written, folded };
}

/** A projection of client events, or one that also folds server-made events (the cost fold's budgets). */
type AnyProjection<State> = Projection<State, any>;

/** Groups by tenant as well as document id: two orgs may well use the same session id. */
function groupByDocument<State>(projection: AnyProjection<State>, events: readonly LoggedEvent[]) {
  const groups = new Map<string, { orgId: string; docId: string; events: LoggedEvent[] }>();
  for (const event of events) {
    if (!projection.foldsServerEvents && isServerEvent(event)) continue;
    for (const docId of projection.docIds(event)) {
      const key = JSON.stringify([event.orgId, docId]);
      const group = groups.get(key);
      if (group) group.events.push(event);
      else groups.set(key, { orgId: event.orgId, docId, events: [event] });
    }
  }
  return groups;
}

/**
 * The folds are pure and deterministic, so an event that makes one throw will always make it throw: retrying it
 * would block the read model for good. It is skipped and reported instead.
 */
function foldOne<State>(projection: AnyProjection<State>, state: State | null, event: LoggedEvent, docId: string): State | null {
  try {
    return projection.evolve(state, event as never, docId);
  } catch (error) {
    stderrLogger.error(`projector ${projection.name}: skipped event ${event.id} (${event.type}) for ${docId}: ${describeError(error)}`);
    return state;
  }
}

/** Returns whether the document was written. */
async function foldIntoDocument<State>(
  projection: AnyProjection<State>,
  store: ReadModelStore,
  orgId: string,
  docId: string,
  events: LoggedEvent[],
  emit?: (events: ServerEvent[]) => Promise<void>,
): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    const current = await store.get<State>(projection.name, orgId, docId);
    const before = current?.doc ?? null;
    const after = events.reduce<State | null>((state, event) => foldOne(projection, state, event, docId), before);
    // The folds return their input when every event was already applied: a replay then costs no write.
    if (after === null || after === before) return false;
    // Before the write: the events' ids come from the document, so a replay after a crash appends nothing twice.
    const implied = emit && projection.emits ? projection.emits(after, docId) : [];
    if (implied.length > 0) await emit!(implied);
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
  projection: AnyProjection<State>,
  log: EventLog,
  store: ReadModelStore,
  maxBatch: number,
): Promise<number> {
  const checkpoint = await log.getCheckpoint(projection.name);
  const page = await log.read(checkpoint, maxBatch);
  const last = page[page.length - 1];
  if (!last) return 0;
  const emit = appendImpliedEvents(log, projection.name);
  await projectBatch(
    projection,
    store,
    page.map((entry) => entry.event),
    emit,
  );
  await log.setCheckpoint(projection.name, last.position);
  return page.length;
}

/** Where a projector puts the events its documents imply (Projection.emits): the log, in both run modes. */
export function appendImpliedEvents(log: EventLog, projector: string, now: () => Date = () => new Date()) {
  return async (events: ServerEvent[]): Promise<void> => {
    const receivedAt = now().toISOString();
    await log.append(events.map((event) => ({ ...event, receivedAt, batchId: `projector:${projector}` })));
  };
}
