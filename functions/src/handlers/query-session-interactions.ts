import { interactionsProjection, readInteractionDocs, type InteractionDoc } from '@km/shared';
import type { ReadModelStore } from '../ports';
import { authenticateRequest } from './authenticate-request';
import { errorResponse, jsonResponse, withUnexpectedErrorsAs500, type HttpHandler } from './http-results';
import { limitParam } from './query-params';
import { findSession } from './query-session';
import type { QueryDeps } from './query-sessions';

/** Page queries in flight at once (Cosmos DB; SQLite answers synchronously). */
const PAGE_QUERY_CONCURRENCY = 16;

/** GET /api/sessions/{id}/interactions?limit=: the session's request/response pairs in the order they started. */
export function makeQuerySessionInteractionsHandler(deps: QueryDeps): HttpHandler {
  return withUnexpectedErrorsAs500(async (request) => {
    const auth = await authenticateRequest(deps.authenticator, request);
    if ('response' in auth) return auth.response;
    const limit = limitParam(request.query, 1000, 5000);
    if ('error' in limit) return errorResponse(400, limit.error);
    const found = await findSession(deps.readModelStore, auth.caller, request);
    if ('response' in found) return found.response;
    const interactions = await sessionInteractions(deps.readModelStore, auth.caller.orgId, found.session.id, found.session.pages ?? [], limit.value);
    return jsonResponse(200, { sessionId: found.session.id, interactions });
  });
}

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
  const legacy = await store.query<InteractionDoc>(model, orgId, { where: { sessionId }, orderBy: 'startedAt', direction: 'asc', limit });
  const byId = new Map<string, InteractionDoc>();
  for (const interaction of [...legacy, ...readInteractionDocs(pages)]) if (interaction.sessionId === sessionId) byId.set(interaction.id, interaction);
  return [...byId.values()].sort(byStart).slice(0, limit);
}

const byStart = (a: InteractionDoc, b: InteractionDoc) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
