import type { InvocationContext } from '@azure/functions';
import { ApiError, setTeamRoute, teamsRoute } from '@km/shared';
import { TeamDirectory, type TeamDoc } from '../teams/team-directory';
import { routeHandler } from './route-handler';
import { serverEventAppender, type ChangeDeps } from './server-events';

const directoryOf = (deps: ChangeDeps, context: InvocationContext) => new TeamDirectory(deps.readModelStore, serverEventAppender(deps, context), deps.now, deps.newBatchId);

const view = ({ kind: _kind, ...team }: TeamDoc) => team;

/** GET /api/teams */
export const makeQueryTeamsHandler = routeHandler(teamsRoute, async (caller, _input, deps: ChangeDeps, context) => ({
  orgId: caller.orgId,
  teams: (await directoryOf(deps, context).list(caller.orgId)).map(view),
}));

/** PUT /api/teams/{teamId} */
export const makeSetTeamHandler = routeHandler(setTeamRoute, async (caller, { teamId, body }, deps: ChangeDeps, context) => {
  if (caller.projectId) throw new ApiError(403, `this key is scoped to project "${caller.projectId}": teams are the org's, set them with a key of the org`);
  return view(await directoryOf(deps, context).set(caller.orgId, teamId, body.name, body.userIds, caller.actor));
});
