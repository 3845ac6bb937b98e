import { firstRunRoute, firstRunView, funnelProjection, funnelRoute, funnelView, FUNNEL_DOC_ID, landingViewRoute, newEventId, type FunnelDoc, type LandingViewed } from '@km/shared';
import type { ReadModelStore } from '../ports';
import { routeHandler } from './route-handler';
import { appendServerEvents, type ChangeDeps } from './server-events';

export interface FunnelDeps extends ChangeDeps {
  /** The org whose funnel counts the landing page's views (km serve: local); none: the beacon records nothing. */
  funnelOrgId?: string;
}

const funnelOf = async (store: ReadModelStore, orgId: string) => (await store.get<FunnelDoc>(funnelProjection.name, orgId, FUNNEL_DOC_ID))?.doc ?? null;

/** GET /api/first-run: what the first-run page waits for, read from the funnel document (one read, every poll). */
export const makeQueryFirstRunHandler = routeHandler(firstRunRoute, async (caller, _input, deps: FunnelDeps) => firstRunView(caller.orgId, await funnelOf(deps.readModelStore, caller.orgId)));

/** GET /api/funnel: owners and admins. */
export const makeQueryFunnelHandler = routeHandler(funnelRoute, async (caller, _input, deps: FunnelDeps) => funnelView(caller.orgId, await funnelOf(deps.readModelStore, caller.orgId)));

/**
 * POST /api/funnel/landing-view: the landing page's beacon. Anonymous (the route handler hands it the operator's
 * org, whoever asks): a funnel.landing_viewed event with the server's time and nothing of the visitor.
 */
export const makeLandingViewHandler = routeHandler(landingViewRoute, async (caller, _input, deps: FunnelDeps, context) => {
  if (!caller.orgId) return { recorded: false };
  const now = deps.now();
  const event: LandingViewed = { id: newEventId(now.getTime()), v: 1, type: 'funnel.landing_viewed', ts: now.toISOString(), orgId: caller.orgId };
  await appendServerEvents(deps, [{ ...event, receivedAt: event.ts, batchId: deps.newBatchId() }], context);
  return { recorded: true };
});
