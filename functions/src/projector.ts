import { isServerEvent, own, type LoggedEvent, type Projection, type ServerEvent } from '@km/shared';
import { ConcurrencyError, EMBEDDED_PARTITION, upsertOne, type DocWrite, type DocWriteOutcome, type EventLog, type FoldedPositions, type LogPosition, type ReadModelStore, type StoredDoc } from './ports';
import { describeError, stderrLogger } from './logger';

export interface ProjectBatchResult {
  /** Documents written (an unchanged document is not rewritten). */
  written: number;
  /** Events of the batch this projection concerns (replays included; events it does not concern are not counted). */
  folded: number;
}

/**
 * An event with where it sits in the log: the embedded log's position, or an Event Hubs partition and sequence
 * number. position null: the log gave none, so the event is folded without replay protection (and not recorded).
 */
export interface PositionedEvent {
  event: LoggedEvent;
  partition: string;
  position: LogPosition | null;
}

/** Another writer can only be another projector replica of the same fold; a few re-reads always settle it. */
const MAX_ATTEMPTS = 5;
/** Point reads in flight at once when loading a batch's documents (Cosmos DB; SQLite answers synchronously). */
const READ_CONCURRENCY = 16;

/** A projection of client events, or one that also folds server-made events (the cost fold's budgets). */
type AnyProjection<State> = Projection<State, any>;

interface DocumentGroup {
  orgId: string;
  docId: string;
  /** Distinct events (by id) for this document. */
  entries: PositionedEvent[];
  /** Events of the batch delivered more than once (by id): counted as folded, folded once. */
  repeats: number;
}

/**
 * Folds a batch into the read model: each document the batch touches is read once, all of its events are folded in
 * memory, and it is written once (one transaction for the batch in SQLite, one ETag write per document in Cosmos
 * DB). An event at or below the position the document already folded for its partition is a replay and is skipped,
 * so a batch replayed after a crash changes nothing. Used by the embedded loop and by the cloud trigger alike.
 */
export async function projectBatch<State>(
  projection: AnyProjection<State>,
  store: ReadModelStore,
  entries: readonly PositionedEvent[],
  /** Where the events a document implies go (Projection.emits); the log, in both run modes. */
  emit?: (events: ServerEvent[]) => Promise<void>,
): Promise<ProjectBatchResult> {
  const groups = groupByDocument(projection, entries);
  const folded = groups.reduce((sum, group) => sum + group.entries.length + group.repeats, 0);
  let pending = groups;
  let written = 0;
  for (let attempt = 1; pending.length > 0; attempt++) {
    const current = await mapConcurrently(pending, READ_CONCURRENCY, (group) => store.get<State>(projection.name, group.orgId, group.docId));
    const writes: DocWrite[] = [];
    const writtenGroups: DocumentGroup[] = [];
    const implied: ServerEvent[] = [];
    pending.forEach((group, i) => {
      const stored = current[i] ?? null;
      const next = foldDocument(projection, group, stored);
      if (!next) return;
      writes.push({ partitionKey: group.orgId, id: group.docId, doc: next.doc, ifMatch: stored ? stored.etag : null, positions: next.positions });
      writtenGroups.push(group);
      if (emit && projection.emits) implied.push(...projection.emits(next.doc, group.docId));
    });
    // Before the writes: the events' ids come from the documents, so a replay after a crash appends nothing twice.
    if (implied.length > 0) await emit!(implied);
    const outcomes = await writeDocuments(store, projection.name, writes);
    pending = writtenGroups.filter((_, i) => 'conflict' in outcomes[i]!);
    written += writes.length - pending.length;
    if (pending.length > 0 && attempt >= MAX_ATTEMPTS) throw new ConcurrencyError(projection.name, pending[0]!.docId);
  }
  return { written, folded };
}

/** The store's batched write where it has one, else one conditional upsert per document. */
export async function writeDocuments(store: ReadModelStore, model: string, writes: readonly DocWrite[]): Promise<DocWriteOutcome[]> {
  if (writes.length === 0) return [];
  if (store.upsertMany) return store.upsertMany(model, writes);
  const outcomes: DocWriteOutcome[] = [];
  for (const write of writes) outcomes.push(await upsertOne(store, model, write));
  return outcomes;
}

/**
 * Groups by tenant as well as document id (two orgs may well use the same session id). An event delivered twice
 * within one batch (Event Hubs redelivers at least once) is folded once: its id is seen again in the same org.
 */
function groupByDocument<State>(projection: AnyProjection<State>, entries: readonly PositionedEvent[]): DocumentGroup[] {
  // By org, then document: no key strings made per (event, document), and two orgs never share a group.
  const byOrg = new Map<string, Map<string, DocumentGroup>>();
  const seen = new Map<string, Set<string>>();
  const groups: DocumentGroup[] = [];
  for (const entry of entries) {
    const { event } = entry;
    if (!projection.foldsServerEvents && isServerEvent(event)) continue;
    let orgGroups = byOrg.get(event.orgId);
    let orgSeen = seen.get(event.orgId);
    if (!orgGroups || !orgSeen) {
      byOrg.set(event.orgId, (orgGroups = new Map()));
      seen.set(event.orgId, (orgSeen = new Set()));
    }
    // A repeat is one in every document its first delivery went to (the same event names the same documents).
    const repeat = orgSeen.has(event.id);
    if (!repeat) orgSeen.add(event.id);
    for (const docId of projection.docIds(event)) {
      let group = orgGroups.get(docId);
      if (!group) {
        orgGroups.set(docId, (group = { orgId: event.orgId, docId, entries: [], repeats: 0 }));
        groups.push(group);
      }
      if (repeat) group.repeats++;
      // A document named twice by one event still folds it once.
      else if (group.entries[group.entries.length - 1] !== entry) group.entries.push(entry);
    }
  }
  return groups;
}

