import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { Authenticator, Caller } from '../ports';
import { errorResponse } from './http-results';

export const UNAUTHORIZED_MESSAGE =
  'missing or unknown API key: send "Authorization: Bearer <key>". Check KM_API_KEY, or run `km login` to save a key.';

/** The caller's tenant, or the 401 to answer. Every handler starts here, so no handler can forget the tenant. */
export async function authenticateRequest(
  authenticator: Authenticator,
  request: HttpRequest,
): Promise<{ caller: Caller } | { response: HttpResponseInit }> {
  const caller = await authenticator.authenticate(request.headers.get('authorization'));
  if (caller) return { caller };
  return { response: errorResponse(401, UNAUTHORIZED_MESSAGE, {}, { 'WWW-Authenticate': 'Bearer realm="kilometers"' }) };
}
