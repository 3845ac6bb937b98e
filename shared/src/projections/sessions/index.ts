import type { KmEvent } from '../../events';
import { addSaturating, isServerFailure, reachedServer, sortedIndex, withoutIdLists, type Projection } from '../projection';
import { interactionBatchKey } from '../interactions';
import { addSessionWait, type SessionWait } from '../latency';
import { MANY_FILES, touchedFileHashes, withFileHashes } from '../risk';

/**
 * The interaction batches (interactionBatchKey: `<receivedAt>|<batchId>`) a session document lists, at most: the
 * earliest received ones are kept (the keys sort by arrival), so the list is the same in any fold order.
 */
export const MAX_SESSION_PAGES = 256;

/** One document per MCP session: who ran which server, when, how it went. */
export interface SessionDoc {
  id: string;
  orgId: string;
  projectId: string;
  userId: string;
  machineId: string;
  server: { name: string; command: string };
  /** From session.started; null until it arrives. */
  startedAt: string | null;
  /** How km reached the server, from session.started: a child's stdio, or HTTP (km --url, km proxy). Absent until it arrives, and in documents written before. */
  transport?: 'stdio' | 'http';
  /** The earliest timestamp of any event of the session: the sort key when session.started is missing. */
  firstSeenAt: string;
  lastActivityAt: string;
  endedAt: string | null;
  exitCode: number | null;
  signal: string | null;
  durationMs: number | null;
  protocolVersion: string | null;
  client: { name: string; version?: string | undefined } | null;
  serverInfo: { name: string; version?: string | undefined } | null;
  /** Which session.identified event each field above came from: the newest non-null wins, whatever the fold order. */
  identifiedBy: { protocolVersion: string | null; client: string | null; serverInfo: string | null };
  /**
   * The event whose project, user, machine and server the session shows: the lowest id (the earliest), so the same in
   * any order when a sender's events of one session name different ones. Absent in documents written before: those
   * keep theirs.
   */
  envelopeBy?: string;
  interactionCount: number;
  errorCount: number;
  toolCallCount: number;
  notificationCount: number;
  violationCount: number;
  droppedObservations: number;
  /** Interactions recorded without previews while km was behind (absent from documents of older versions). */
  droppedPreviews?: number;
  /** Why the server could not be started, from session.ended (absent: it started, or an older document). */
  startError?: string;
  /**
   * The ingest batches holding the session's interactions (interactionBatchKey), sorted, at most MAX_SESSION_PAGES:
   * where GET /api/sessions/{id}/interactions finds its pages. Absent from documents written before pages.
   */
  pages?: string[];
  /**
   * Waiting time by tool (`tool:<name>`, or `other` for every other method), sorted: GET /api/latency/bottlenecks?
   * sessionId. Kept here rather than in a read model of its own, which wrote a second document per session and batch.
   */
  waits?: Record<string, SessionWait>;
  /**
   * Hashes of the distinct files the session's calls touched (never the paths; the smallest ones, bounded), the
   * time of its first call touching one, and manyFiles once there are enough for the risk monitor's many-files
   * finding (which reads the flagged sessions). Kept here rather than in a risk document per session, which wrote a
   * second document per session and batch.
   */
  files?: string[];
  filesSince?: string;
  manyFiles?: true;
}

function emptySession(event: KmEvent): SessionDoc {
  return {
    id: event.sessionId,
    orgId: event.orgId,
    projectId: event.projectId,
    userId: event.userId,
    machineId: event.machineId,
    server: { ...event.server },
    startedAt: null,
    firstSeenAt: event.ts,
    lastActivityAt: event.ts,
    endedAt: null,
    exitCode: null,
    signal: null,
    durationMs: null,
    protocolVersion: null,
    client: null,
    serverInfo: null,
    identifiedBy: { protocolVersion: null, client: null, serverInfo: null },
    envelopeBy: event.id,
    interactionCount: 0,
    errorCount: 0,
    toolCallCount: 0,
    notificationCount: 0,
    violationCount: 0,
    droppedObservations: 0,
  };
}

const earlier = (a: string, b: string) => (Date.parse(a) <= Date.parse(b) ? a : b);
const later = (a: string, b: string) => (Date.parse(a) >= Date.parse(b) ? a : b);

export const sessionsProjection: Projection<SessionDoc> = {
  name: 'sessions',
  // Server-made events (a finding acknowledged) are not session activity.
  docIds: (event) => [event.sessionId],
  evolve: (state, event) => foldSession(state, [event]),
  evolveBatch: (state, events) => (events.length === 0 ? (state as SessionDoc) : foldSession(state, events)),
};

