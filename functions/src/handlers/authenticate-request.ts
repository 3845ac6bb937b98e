import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { ROLES, roleAllows, type Permission } from '@km/shared';
import { isRefusal, type AuthRefusal, type Authenticator, type Caller, type Credentials } from '../ports';
import { errorResponse, orList } from './http-results';

export const UNAUTHORIZED_MESSAGE =
  'missing or unknown API key: send "Authorization: Bearer <key>". Check KM_API_KEY, or run `km login` to save a key.';

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="kilometers"' };

const WHAT: Readonly<Record<Permission, string>> = {
  read: 'read this org',
  ingest: 'ship events',
  change: 'change budgets, policies or finding status',
  keys: 'make, list or revoke API keys',
  manage: "manage the org (its members, teams, retention and every key)",
  audit: "read the org's audit trail (it holds every key change, with the key's hash)",
};

/**
 * The caller's tenant, or the 401 / 403 to answer. Every handler starts here, so no handler can forget the tenant
 * or the role: a 401 says whether the key was missing, unknown or revoked; a 403 says which role or scope is lacking.
 */
export async function authenticateRequest(
  authenticator: Authenticator,
  request: HttpRequest,
  permission: Permission,
  /** The request, for the refusal: "PUT /api/teams/{teamId}". */
  what?: string,
): Promise<{ caller: Caller } | { response: HttpResponseInit }> {
  const authentication = await authenticator.authenticate(credentialsOf(request));
  if (isRefusal(authentication)) return { response: errorResponse(401, refusalMessage(authentication), { reason: authentication.refused }, CHALLENGE) };
  if (!roleAllows(authentication.role, permission)) {
    // Which roles may, as the role table says: a viewer changing a budget needs a member's key, not an owner's.
    // A member makes keys signed in with GitHub only (keyRights): an API key of role member makes none.
    const may = permission === 'keys' ? 'owner or admin may (a member signed in to the dashboard with GitHub makes their own)' : `${orList(ROLES.filter((role) => roleAllows(role, permission)))} may`;
    const message = `this key's role "${authentication.role}" may not ${WHAT[permission]}${what ? ` (${what})` : ''}: a key of role ${may}; ask an owner or admin of org "${authentication.orgId}" for one.`;
    return { response: errorResponse(403, message, { reason: 'role' }) };
  }
  return { caller: authentication };
}

export function credentialsOf(request: Pick<HttpRequest, 'headers'>): Credentials {
  return { authorization: request.headers.get('authorization'), cookie: request.headers.get('cookie'), clientPrincipal: request.headers.get('x-ms-client-principal') };
}

function refusalMessage(refusal: AuthRefusal): string {
  switch (refusal.refused) {
    case 'missing':
      return 'missing API key: send "Authorization: Bearer <key>". Set KM_API_KEY, or run `km login --key <key>` to save one.';
    case 'malformed':
      return 'the Authorization header is not "Bearer <key>" (another scheme, or no key after Bearer): send "Authorization: Bearer <key>". Check KM_API_KEY or the key `km login` saved.';
    case 'unknown':
      return 'unknown API key: no org has this key. Check KM_API_KEY or the key `km login` saved; an admin makes keys with `km keys create`.';
    case 'expired':
      return 'this dashboard session has ended (signed out, expired, or km serve restarted): sign in again.';
    case 'removed':
      return 'you were removed from this org, so your dashboard session has ended: ask an owner or admin to invite you again (km members invite <login>).';
    case 'revoked':
      return `API key ${refusal.keyPrefix ?? ''} was revoked at ${refusal.revokedAt ?? 'some time'}: ask an admin for a new key (\`km keys create\`) and run \`km login --key <key>\`.`;
  }
}
