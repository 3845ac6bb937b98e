import { badParameter, interactionsProjection, readInteractionDocs, recentInteractionsRoute, toolOf, type InteractionDoc, type RecentInteraction } from '@km/shared';
import type { ReadModelStore } from '../ports';
import type { QueryDeps } from './query-sessions';
import { routeHandler } from './route-handler';

/**
 * How many of the newest interactions one request looks at. A poll that finds the cursor beyond this window answers
 * `missed: true`: more arrived since the last poll than a live view can show anyway.
 */
export const RECENT_WINDOW = 1000;
/**
 * Documents one request reads at most: pages of a batch each (up to 1000 interactions), or the one-interaction
 * documents written before pages. With a filter that matches little, the scan stops here (and says `missed` when
 * the cursor lies below what it read).
 */
export const MAX_DOCS_SCANNED = 4096;

/** What `km tail` prints: the interaction without its previews, as the contract declares it. */
export type { RecentInteraction };

type Position = [receivedAt: string, id: string];
const after = (a: Position, b: Position) => a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);

/**
 * GET /api/interactions/recent?after=<cursor>&limit&projectId&userId: interactions in the order the API received them,
 * oldest first. Without `after`, the newest `limit`; with it, those received after the cursor. The answer's `cursor`
 * goes into the next poll. Arrival order (not start order) is what a live view needs: a slow call that started
 * before the last poll but ended after it still shows up.
 */
export const makeQueryRecentInteractionsHandler = routeHandler(recentInteractionsRoute, async (caller, params, deps: QueryDeps) => {
  const { limit, projectId, userId } = params;
  const cursor = params.after === undefined ? null : decodeCursor(params.after);
  const matches = (i: RecentInteraction) => (projectId === undefined || i.projectId === projectId) && (userId === undefined || i.userId === userId);

  const { newest, floor } = await newestInteractions(deps.readModelStore, caller.orgId, matches);
  const oldestFirst = [...newest].reverse();
  let page: RecentInteraction[];
  let missed = false;
  if (cursor === null) {
    page = oldestFirst.slice(-limit);
  } else {
    const unseen = oldestFirst.filter((i) => after(position(i), cursor));
    // Interactions between the cursor and what this request read may exist: the view skipped some.
    missed = floor !== null && after(floor, cursor);
    page = unseen.slice(0, limit);
  }
  const last = page[page.length - 1];
  const next = last ? encodeCursor(position(last)) : cursor ? encodeCursor(cursor) : null;
  return { interactions: page, cursor: next, missed };
});

const position = (i: RecentInteraction): Position => [i.receivedAt, i.id];
const newestFirst = (a: RecentInteraction, b: RecentInteraction) => (after(position(a), position(b)) ? -1 : after(position(b), position(a)) ? 1 : 0);

/**
 * The newest RECENT_WINDOW matching interactions, newest first, read from the newest documents by arrival (more of
 * them until the window is full and no unread document can hold a newer one). floor: the lowest position below which
 * interactions may exist that are not in the answer; null when the answer holds every matching interaction.
 */
async function newestInteractions(store: ReadModelStore, orgId: string, matches: (i: RecentInteraction) => boolean): Promise<{ newest: RecentInteraction[]; floor: Position | null }> {
  for (let limit = 8; ; limit = Math.min(limit * 8, MAX_DOCS_SCANNED)) {
    const docs = await store.query<{ receivedAt?: string }>(interactionsProjection.name, orgId, { orderBy: 'receivedAt', direction: 'desc', limit });
    const matching = readInteractionDocs(docs).map(recentView).filter(matches).sort(newestFirst);
    const exhausted = docs.length < limit;
    // Unread documents hold interactions received at or before the last one read.
    const lastRead = docs[docs.length - 1]?.receivedAt ?? '';
    const kth = matching[RECENT_WINDOW - 1];
    const full = kth !== undefined && kth.receivedAt > lastRead;
    if (!exhausted && !full && limit < MAX_DOCS_SCANNED) continue;
    const newest = matching.slice(0, RECENT_WINDOW);
    const oldest = newest[newest.length - 1];
    if (matching.length > RECENT_WINDOW || (full && !exhausted)) return { newest, floor: position(oldest!) };
    return { newest, floor: exhausted ? null : [lastRead, '\uffff'] };
  }
}

function recentView(doc: InteractionDoc): RecentInteraction {
  return {
    id: doc.id,
    sessionId: doc.sessionId,
    projectId: doc.projectId,
    userId: doc.userId,
    server: doc.server.name,
    method: doc.method,
    tool: toolOf(doc),
    target: doc.target,
    latencyMs: doc.latencyMs,
    requestBytes: doc.requestBytes,
    responseBytes: doc.responseBytes,
    outcome: doc.outcome,
    error: doc.error,
    startedAt: doc.startedAt,
    endedAt: doc.endedAt,
    // Always set by the projector; a document without it sorts first and is shown once.
    receivedAt: doc.receivedAt ?? '',
    ...(doc.refusedByPolicy ? { refusedByPolicy: true as const } : {}),
    ...(doc.abandoned ? { abandoned: true as const } : {}),
  };
}

/** Opaque to clients: base64url of [receivedAt, id]. */
export const encodeCursor = (position: Position) => Buffer.from(JSON.stringify(position)).toString('base64url');

function decodeCursor(raw: string): Position {
  try {
    const value: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && value.every((part) => typeof part === 'string')) return value as Position;
  } catch {
    // falls through to the 400
  }
  throw badParameter('after', 'after must be the cursor of a previous /api/interactions/recent answer; leave it out to start from the newest');
}
