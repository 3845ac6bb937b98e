import { ApiError, ingestRoute, IngestBatchSchema, MAX_EVENTS_PER_BATCH, SERVER_EVENT_TYPES, sessionsProjection, unavailable, type IngestBatch, type SessionDoc, type StoredEvent } from '@km/shared';
import { describeError } from '../logger';
import { EventTooLargeError, type Authenticator, type Caller, type EventLog, type ReadModelStore } from '../ports';
import { batchIssues, type BatchIssue } from './batch-issues';
import { MIB } from './request-body';
import { routeHandler } from './route-handler';

export interface IngestDeps {
  eventLog: EventLog;
  /** Where a project key's events are checked against the sessions of other projects. */
  readModelStore: ReadModelStore;
  authenticator: Authenticator;
  now: () => Date;
  newBatchId: () => string;
  /** Limit for the body on the wire and for the decompressed JSON. */
  maxBodyBytes?: number;
  /** Called after a batch was appended: the embedded host wakes its projector loop with it. */
  onEventsAppended?: () => void;
  /** Called with an accepted batch (risk monitor: the high-severity webhook); must not block or throw. */
  onEventsAccepted?: (events: readonly StoredEvent[]) => void;
}

export const DEFAULT_MAX_INGEST_BYTES = 5 * MIB;

/**
 * POST /api/ingest: a batch of events from a km wrapper. All or nothing: a batch with one bad event is refused
 * whole, with the index of each bad event, so the shipper can quarantine exactly those and resend the rest.
 */
export const makeIngestHandler = routeHandler(
  ingestRoute,
  async (caller, { body: batch }, deps: IngestDeps, context) => {
    const foreign = eventsOfOtherOrgs(batch.events, caller);
    if (foreign.length > 0) {
      const message =
        `this API key belongs to org "${caller.orgId}" and ${foreign.length} event(s) name another orgId. ` +
        'Set KM_ORG to the key\'s org (or run `km login` again); nothing was stored.';
      throw new ApiError(403, message, { details: { issues: foreign } });
    }
    const elsewhere = eventsOfOtherProjects(batch.events, caller);
    if (elsewhere.length > 0) {
      const message =
        `this API key is scoped to project "${caller.projectId}" and ${elsewhere.length} event(s) name another projectId. ` +
        'Set KM_PROJECT (or --project) to the key\'s project, or use a key of the org; nothing was stored.';
      throw new ApiError(403, message, { details: { issues: elsewhere } });
    }
    const borrowed = await sessionsOfOtherProjects(batch.events, caller, deps.readModelStore);
    if (borrowed.length > 0) {
      const message =
        `this API key is scoped to project "${caller.projectId}" and ${borrowed.length} event(s) name a session of another project of the org. ` +
        'A session belongs to the project it started in, and km gives each session a new id; nothing was stored. See issues[] for which.';
      // 400 with each event named, not 403: the key is fine, these events are not (km quarantines them and ships the rest).
      throw refusedBatch(message, borrowed);
    }

    const batchId = deps.newBatchId();
    const receivedAt = arrivalStamp(deps.eventLog, deps.now());
    // Stamped in place, not copied: the parsed events are this request's own, and a copy of each cost about 3 us of
    // the ~40 us an event costs km serve's ingest (issue 11).
    const stored = batch.events as StoredEvent[];
    for (const event of stored) {
      event.receivedAt = receivedAt;
      event.batchId = batchId;
    }
    let result;
    try {
      result = await deps.eventLog.append(stored);
    } catch (error) {
      if (error instanceof EventTooLargeError) {
        // Retrying cannot help: name the event, so the shipper quarantines it and sends the rest.
        const index = stored.findIndex((event) => event.id === error.eventId);
        throw new ApiError(413, `${error.message}; nothing was stored.`, { details: { issues: [{ index, path: `events[${index}]`, message: error.message }] } });
      }
      context.error(`ingest: appending batch ${batchId} failed: ${describeError(error)}`);
      throw unavailable('the event log is unavailable right now: retry later (retries are safe, events are deduplicated by id).', 5);
    }
    if (result.appended > 0) deps.onEventsAppended?.();
    if (result.appended > 0) {
      try {
        deps.onEventsAccepted?.(stored);
      } catch (error) {
        context.error(`ingest: a listener of batch ${batchId} failed: ${describeError(error)}`);
      }
    }
    return { batchId, accepted: result.appended, duplicates: result.duplicates };
  },
  { maxBytes: (deps) => deps.maxBodyBytes ?? DEFAULT_MAX_INGEST_BYTES, tooLargeAdvice: 'send fewer events per batch', parse: parseBatch },
);

/** The last receivedAt given to a batch of each log this process appends to (ms since the epoch). */
const lastArrival = new WeakMap<EventLog, number>();

