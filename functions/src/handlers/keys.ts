import type { InvocationContext } from '@azure/functions';
import { ApiError, createKeyRoute, keyIdOfReference, keyRights, keyRoleMayMake, keysRoute, revokeKeyRoute, roleMayGrant, whoamiRoute } from '@km/shared';
import { KeyDirectory } from '../keys/key-directory';
import type { KeyListingDoc } from '../keys/key-docs';
import { MemberDirectory } from '../members/member-directory';
import { oneOwnerChangeAtATime, ownersLeft } from '../members/owners-left';
import type { Caller } from '../ports';
import { routeHandler } from './route-handler';
import { serverEventAppender, type ChangeDeps } from './server-events';

const directoryOf = (deps: ChangeDeps, context: InvocationContext) => new KeyDirectory(deps.readModelStore, serverEventAppender(deps, context), deps.now, deps.newBatchId);

const view = ({ kind: _kind, ...key }: KeyListingDoc) => key;

/** The caller's rights over the org's keys (keyRights); none is a 403 that says who has them. */
function rightsOf(caller: Caller): 'all' | 'own' {
  const rights = keyRights(caller);
  if (rights === 'none') {
    throw new ApiError(403, `this key's role "${caller.role}" may not make, list or revoke API keys: an owner or admin does, or a member signed in to the dashboard with GitHub (their own keys; an API key makes none, so that a leaked one cannot outlive its revocation)`);
  }
  return rights;
}

/** Which keys the caller sees and revokes: a member's own, a project key's project's; null: all of the org's. */
function visibleKeys(caller: Caller, rights: 'all' | 'own'): ((key: KeyListingDoc) => boolean) | null {
  if (rights === 'own') return (key) => key.createdBy === caller.actor;
  return caller.projectId ? (key) => key.projectId === caller.projectId : null;
}

/** GET /api/whoami: what the credentials are, so `km login` saves the org the key belongs to and nothing else. */
export const makeWhoamiHandler = routeHandler(whoamiRoute, async (caller: Caller) => ({
  orgId: caller.orgId,
  role: caller.role,
  projectId: caller.projectId ?? null,
  actor: caller.actor,
}));

/** GET /api/keys */
export const makeQueryKeysHandler = routeHandler(keysRoute, async (caller, _input, deps: ChangeDeps, context) => {
  const visible = visibleKeys(caller, rightsOf(caller));
  const keys = await directoryOf(deps, context).list(caller.orgId);
  return { orgId: caller.orgId, keys: (visible ? keys.filter(visible) : keys).map(view) };
});

/**
 * POST /api/keys: a key of the caller's org; an admin hands out any role but owner, a project key only its project,
 * a member signed in with GitHub their own keys of role member or viewer.
 */
export const makeCreateKeyHandler = routeHandler(createKeyRoute, async (caller, { body }, deps: ChangeDeps, context) => {
  const rights = rightsOf(caller);
  if (!keyRoleMayMake(caller, body.role)) {
    const may = rights === 'own' ? 'a member makes keys of role member or viewer' : 'only an owner makes owners';
    throw new ApiError(403, `a caller with role "${caller.role}" cannot make a key with role "${body.role}": ${may}`);
  }
  if (caller.projectId && body.projectId !== caller.projectId) {
    throw new ApiError(403, `this key is scoped to project "${caller.projectId}": it makes keys of that project only (send "projectId": "${caller.projectId}")`);
  }
  const created = await directoryOf(deps, context).create({ orgId: caller.orgId, role: body.role, projectId: body.projectId, label: body.label, prefix: body.prefix, actor: caller.actor });
  return { orgId: caller.orgId, key: created.key, apiKey: view(created.listing) };
});

/**
 * POST /api/keys/{keyId}/revoke: as with making keys, only an owner revokes an owner's, and never the org's last
 * owner (ownersLeft says who counts): with none, nobody could make an owner again through the API.
 */
export const makeRevokeKeyHandler = routeHandler(revokeKeyRoute, async (caller, { keyId }, deps: ChangeDeps, context) =>
  oneOwnerChangeAtATime(deps.readModelStore, caller.orgId, async () => {
    const directory = directoryOf(deps, context);
    const visible = visibleKeys(caller, rightsOf(caller));
    const keys = await directory.list(caller.orgId);
    // By the id the directory revokes (a prefix or a whole key names it too), so no spelling passes the checks below.
    const id = keyIdOfReference(keyId);
    const target = keys.find((key) => key.keyId === id);
    if (visible && !(target && visible(target))) {
      throw new ApiError(403, caller.projectId ? `this key is scoped to project "${caller.projectId}": it revokes keys of that project only` : 'a member revokes the keys they made only: an owner or admin revokes the others');
    }
    if (target?.role === 'owner' && target.revokedAt === null) {
      if (!roleMayGrant(caller.role, 'owner')) throw new ApiError(403, `${target.keyId} is an owner key: only an owner revokes owner keys`);
      const members = new MemberDirectory(deps.readModelStore, serverEventAppender(deps, context), deps.now, deps.newBatchId);
      if ((await ownersLeft({ members, keys: directory }, caller.orgId, { keyId: target.keyId })) === 0) {
        throw new ApiError(409, `${target.keyId} is the org's last owner: make another owner key (km keys create --role owner) or invite an owner who signs in, then revoke it`);
      }
    }
    return view(await directory.revoke(caller.orgId, keyId, caller.actor));
  }, deps.now),
);
