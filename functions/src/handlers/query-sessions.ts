import { sessionsProjection, sessionsRoute, sessionView, type SessionDoc } from '@km/shared';
import type { Authenticator, ReadModelStore } from '../ports';
import { routeHandler } from './route-handler';

export interface QueryDeps {
  readModelStore: ReadModelStore;
  authenticator: Authenticator;
}

/** GET /api/sessions?limit=&projectId=&userId=: the caller's sessions, newest first. */
export const makeQuerySessionsHandler = routeHandler(sessionsRoute, async (caller, { limit, projectId, userId }, deps: QueryDeps) => {
  const where: Record<string, string> = {};
  if (projectId !== undefined) where.projectId = projectId;
  if (userId !== undefined) where.userId = userId;
  const sessions = await deps.readModelStore.query<SessionDoc>(sessionsProjection.name, caller.orgId, { where, orderBy: 'firstSeenAt', direction: 'desc', limit });
  return { sessions: sessions.map(sessionView) };
});
