import type { InvocationContext } from '@azure/functions';
import { ApiError, createKeyRoute, keyRoleMayMake, keysRoute, revokeKeyRoute, whoamiRoute } from '@km/shared';
import { KeyDirectory } from '../keys/key-directory';
import type { KeyListingDoc } from '../keys/key-docs';
import { MemberDirectory } from '../members/member-directory';
import { revokeKey, rightsOf, visibleKeys } from '../keys/revoke-key';
import type { Caller } from '../ports';
import { routeHandler } from './route-handler';
import { serverEventAppender, type ChangeDeps } from './server-events';

const directoryOf = (deps: ChangeDeps, context: InvocationContext) => new KeyDirectory(deps.readModelStore, serverEventAppender(deps, context), deps.now, deps.newBatchId);

const view = ({ kind: _kind, ...key }: KeyListingDoc) => key;

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

/** POST /api/keys/{keyId}/revoke: revokeKey's rules, for the caller. */
export const makeRevokeKeyHandler = routeHandler(revokeKeyRoute, async (caller, { keyId }, deps: ChangeDeps, context) => {
  const append = serverEventAppender(deps, context);
  const directories = { keys: directoryOf(deps, context), members: new MemberDirectory(deps.readModelStore, append, deps.now, deps.newBatchId), store: deps.readModelStore };
  return view(await revokeKey(directories, caller, keyId, deps.now));
});
