import type { KmEvent, LoggedEvent, Role } from '@km/shared';

/** A position in the event log: monotonic within the log. Embedded: the SQLite rowid. */
export type LogPosition = number;

export interface AppendResult {
  /** Events newly written. */
  appended: number;
  /** Events whose id the log already held: accepted and ignored, so retries are idempotent. */
  duplicates: number;
}

/** What readType answers: the events of the type, the last position looked through, how many events that was. */
export interface TypedPage {
  events: Array<{ position: LogPosition; event: LoggedEvent }>;
  through: LogPosition;
  looked: number;
}

/** readType through read(): every event read, those of the type kept. */
export async function typedPage(log: EventLog, after: LogPosition, max: number, type: string): Promise<TypedPage> {
  if (log.readType) return log.readType(after, max, type);
  const page = await log.read(after, max);
  return { events: page.filter(({ event }) => event.type === type), through: page.length > 0 ? page[page.length - 1]!.position : after, looked: page.length };
}

/**
 * The event log port (DESIGN.md). Cloud: Event Hubs (append only; the Functions host reads and checkpoints).
 * Embedded: SQLite with a monotonic position, read by the in-process projector loop.
 */
export interface EventLog {
  append(events: LoggedEvent[]): Promise<AppendResult>;
  /** Events strictly after `after`, oldest first, at most `max`. */
  read(after: LogPosition, max: number): Promise<Array<{ position: LogPosition; event: LoggedEvent }>>;
  /**
   * Optional: the events of one type after `after`, looking through at most about `max` events, for a consumer of
   * one rare type (the budget notifier). A log that can pass over the others unread implements it; typedPage is
   * the same through read() for one that cannot.
   */
  readType?(after: LogPosition, max: number, type: string): Promise<TypedPage>;
  /**
   * Optional: the latest receivedAt its events hold (ms since the epoch; null when empty), read at once: where a
   * process's ingest stamps go on from, so that a clock set back across a restart never stamps a batch before the
   * ones logged already (the retention sweep and the live view read by receivedAt). A log kept across restarts
   * (SQLite) implements it; Event Hubs orders by its own enqueue time.
   */
  lastReceivedAt?(): number | null;
  getCheckpoint(projector: string): Promise<LogPosition>;
  setCheckpoint(projector: string, position: LogPosition): Promise<void>;
  close(): Promise<void>;
}

/**
 * A log that can forget an org's expired events (retention). The embedded logs can; Event Hubs keeps events for its
 * own retention period only, so it has no need. The ids stay claimed: an expired event sent again is a duplicate,
 * never brought back.
 */
export interface RetainingLog {
  /** Removes these events of the org; the others keep their positions. Returns how many were removed. */
  removeEvents(orgId: string, ids: ReadonlySet<string>): Promise<number>;
}

export const isRetainingLog = (log: EventLog): log is EventLog & RetainingLog => typeof (log as Partial<RetainingLog>).removeEvents === 'function';

/** Where an org's chain starts reading: before every position (Event Hubs sequence numbers start at 0). */
export const BEFORE_FIRST: LogPosition = -1;

/**
 * An org's events read back in log order, and forgotten at retention: what the audit chain is made from (and the
 * retention sweep cuts). Embedded: the SQLite log, read filtered by org (adapters/log-org-events.ts). Azure: the
 * audit archive in Cosmos DB, which its own Event Hubs trigger fills (adapters/store-org-event-archive.ts).
 */
export interface OrgEventArchive extends RetainingLog {
  /** The org's events strictly after `after` (BEFORE_FIRST: from its first), oldest first, at most `max`. */
  readOrg(orgId: string, after: LogPosition, max: number): Promise<Array<{ position: LogPosition; event: LoggedEvent }>>;
}

/** An event larger than the log can store as one message: the batch is refused, that event named. */
export class EventTooLargeError extends Error {
  constructor(
    readonly eventId: string,
    bytes: number,
  ) {
    super(`event ${eventId} is ${bytes} bytes as JSON, more than one event log message can hold; it was not stored`);
    this.name = 'EventTooLargeError';
  }
}

/**
 * The highest log position a document has folded, per log partition (the embedded log has one, named by
 * EMBEDDED_PARTITION; Event Hubs: partition id -> sequence number). A projector skips an event at or below it: that
 * is a replay. Kept beside the document, not in it, so queries answer exactly what the fold made.
 */
export type FoldedPositions = Readonly<Record<string, LogPosition>>;

/** The embedded log's single partition. */
export const EMBEDDED_PARTITION = 'log';

export interface StoredDoc<T> {
  doc: T;
  etag: string;
  /** Absent for documents written without positions (by hand, or before projectors recorded them). */
  positions?: FoldedPositions;
}