/**
 * A batch's receivedAt: now, or a millisecond after the last batch of the same log when the clock has not moved on
 * since (or went back). Stamped and appended in one turn of the event loop, so in one process the stamps are in the
 * log's order, and a live view reading by (receivedAt, id) after its cursor never passes over a batch of the same
 * millisecond whose ids sort lower (GET /api/interactions/recent). A process's first batch goes on from the latest
 * stamp its log holds (lastReceivedAt): a clock set back across a restart stamped batches before the ones logged,
 * and the retention sweep, which reads only what came since its last cut, never cleared their previews.
 */
function arrivalStamp(log: EventLog, now: Date): string {
  const last = lastArrival.get(log) ?? carriedOver(log.lastReceivedAt?.() ?? null, now);
  const at = Math.max(now.getTime(), last + 1);
  lastArrival.set(log, at);
  return new Date(at).toISOString();
}

/**
 * The logged stamp a process's first batch goes on from: one further ahead of its clock than MAX_CARRIED_MS came
 * from a clock set forward then, and going on from it would stamp every later batch in that future (retention and
 * the preview sweep would pass over them) until the clock caught up: then now is taken, as before.
 */
const MAX_CARRIED_MS = 3_600_000;
const carriedOver = (logged: number | null, now: Date) => (logged !== null && logged - now.getTime() <= MAX_CARRIED_MS ? logged : -Infinity);

/** The batch, or a 400 naming each bad event by index (a batch too long or holding server-made events first). */
function parseBatch(body: unknown): IngestBatch {
  // Counted before the full parse: validating a million tiny events would cost far more than refusing them.
  const events = (body as { events?: unknown } | null)?.events;
  if (Array.isArray(events) && events.length > MAX_EVENTS_PER_BATCH) {
    const message = `a batch holds at most ${MAX_EVENTS_PER_BATCH} events, this one has ${events.length}: split it.`;
    throw refusedBatch(message, [{ index: null, path: 'events', message }]);
  }
  if (Array.isArray(events)) refuseServerMadeEvents(events);
  const parsed = IngestBatchSchema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issues = batchIssues(parsed.error);
  const badEvents = new Set(issues.flatMap((issue) => (issue.index === null ? [] : [issue.index]))).size;
  const summary =
    badEvents > 0 ? `${badEvents} event(s) do not match the event schema` : 'the body is not a batch like {"events": [...]}';
  throw refusedBatch(`${summary}; nothing was stored. See issues[] for where.`, issues);
}

const refusedBatch = (message: string, issues: BatchIssue[]) => new ApiError(400, message, { details: { issues } });

function eventsOfOtherOrgs(events: IngestBatch['events'], caller: Caller): BatchIssue[] {
  return events.flatMap((event, index) =>
    event.orgId === caller.orgId
      ? []
      : [{ index, path: `events[${index}].orgId`, message: `"${event.orgId}" is not this key's org "${caller.orgId}"` }],
  );
}

function eventsOfOtherProjects(events: IngestBatch['events'], caller: Caller): BatchIssue[] {
  if (caller.projectId === undefined) return [];
  return events.flatMap((event, index) =>
    event.projectId === caller.projectId
      ? []
      : [{ index, path: `events[${index}].projectId`, message: `"${event.projectId}" is not this key's project "${caller.projectId}"` }],
  );
}

/**
 * A project key's events naming a session another project's events started: its project's key could otherwise add
 * calls, errors or an end to a session of a project it cannot read (the session documents are keyed by session id).
 * Sessions the projector has not folded yet are not known here; session ids are random, so a key cannot aim at one
 * it has never been shown. One point read per distinct session of the batch (a batch holds a few).
 */
async function sessionsOfOtherProjects(events: IngestBatch['events'], caller: Caller, store: ReadModelStore): Promise<BatchIssue[]> {
  if (caller.projectId === undefined) return [];
  const bySession = new Map<string, number[]>();
  events.forEach((event, index) => {
    const indexes = bySession.get(event.sessionId);
    if (indexes) indexes.push(index);
    else bySession.set(event.sessionId, [index]);
  });
  const issues: BatchIssue[] = [];
  for (const [sessionId, indexes] of bySession) {
    const session = await store.get<SessionDoc>(sessionsProjection.name, caller.orgId, sessionId);
    if (!session || session.doc.projectId === caller.projectId) continue;
    for (const index of indexes) issues.push({ index, path: `events[${index}].sessionId`, message: `session "${sessionId}" is another project's` });
  }
  return issues.sort((a, b) => a.index! - b.index!);
}

/**
 * Events only the server makes (a budget set, a finding acknowledged) are not in the client schema at all; this
 * says so in words instead of zod's list of allowed types.
 */
function refuseServerMadeEvents(events: unknown[]): void {
  const issues: BatchIssue[] = events.flatMap((event, index) => {
    const type = (event as { type?: unknown } | null)?.type;
    return typeof type === 'string' && SERVER_EVENT_TYPES.has(type) ? [{ index, path: `events[${index}].type`, message: `"${type}" events are made by the server only` }] : [];
  });
  if (issues.length > 0) throw refusedBatch(`${issues.length} event(s) have a type clients may not send; nothing was stored. See issues[] for where.`, issues);
}
