import type { Interaction, KmEvent } from '../../events';
import type { Projection } from '../projection';
import { jsonUtf8Length } from './json-size';

/**
 * The interactions read model: request/response pairs grouped into pages, one page per ingest batch (the shipper
 * sends up to 500 events per POST), so a batch is one document write instead of one per interaction (issue 11).
 * A page never grows with traffic: it holds one batch. The envelope (project, user, machine, session, server) is
 * stored once per page for each distinct envelope, and each row is a tuple of the interaction's own fields.
 *
 * Documents written before pages (one per interaction, keyed by the event id, with top-level sessionId and
 * receivedAt) stay readable: the readers decode both shapes (readInteractionDocs), and new events only make pages.
 */

/** One interaction as the query routes answer it. receivedAt and batchId: the ingest's (always set in a projector). */
export type InteractionDoc = Omit<Interaction, 'type' | 'v' | 'ts'> & { recordedAt: string; receivedAt?: string; batchId?: string };

/** [sessionId, projectId, userId, machineId, server name, server command]. */
export type EnvelopeRow = [string, string, string, string, string, string];

/** The row's fields after the envelope's index, in this order; `model` last, left out when the event had none. */
export const INTERACTION_ROW_FIELDS = [
  'id',
  'direction',
  'requestId',
  'method',
  'target',
  'protocolVersion',
  'startedAt',
  'endedAt',
  'latencyMs',
  'requestBytes',
  'responseBytes',
  'outcome',
  'error',
  'resultType',
  'tokensIn',
  'tokensOut',
  'costUsd',
  'findings',
  'requestPreview',
  'responsePreview',
  'ts',
  'model',
] as const;
type RowField = (typeof INTERACTION_ROW_FIELDS)[number];
/** [envelope index, ...the values of INTERACTION_ROW_FIELDS]; model absent when the event had no model field. */
export type InteractionRow = [number, ...unknown[]];

export interface InteractionPageDoc {
  id: string;
  orgId: string;
  /** `<receivedAt>|<batchId>`: the same on every page of one ingest batch (the session documents list it). */
  batch: string;
  receivedAt: string;
  batchId: string;
  /** Distinct envelopes of the rows, sorted (so the page is the same whatever order its events were folded in). */
  envelopes: EnvelopeRow[];
  /** Sorted by interaction id. */
  rows: InteractionRow[];
  /**
   * Ids of the rows km's policy refused (refusedByPolicy), sorted; absent when none. A list beside the rows, not a
   * row field: a field after `model` would make a row without a model read back with model null.
   */
  refused?: string[];
  /** Ids of the rows the client abandoned (Interaction.abandoned), sorted; absent when none. Beside the rows, as refused. */
  abandoned?: string[];
  /**
   * The session of every row, when they are of one (km ships a session's calls in batches of their own); absent for
   * a batch of several sessions, and on pages written before. A session's document lists its first MAX_SESSION_PAGES
   * batches only: a longer session's later pages are found by this field.
   */
  session?: string;
}

/**
 * Events of at most this many bytes of JSON share their batch's main page: a batch holds at most
 * MAX_EVENTS_PER_BATCH (1000) events, so the main page stays under 1.8 MB, below Cosmos DB's 2 MB item limit, and
 * a row plus its envelope is never larger than its event. Larger events (long previews, many findings) go to one
 * of LARGE_PAGES pages of the batch chosen by a hash of the event id: the ingest body limit (5 MiB) spread over 8.
 */
export const MAIN_PAGE_MAX_EVENT_BYTES = 1800;
export const LARGE_PAGES = 8;

function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

type Stored = { receivedAt?: string; batchId?: string };

/** The batch key of an interaction: its pages' `batch` field, and what its session document lists. */
export function interactionBatchKey(event: KmEvent & Stored): string {
  // An event folded outside a projector (no ingest fields) is a batch of its own.
  return `${event.receivedAt ?? ''}|${event.batchId ?? event.id}`;
}

export function interactionPageId(event: Interaction & Stored): string {
  const batch = interactionBatchKey(event);
  if (jsonUtf8Length(event) <= MAIN_PAGE_MAX_EVENT_BYTES) return batch;
  return `${batch}|${1 + (hash32(event.id) % LARGE_PAGES)}`;
}

const envelopeOf = (event: Interaction): EnvelopeRow => [event.sessionId, event.projectId, event.userId, event.machineId, event.server.name, event.server.command];

function rowOf(event: Interaction, envelopeIndex: number): InteractionRow {
  const row: InteractionRow = [envelopeIndex];
  for (const field of INTERACTION_ROW_FIELDS) {
    if (field === 'model' && event.model === undefined) break;
    row.push(event[field]);
  }
  return row;
}

/** The interactions of a page, as the routes answer them. */
export function pageInteractions(page: InteractionPageDoc): InteractionDoc[] {
  const refused = new Set(page.refused ?? []);
  const abandoned = new Set(page.abandoned ?? []);
  return page.rows.map((row) => {
    const [sessionId, projectId, userId, machineId, name, command] = page.envelopes[row[0]]!;
    const fields: Partial<Record<RowField, unknown>> = {};
    INTERACTION_ROW_FIELDS.forEach((field, i) => {
      if (i + 1 < row.length) fields[field] = row[i + 1];
    });
    const { ts, ...rest } = fields;
    return {
      ...(rest as Omit<InteractionDoc, 'orgId' | 'projectId' | 'userId' | 'machineId' | 'sessionId' | 'server' | 'recordedAt'>),
      orgId: page.orgId,
      projectId,
      userId,
      machineId,
      sessionId,
      server: { name, command },
      recordedAt: ts as string,
      receivedAt: page.receivedAt,
      batchId: page.batchId,
      ...(refused.has(rest.id as string) ? { refusedByPolicy: true as const } : {}),
      ...(abandoned.has(rest.id as string) ? { abandoned: true as const } : {}),
    };
  });
}