/** One conditional write of upsertMany; ifMatch as for upsert. */
export interface DocWrite<T = unknown> {
  partitionKey: string;
  id: string;
  doc: T;
  ifMatch?: string | null;
  positions?: FoldedPositions;
}

/** The outcome of one write of upsertMany: the new ETag, or a conflict (the ETag no longer matched). */
export type DocWriteOutcome = { etag: string } | { conflict: true };

/** Thrown by upsert when the ETag no longer matches: somebody else wrote the document first. */
export class ConcurrencyError extends Error {
  constructor(model: string, id: string) {
    super(`document ${model}/${id} was changed by another writer`);
    this.name = 'ConcurrencyError';
  }
}

/** One write of upsertMany made through upsert: a conflict is an outcome, anything else is thrown. */
export async function upsertOne(store: ReadModelStore, model: string, write: DocWrite): Promise<DocWriteOutcome> {
  try {
    return { etag: await store.upsert(model, write.partitionKey, write.id, write.doc, write.ifMatch, write.positions) };
  } catch (error) {
    if (!(error instanceof ConcurrencyError)) throw error;
    return { conflict: true };
  }
}

export interface QueryOptions {
  /** Equality filters on top-level document fields. */
  where?: Record<string, string | number | boolean>;
  /** A top-level field to sort by. */
  orderBy?: string;
  /** Bounds on the orderBy field, both included (ISO times compare as text): a range read stops at the range. */
  between?: { from?: string | number; to?: string | number };
  direction?: 'asc' | 'desc';
  limit?: number;
}

/**
 * The read-model store port. Documents are keyed by (model, partitionKey = orgId, id). Every call names the
 * tenant's partition: there is no cross-tenant read in the port at all.
 */
export interface ReadModelStore {
  get<T>(model: string, partitionKey: string, id: string): Promise<StoredDoc<T> | null>;
  /**
   * Writes the document. ifMatch: the ETag read before (optimistic concurrency), null when the caller saw no
   * document (then an existing one is a conflict), undefined to overwrite unconditionally.
   * Throws ConcurrencyError on a conflict. Returns the new ETag.
   */
  upsert<T>(model: string, partitionKey: string, id: string, doc: T, ifMatch?: string | null, positions?: FoldedPositions): Promise<string>;
  /**
   * Many conditional writes of one model, each judged on its own: a conflict on one never stops the others. The
   * SQLite store makes them one transaction; Cosmos DB sends one ETag write per document. Outcomes in input order.
   * Optional: a store without it gets one upsert per document (writeDocuments).
   */
  upsertMany?(model: string, writes: readonly DocWrite[]): Promise<DocWriteOutcome[]>;
  /**
   * The documents the options select. They are the caller's to read, not to change: a store may share them with the
   * next query (SQLite's query cache hands them out frozen).
   */
  query<T>(model: string, partitionKey: string, options?: QueryOptions): Promise<T[]>;
  /**
   * Deletes the document; ifMatch as for upsert (a string: only that version). Returns whether one was deleted;
   * throws ConcurrencyError when the ETag no longer matches. Optional: only the audit archive deletes (retention).
   */
  remove?(model: string, partitionKey: string, id: string, ifMatch?: string): Promise<boolean>;
  close(): Promise<void>;
}

/** Who is calling: the tenant, role and scope of the credentials (an API key, a signed-in member), never of the request. */
export interface Caller {
  orgId: string;
  role: Role;
  /** Set for a project key: it ships and reads that project only. */
  projectId?: string;
  /** Who acts, as recorded on the events a change makes: `key:<key id>`, `github:<login>`, `local`. */
  actor: string;
}

/** Why credentials were refused, so that the 401 can say which: nothing sent, a key nobody made, a revoked key. */
export interface AuthRefusal {
  /** malformed: an Authorization header that is not `Bearer <key>` (another scheme, no key, a key with spaces). */
  refused: 'missing' | 'malformed' | 'unknown' | 'revoked' | 'expired' | 'removed';
  /** The key's shown prefix, for a revoked key. */
  keyPrefix?: string;
  revokedAt?: string;
}

/** What a request may carry to say who sends it. */
export interface Credentials {
  /** `Bearer <API key>`. */
  authorization: string | null;
  /** The Cookie header: a dashboard signed in to km serve (km_session). */
  cookie: string | null;
  /** Static Web Apps' `x-ms-client-principal`: a member signed in with GitHub in Azure. */
  clientPrincipal: string | null;
}

/** Resolves a request's credentials to a tenant, or says why not. */
export interface Authenticator {
  authenticate(credentials: Credentials): Promise<Caller | AuthRefusal>;
}

export const isRefusal = (authentication: Caller | AuthRefusal): authentication is AuthRefusal => 'refused' in authentication;

export type { KmEvent };
