import type { InvocationContext } from '@azure/functions';
import { ApiError, createKeyRoute, keysRoute, revokeKeyRoute, roleMayGrant, whoamiRoute } from '@km/shared';
import { KeyDirectory } from '../keys/key-directory';
import type { KeyListingDoc } from '../keys/key-docs';
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
  const keys = await directoryOf(deps, context).list(caller.orgId);
  const visible = caller.projectId ? keys.filter((key) => key.projectId === caller.projectId) : keys;
  return { orgId: caller.orgId, keys: visible.map(view) };
});

/** POST /api/keys: a key of the caller's org; an admin hands out any role but owner, a project key only its project. */
export const makeCreateKeyHandler = routeHandler(createKeyRoute, async (caller, { body }, deps: ChangeDeps, context) => {
  if (!roleMayGrant(caller.role, body.role)) throw new ApiError(403, `a key with role "${caller.role}" cannot make a key with role "${body.role}": only an owner makes owners`);
  if (caller.projectId && body.projectId !== caller.projectId) {
    throw new ApiError(403, `this key is scoped to project "${caller.projectId}": it makes keys of that project only (send "projectId": "${caller.projectId}")`);
  }
  const created = await directoryOf(deps, context).create({ orgId: caller.orgId, role: body.role, projectId: body.projectId, label: body.label, prefix: body.prefix, actor: caller.actor });
  return { orgId: caller.orgId, key: created.key, apiKey: view(created.listing) };
});

/** POST /api/keys/{keyId}/revoke */
export const makeRevokeKeyHandler = routeHandler(revokeKeyRoute, async (caller, { keyId }, deps: ChangeDeps, context) => {
  const directory = directoryOf(deps, context);
  if (caller.projectId) {
    const own = (await directory.list(caller.orgId)).some((key) => key.projectId === caller.projectId && (key.keyId === keyId || key.prefix === keyId));
    if (!own) throw new ApiError(403, `this key is scoped to project "${caller.projectId}": it revokes keys of that project only`);
  }
  return view(await directory.revoke(caller.orgId, keyId, caller.actor));
});
