import { sessionsProjection, sessionsRoute, sessionView, type SessionDoc } from '@km/shared';
import type { Authenticator, ReadModelStore } from '../ports';
import { teamUsers } from '../teams/team-directory';
import { routeHandler } from './route-handler';

export interface QueryDeps {
  readModelStore: ReadModelStore;
  authenticator: Authenticator;
}

const newestFirst = (a: SessionDoc, b: SessionDoc) => (a.firstSeenAt === b.firstSeenAt ? 0 : a.firstSeenAt < b.firstSeenAt ? 1 : -1);

/**
 * GET /api/sessions?limit=&projectId=&userId=|teamId=: the caller's sessions, newest first. A team's are its users':
 * the newest `limit` of each user's, merged and cut (the newest of the union are among each one's newest).
 */
export const makeQuerySessionsHandler = routeHandler(sessionsRoute, async (caller, { limit, projectId, userId, teamId }, deps: QueryDeps) => {
  const where: Record<string, string> = {};
  if (projectId !== undefined) where.projectId = projectId;
  if (userId !== undefined) where.userId = userId;
  const query = (filter: Record<string, string>) => deps.readModelStore.query<SessionDoc>(sessionsProjection.name, caller.orgId, { where: filter, orderBy: 'firstSeenAt', direction: 'desc', limit });
  if (teamId === undefined) return { sessions: (await query(where)).map(sessionView) };
  const users = [...(await teamUsers(deps.readModelStore, caller.orgId, teamId))].sort();
  const sessions = (await Promise.all(users.map((user) => query({ userId: user })))).flat().sort(newestFirst).slice(0, limit);
  return { sessions: sessions.map(sessionView) };
});
