import { notFound, sessionRoute, sessionsProjection, sessionView, type SessionDoc } from '@km/shared';
import type { ReadModelStore } from '../ports';
import { routeHandler } from './route-handler';
import type { QueryDeps } from './query-sessions';

/** GET /api/sessions/{id}: one of the caller's sessions. */
export const makeQuerySessionHandler = routeHandler(sessionRoute, async (caller, { id }, deps: QueryDeps) => sessionView(await findSession(deps.readModelStore, caller.orgId, id)));

/**
 * The session of that id in the caller's org only. Another tenant's session with the same id is simply not found:
 * a 404 says nothing about whether the id exists elsewhere.
 */
export async function findSession(store: ReadModelStore, orgId: string, sessionId: string): Promise<SessionDoc> {
  const found = await store.get<SessionDoc>(sessionsProjection.name, orgId, sessionId);
  if (!found) throw notFound(`no session "${sessionId}" in your org: list sessions with GET /api/sessions.`);
  return found.doc;
}
