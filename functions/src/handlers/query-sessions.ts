import { sessionsProjection, sessionView, type SessionDoc } from '@km/shared';
import type { Authenticator, QueryOptions, ReadModelStore } from '../ports';
import { authenticateRequest } from './authenticate-request';
import { errorResponse, jsonResponse, withUnexpectedErrorsAs500, type HttpHandler } from './http-results';
import { limitParam, nameParam, type ParamResult } from './query-params';

export interface QueryDeps {
  readModelStore: ReadModelStore;
  authenticator: Authenticator;
}

/** GET /api/sessions?limit=&projectId=&userId=: the caller's sessions, newest first. */
export function makeQuerySessionsHandler(deps: QueryDeps): HttpHandler {
  return withUnexpectedErrorsAs500(async (request) => {
    const auth = await authenticateRequest(deps.authenticator, request);
    if ('response' in auth) return auth.response;

    const options = sessionsQuery(request.query);
    if ('error' in options) return errorResponse(400, options.error);

    const sessions = await deps.readModelStore.query<SessionDoc>(sessionsProjection.name, auth.caller.orgId, options.value);
    return jsonResponse(200, { sessions: sessions.map(sessionView) });
  });
}

function sessionsQuery(query: URLSearchParams): ParamResult<QueryOptions> {
  const limit = limitParam(query, 50, 500);
  if ('error' in limit) return limit;
  const where: Record<string, string> = {};
  for (const field of ['projectId', 'userId'] as const) {
    const param = nameParam(query.get(field), field);
    if ('error' in param) return param;
    if (param.value !== undefined) where[field] = param.value;
  }
  return { value: { where, orderBy: 'firstSeenAt', direction: 'desc', limit: limit.value } };
}