/** The document after the group's new events, with the positions it now covers; null when nothing changed. */
function foldDocument<State>(projection: AnyProjection<State>, group: DocumentGroup, current: StoredDoc<State> | null): { doc: State; positions: FoldedPositions } | null {
  const seen = current?.positions ?? {};
  const positions: Record<string, LogPosition> = Object.assign(Object.create(null) as Record<string, LogPosition>, seen);
  const before = current?.doc ?? null;
  const fresh: LoggedEvent[] = [];
  for (const { event, partition, position } of group.entries) {
    const upTo = position === null ? undefined : own(seen, partition);
    if (upTo !== undefined && position! <= upTo) continue;
    fresh.push(event);
    if (position !== null) positions[partition] = Math.max(own(positions, partition) ?? position, position);
  }
  if (fresh.length === 0) return null;
  const state = foldAll(projection, before, fresh, group.docId);
  // The folds return their input when an event changes nothing: then there is nothing to write, and a replay of
  // that event later is absorbed the same way.
  if (state === null || state === before) return null;
  return { doc: state, positions };
}

/** In one pass where the fold has one (Projection.evolveBatch); should it throw, event by event, to skip the culprit. */
function foldAll<State>(projection: AnyProjection<State>, state: State | null, events: LoggedEvent[], docId: string): State | null {
  if (projection.evolveBatch) {
    try {
      return projection.evolveBatch(state, events as never, docId);
    } catch {
      // foldOne below names the event that throws
    }
  }
  return events.reduce<State | null>((folded, event) => foldOne(projection, folded, event, docId), state);
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

async function mapConcurrently<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const at = next++;
      results[at] = await fn(items[at]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The embedded log's entries as positioned events (one partition). */
export const fromEmbeddedLog = (page: ReadonlyArray<{ position: LogPosition; event: LoggedEvent }>): PositionedEvent[] =>
  page.map(({ position, event }) => ({ event, partition: EMBEDDED_PARTITION, position }));

/**
 * One step of a checkpointed projector: read after the checkpoint, fold, then move the checkpoint. A crash between
 * the write and the checkpoint replays the page, which the documents' positions absorb. Returns the events handled.
 */
export async function runProjectorOnce<State>(
  projection: AnyProjection<State>,
  log: EventLog,
  store: ReadModelStore,
  maxBatch: number,
): Promise<number> {
  const { handled, failures } = await runProjectorsOnce([projection], log, store, maxBatch);
  const failure = failures.get(projection.name);
  if (failure !== undefined) throw failure;
  return handled;
}

export interface ProjectorsStep {
  /** Events of the page read (0: every projector had caught up). */
  handled: number;
  /** The projectors that failed on this page, with why; their checkpoints did not move. */
  failures: Map<string, unknown>;
}

/**
 * One step of several checkpointed projectors over one page of the log: the page is read (and its events parsed)
 * once for all of them, from the lowest checkpoint, and each folds the events after its own. A projector that fails
 * keeps its checkpoint and is reported, without holding up the others; the caller leaves it out until its next run,
 * or the page would be read again and again for it alone.
 */
export async function runProjectorsOnce(
  projections: ReadonlyArray<AnyProjection<unknown>>,
  log: EventLog,
  store: ReadModelStore,
  maxBatch: number,
): Promise<ProjectorsStep> {
  const checkpoints = await Promise.all(projections.map((projection) => log.getCheckpoint(projection.name)));
  const page = projections.length === 0 ? [] : await log.read(Math.min(...checkpoints), maxBatch);
  const last = page[page.length - 1];
  const failures = new Map<string, unknown>();
  if (!last) return { handled: 0, failures };
  const positioned = fromEmbeddedLog(page);
  for (const [i, projection] of projections.entries()) {
    const after = checkpoints[i]!;
    if (after >= last.position) continue;
    try {
      const entries = after < page[0]!.position ? positioned : positioned.filter((entry) => entry.position! > after);
      await projectBatch(projection, store, entries, appendImpliedEvents(log, projection.name));
      await log.setCheckpoint(projection.name, last.position);
    } catch (error) {
      failures.set(projection.name, error);
    }
  }
  return { handled: page.length, failures };
}

/** Where a projector puts the events its documents imply (Projection.emits): the log, in both run modes. */
export function appendImpliedEvents(log: EventLog, projector: string, now: () => Date = () => new Date()) {
  return async (events: ServerEvent[]): Promise<void> => {
    const receivedAt = now().toISOString();
    await log.append(events.map((event) => ({ ...event, receivedAt, batchId: `projector:${projector}` })));
  };
}