export const isInteractionPage = (doc: unknown): doc is InteractionPageDoc => Array.isArray((doc as { rows?: unknown } | null)?.rows);

/** The interactions of documents of either shape: pages, and the one-per-interaction documents written before them. */
export function readInteractionDocs(docs: readonly unknown[]): InteractionDoc[] {
  return docs.flatMap((doc) => (isInteractionPage(doc) ? pageInteractions(doc) : [doc as InteractionDoc]));
}

/**
 * Folds events into their page: the rows of the page and the new ones, keyed by interaction id (folding an event
 * again replaces its row with the same row), then sorted, so the page depends only on the set of events.
 */
function foldPage(state: InteractionPageDoc | null, events: readonly KmEvent[], docId: string): InteractionPageDoc {
  // Each envelope's JSON is its key: computed once per row, it both dedupes the envelopes and indexes the rows.
  const rows = new Map<string, { envelope: EnvelopeRow; envelopeKey: string; event: Interaction | null; row: InteractionRow | null; refused: boolean; abandoned: boolean }>();
  const entry = (envelope: EnvelopeRow, event: Interaction | null, row: InteractionRow | null, refused: boolean, abandoned: boolean) => ({ envelope, envelopeKey: JSON.stringify(envelope), event, row, refused, abandoned });
  const wasRefused = new Set(state?.refused ?? []);
  const wasAbandoned = new Set(state?.abandoned ?? []);
  if (state) for (const row of state.rows) rows.set(row[1] as string, entry(state.envelopes[row[0]]!, null, row, wasRefused.has(row[1] as string), wasAbandoned.has(row[1] as string)));
  let first: (Interaction & Stored) | null = null;
  for (const event of events) {
    if (event.type !== 'mcp.interaction') throw new Error(`interactions cannot fold ${event.type}`);
    first ??= event;
    rows.set(event.id, entry(envelopeOf(event), event, null, event.refusedByPolicy === true, event.abandoned === true));
  }
  if (!state && !first) throw new Error('interactions: a page needs an event');
  const envelopeKeys = new Map<string, EnvelopeRow>();
  for (const { envelope, envelopeKey } of rows.values()) envelopeKeys.set(envelopeKey, envelope);
  const sortedKeys = [...envelopeKeys.keys()].sort();
  const indexOf = new Map(sortedKeys.map((key, i) => [key, i]));
  const ids = [...rows.keys()].sort();
  const pageRows = ids.map((id) => {
    const { envelopeKey, event, row } = rows.get(id)!;
    const index = indexOf.get(envelopeKey)!;
    if (event) return rowOf(event, index);
    const copy = [...row!] as InteractionRow;
    copy[0] = index;
    return copy;
  });
  const receivedAt = state?.receivedAt ?? first!.receivedAt ?? '';
  const refused = ids.filter((id) => rows.get(id)!.refused);
  const abandoned = ids.filter((id) => rows.get(id)!.abandoned);
  return {
    id: docId,
    orgId: state?.orgId ?? first!.orgId,
    batch: state?.batch ?? interactionBatchKey(first!),
    receivedAt,
    batchId: state?.batchId ?? first!.batchId ?? first!.id,
    envelopes: sortedKeys.map((key) => envelopeKeys.get(key)!),
    rows: pageRows,
    ...(refused.length > 0 ? { refused } : {}),
    ...(abandoned.length > 0 ? { abandoned } : {}),
    ...oneSession(sortedKeys.map((key) => envelopeKeys.get(key)!)),
  };
}

/** `{ session }` when the envelopes are all of one session. */
function oneSession(envelopes: readonly EnvelopeRow[]): { session?: string } {
  const sessions = new Set(envelopes.map(([sessionId]) => sessionId)); // an envelope's first field
  return sessions.size === 1 ? { session: [...sessions][0]! } : {};
}

/**
 * The page without the rows of these interactions (retention removes their events from the log): the envelopes no
 * row uses any more go too, and the refused and abandoned ids with their rows. null when none of them is on it.
 */
export function withoutInteractions(page: InteractionPageDoc, ids: ReadonlySet<string>): InteractionPageDoc | null {
  const kept = page.rows.filter((row) => !ids.has(row[1] as string));
  if (kept.length === page.rows.length) return null;
  const used = [...new Set(kept.map((row) => row[0]))].sort((a, b) => a - b);
  const indexOf = new Map(used.map((index, i) => [index, i]));
  const { refused: wasRefused, abandoned: wasAbandoned, session: _session, ...rest } = page;
  const refused = (wasRefused ?? []).filter((id) => !ids.has(id));
  const abandoned = (wasAbandoned ?? []).filter((id) => !ids.has(id));
  const envelopes = used.map((index) => page.envelopes[index]!);
  return {
    ...rest,
    envelopes,
    rows: kept.map((row) => [indexOf.get(row[0])!, ...row.slice(1)] as InteractionRow),
    ...(refused.length > 0 ? { refused } : {}),
    ...(abandoned.length > 0 ? { abandoned } : {}),
    ...oneSession(envelopes),
  };
}

export const interactionsProjection: Projection<InteractionPageDoc> = {
  name: 'interactions',
  docIds: (event) => (event.type === 'mcp.interaction' ? [interactionPageId(event)] : []),
  evolve: (state, event, docId) => foldPage(state, [event], docId),
  evolveBatch: (state, events, docId) => foldPage(state, events, docId),
};