/**
 * The session after the events: the document is copied once per batch, then each event changes the copy (its
 * nested records and lists are replaced, never changed, so the stored document stays as it was). A copy per event
 * was a spread of the whole document for every interaction (issue 11).
 */
function foldSession(state: SessionDoc | null, events: readonly KmEvent[]): SessionDoc {
  const doc: SessionDoc = state ? withoutIdLists(state) : emptySession(events[0]!);
  for (const event of events) applyEvent(doc, event);
  return doc;
}

function applyEvent(doc: SessionDoc, event: KmEvent): void {
  if (doc.envelopeBy !== undefined && event.id < doc.envelopeBy) {
    Object.assign(doc, { projectId: event.projectId, userId: event.userId, machineId: event.machineId, server: { ...event.server }, envelopeBy: event.id });
  }
  doc.firstSeenAt = earlier(doc.firstSeenAt, event.ts);
  doc.lastActivityAt = later(doc.lastActivityAt, event.type === 'mcp.interaction' && event.endedAt ? later(event.ts, event.endedAt) : event.ts);
  switch (event.type) {
    case 'session.started':
      doc.startedAt = event.ts;
      doc.transport = event.transport;
      break;
    case 'session.identified': {
      const by = { ...doc.identifiedBy };
      for (const field of ['protocolVersion', 'client', 'serverInfo'] as const) {
        const seenBy = by[field];
        if (event[field] === null || (seenBy !== null && seenBy > event.id)) continue;
        by[field] = event.id;
        (doc as Record<typeof field, unknown>)[field] = event[field];
      }
      doc.identifiedBy = by;
      break;
    }
    case 'session.ended':
      doc.endedAt = event.ts;
      doc.exitCode = event.exitCode;
      doc.signal = event.signal;
      doc.durationMs = event.durationMs;
      doc.droppedObservations = addSaturating(doc.droppedObservations, event.droppedObservations);
      if (event.droppedPreviews) doc.droppedPreviews = addSaturating(doc.droppedPreviews ?? 0, event.droppedPreviews);
      if (event.startError) doc.startError = event.startError;
      break;
    case 'mcp.interaction': {
      doc.interactionCount++;
      const pages = withPage(doc.pages, interactionBatchKey(event));
      if (pages) doc.pages = pages;
      if (isServerFailure(event)) doc.errorCount++;
      if (event.method === 'tools/call') doc.toolCallCount++;
      // What km's policy refused waited on no server and touched no file.
      if (reachedServer(event)) {
        doc.waits = addSessionWait(doc.waits, event);
        if (event.direction === 'client_to_server') countFiles(doc, event);
      }
      break;
    }
    case 'mcp.notification':
      doc.notificationCount++;
      break;
    case 'protocol.violation':
      doc.violationCount++;
      break;
    default:
      break;
  }
}

/** The files a call touched into its session's hashes, and the time of the session's first such call (order-free). */
function countFiles(doc: SessionDoc, event: Extract<KmEvent, { type: 'mcp.interaction' }>): void {
  const hashes = touchedFileHashes(event);
  if (hashes.length === 0) return;
  if (doc.filesSince === undefined || event.ts < doc.filesSince) doc.filesSince = event.ts;
  const files = withFileHashes(doc.files, hashes);
  if (!files) return;
  doc.files = files;
  if (files.length >= MANY_FILES) doc.manyFiles = true;
}

/** A new sorted list with key added (the earliest MAX_SESSION_PAGES kept), or null when nothing changes. */
function withPage(pages: readonly string[] | undefined, key: string): string[] | null {
  const list = pages ?? [];
  const at = sortedIndex(list, key);
  if (list[at] === key || at >= MAX_SESSION_PAGES) return null;
  return [...list.slice(0, at), key, ...list.slice(at, MAX_SESSION_PAGES - 1)];
}

/** The public view of a session: the bookkeeping of the fold stays inside. */
export function sessionView(
  doc: SessionDoc,
): Omit<SessionDoc, 'identifiedBy' | 'envelopeBy' | 'pages' | 'waits' | 'transport' | 'droppedPreviews' | 'startError' | 'files' | 'filesSince' | 'manyFiles'> & {
  transport: 'stdio' | 'http' | null;
  droppedPreviews: number;
  startError: string | null;
} {
  const { identifiedBy: _identifiedBy, envelopeBy: _envelopeBy, pages: _pages, waits: _waits, files: _files, filesSince: _filesSince, manyFiles: _manyFiles, ...view } = withoutIdLists(doc);
  return { ...view, transport: doc.transport ?? null, droppedPreviews: doc.droppedPreviews ?? 0, startError: doc.startError ?? null };
}
