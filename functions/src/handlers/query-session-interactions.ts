import { interactionsProjection, MAX_SESSION_PAGES, readInteractionDocs, sessionInteractionsRoute, type InteractionDoc } from '@km/shared';
import type { ReadModelStore } from '../ports';
import { findSession } from './query-session';
import { routeHandler } from './route-handler';
import type { QueryDeps } from './query-sessions';

/** Page queries in flight at once (Cosmos DB; SQLite answers synchronously). */
const PAGE_QUERY_CONCURRENCY = 16;

/** GET /api/sessions/{id}/interactions?limit=: the session's request/response pairs in the order they started. */
export const makeQuerySessionInteractionsHandler = routeHandler(sessionInteractionsRoute, async (caller, { id, limit }, deps: QueryDeps) => {
  const session = await findSession(deps.readModelStore, caller, id);
  const interactions = await sessionInteractions(deps.readModelStore, caller.orgId, session.id, session.pages ?? [], limit);
  // A project key reads its project's calls only, even in its own session: ingest refuses another project's events
  // for a session it knows, but not for one the projector had not folded yet (or before that check).
  return { sessionId: session.id, interactions: caller.projectId === undefined ? interactions : interactions.filter((call) => call.projectId === caller.projectId) };
});

/**
 * The pages of the batches the session document lists (each batch's pages share its `batch` field), plus the
 * one-per-interaction documents written before pages (they carry sessionId at the top), in start order.
 */
export async function sessionInteractions(store: ReadModelStore, orgId: string, sessionId: string, batches: readonly string[], limit: number): Promise<InteractionDoc[]> {
  const model = interactionsProjection.name;
  const pages: unknown[] = [];
  for (let at = 0; at < batches.length; at += PAGE_QUERY_CONCURRENCY) {
    const found = await Promise.all(batches.slice(at, at + PAGE_QUERY_CONCURRENCY).map((batch) => store.query<unknown>(model, orgId, { where: { batch } })));
    pages.push(...found.flat());
  }
  // A full list stops at the session's first MAX_SESSION_PAGES batches: the pages after them are found by session
  // (a batch of several sessions past the list is not: km ships each session's calls in batches of its own).
  if (batches.length >= MAX_SESSION_PAGES) pages.push(...(await store.query<unknown>(model, orgId, { where: { session: sessionId }, orderBy: 'receivedAt', direction: 'asc' })));
  const legacy = await store.query<InteractionDoc>(model, orgId, { where: { sessionId }, orderBy: 'startedAt', direction: 'asc', limit });
  const byId = new Map<string, InteractionDoc>();
  for (const interaction of [...legacy, ...readInteractionDocs(pages)]) if (interaction.sessionId === sessionId) byId.set(interaction.id, interaction);
  return [...byId.values()].sort(byStart).slice(0, limit);
}

const byStart = (a: InteractionDoc, b: InteractionDoc) =>
  a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : byRequestId(a.requestId, b.requestId) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Requests sent in one write start in the same millisecond, and event ids are not in the order of the stream: the
 * JSON-RPC ids are, for clients that count them (the MCP SDK, Claude Code), so initialize comes before tools/list.
 */
function byRequestId(a: string | null | undefined, b: string | null | undefined): number {
  if (a == null || b == null || a === b) return 0;
  const [x, y] = [integerId(a), integerId(b)];
  if (x !== null && y !== null) return x < y ? -1 : x > y ? 1 : 0;
  if (x !== null || y !== null) return x !== null ? -1 : 1; // numbers before strings: a total order
  return a < b ? -1 : 1;
}

/** The request id as an integer when it is one (requestId holds the id as JSON: 7, or "c7" with its quotes). */
const integerId = (id: string): number | null => (/^-?\d{1,15}$/.test(id) ? Number(id) : null);
