import { sessionsProjection, sessionView, type SessionDoc } from '@km/shared';
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { Caller, ReadModelStore } from '../ports';
import { authenticateRequest } from './authenticate-request';
import { errorResponse, jsonResponse, withUnexpectedErrorsAs500, type HttpHandler } from './http-results';
import { nameParam } from './query-params';
import type { QueryDeps } from './query-sessions';

/** GET /api/sessions/{id}: one of the caller's sessions. */
export function makeQuerySessionHandler(deps: QueryDeps): HttpHandler {
  return withUnexpectedErrorsAs500(async (request) => {
    const auth = await authenticateRequest(deps.authenticator, request);
    if ('response' in auth) return auth.response;
    const found = await findSession(deps.readModelStore, auth.caller, request);
    if ('response' in found) return found.response;
    return jsonResponse(200, sessionView(found.session));
  });
}

/**
 * The session named by the route's {id}, in the caller's org only. Another tenant's session with the same id is
 * simply not found: a 404 says nothing about whether the id exists elsewhere.
 */
export async function findSession(
  store: ReadModelStore,
  caller: Caller,
  request: HttpRequest,
): Promise<{ session: SessionDoc } | { response: HttpResponseInit }> {
  const id = nameParam(request.params.id ?? '', 'the session id');
  if ('error' in id) return { response: errorResponse(400, id.error) };
  const sessionId = id.value ?? '';
  const found = await store.get<SessionDoc>(sessionsProjection.name, caller.orgId, sessionId);
  if (!found) {
    return {
      response: errorResponse(404, `no session "${sessionId}" in your org: list sessions with GET /api/sessions.`),
    };
  }
  return { session: found.doc };
}
