import type { InvocationContext } from '@azure/functions';
import { ApiError, inviteMemberRoute, membersRoute, removeMemberRoute } from '@km/shared';
import { KeyDirectory } from '../keys/key-directory';
import { MemberDirectory, type MemberDoc } from '../members/member-directory';
import { inviteMember } from '../members/invite-member';
import { removeMember } from '../members/remove-member';
import { TeamDirectory } from '../teams/team-directory';
import { routeHandler } from './route-handler';
import { serverEventAppender, type ChangeDeps } from './server-events';

const directoryOf = (deps: ChangeDeps, context: InvocationContext) => new MemberDirectory(deps.readModelStore, serverEventAppender(deps, context), deps.now, deps.newBatchId);

const view = ({ kind: _kind, ...member }: MemberDoc & { keysAbove?: string[]; keysRevoked?: string[] }) => member;

/** GET /api/members */
export const makeQueryMembersHandler = routeHandler(membersRoute, async (caller, _input, deps: ChangeDeps, context) => ({
  orgId: caller.orgId,
  members: (await directoryOf(deps, context).list(caller.orgId)).map(view),
}));

/** POST /api/members: an invitation; a project key manages its project's keys, not the org's members. */
export const makeInviteMemberHandler = routeHandler(inviteMemberRoute, async (caller, { body, revokeKeys }, deps: ChangeDeps, context) => {
  if (caller.projectId) throw new ApiError(403, `this key is scoped to project "${caller.projectId}": members are the org's, invite them with a key of the org`);
  const append = serverEventAppender(deps, context);
  const directories = {
    members: new MemberDirectory(deps.readModelStore, append, deps.now, deps.newBatchId),
    keys: new KeyDirectory(deps.readModelStore, append, deps.now, deps.newBatchId),
    store: deps.readModelStore,
  };
  return view(await inviteMember(directories, caller, body.login, body.role, { revokeKeys, now: deps.now }));
});

/** POST /api/members/{login}/remove: a project key manages its project's keys, not the org's members. */
export const makeRemoveMemberHandler = routeHandler(removeMemberRoute, async (caller, { login, revokeKeys }, deps: ChangeDeps, context) => {
  if (caller.projectId) throw new ApiError(403, `this key is scoped to project "${caller.projectId}": members are the org's, remove them with a key of the org`);
  const append = serverEventAppender(deps, context);
  const directories = {
    members: new MemberDirectory(deps.readModelStore, append, deps.now, deps.newBatchId),
    teams: new TeamDirectory(deps.readModelStore, append, deps.now, deps.newBatchId),
    keys: new KeyDirectory(deps.readModelStore, append, deps.now, deps.newBatchId),
    store: deps.readModelStore,
  };
  return removeMember(directories, caller, login, { revokeKeys, now: deps.now });
});
