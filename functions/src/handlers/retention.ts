import { ApiError, retentionRoute, setRetentionRoute } from '@km/shared';
import { retentionOf, setRetention, type RetentionDoc } from '../retention/retention';
import { routeHandler } from './route-handler';
import { serverEventAppender, type ChangeDeps } from './server-events';

const view = (orgId: string, { kind: _kind, ...doc }: RetentionDoc) => ({ orgId, ...doc });

/** GET /api/retention */
export const makeQueryRetentionHandler = routeHandler(retentionRoute, async (caller, _input, deps: ChangeDeps) => view(caller.orgId, await retentionOf(deps.readModelStore, caller.orgId)));

/** PUT /api/retention: the next sweep (km serve: at start and every hour; Azure: the hourly retention-sweep timer) removes what is older. */
export const makeSetRetentionHandler = routeHandler(setRetentionRoute, async (caller, { body }, deps: ChangeDeps, context) => {
  if (caller.projectId) throw new ApiError(403, `this key is scoped to project "${caller.projectId}": retention is the org's, set it with a key of the org`);
  if (body.rawEventDays !== null && body.previewDays !== null && body.previewDays > body.rawEventDays) {
    throw new ApiError(400, `previewDays (${body.previewDays}) cannot be longer than rawEventDays (${body.rawEventDays}): previews go with their events`, { parameter: 'previewDays' });
  }
  const doc = await setRetention({ store: deps.readModelStore, append: serverEventAppender(deps, context), now: deps.now, newBatchId: deps.newBatchId }, caller.orgId, body, caller.actor);
  return view(caller.orgId, doc);
});
