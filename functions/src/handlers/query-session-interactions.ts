import { interactionsProjection, type InteractionDoc } from '@km/shared';
import { authenticateRequest } from './authenticate-request';
import { errorResponse, jsonResponse, withUnexpectedErrorsAs500, type HttpHandler } from './http-results';
import { limitParam } from './query-params';
import { findSession } from './query-session';
import type { QueryDeps } from './query-sessions';

/** GET /api/sessions/{id}/interactions?limit=: the session's request/response pairs in the order they started. */
export function makeQuerySessionInteractionsHandler(deps: QueryDeps): HttpHandler {
  return withUnexpectedErrorsAs500(async (request) => {
    const auth = await authenticateRequest(deps.authenticator, request);
    if ('response' in auth) return auth.response;
    const limit = limitParam(request.query, 1000, 5000);
    if ('error' in limit) return errorResponse(400, limit.error);
    const found = await findSession(deps.readModelStore, auth.caller, request);
    if ('response' in found) return found.response;

    const interactions = await deps.readModelStore.query<InteractionDoc>(interactionsProjection.name, auth.caller.orgId, {
      where: { sessionId: found.session.id },
      orderBy: 'startedAt',
      direction: 'asc',
      limit: limit.value,
    });
    return jsonResponse(200, { sessionId: found.session.id, interactions });
  });
}
