import { notFound, sessionRoute, sessionsProjection, sessionView, type SessionDoc } from '@km/shared';
import type { Caller, ReadModelStore } from '../ports';
import { inKeyScope, keyScopeName, routeHandler } from './route-handler';
import type { QueryDeps } from './query-sessions';

/** GET /api/sessions/{id}: one of the caller's sessions. */
export const makeQuerySessionHandler = routeHandler(sessionRoute, async (caller, { id }, deps: QueryDeps) => sessionView(await findSession(deps.readModelStore, caller, id)));

/**
 * The session of that id in the caller's org only, and for a project key in its project only. Another tenant's (or
 * project's) session with the same id is simply not found: a 404 says nothing about whether the id exists elsewhere.
 */
export async function findSession(store: ReadModelStore, caller: Pick<Caller, 'orgId' | 'projectId'>, sessionId: string): Promise<SessionDoc> {
  const found = await store.get<SessionDoc>(sessionsProjection.name, caller.orgId, sessionId);
  if (!found || !inKeyScope(caller, found.doc.projectId)) throw notFound(`no session "${sessionId}" in ${keyScopeName(caller)}: list sessions with GET /api/sessions.`);
  return found.doc;
}
