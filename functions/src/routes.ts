import type { HttpMethod } from '@azure/functions';
import {
  ackFindingRoute,
  budgetsRoute,
  contextTaxRoute,
  costRoute,
  costSummaryRoute,
  ingestRoute,
  openApiRoute,
  whoamiRoute,
  keysRoute,
  createKeyRoute,
  revokeKeyRoute,
  membersRoute,
  inviteMemberRoute,
  removeMemberRoute,
  teamsRoute,
  setTeamRoute,
  auditRoute,
  auditKeyRoute,
  retentionRoute,
  setRetentionRoute,
  latencyBottlenecksRoute,
  latencyRoute,
  latencySlowestRoute,
  latencyTimeseriesRoute,
  recentInteractionsRoute,
  resolveFindingRoute,
  riskFindingsRoute,
  riskSummaryRoute,
  sessionInteractionsRoute,
  sessionRoute,
  sessionsRoute,
  setOrgBudgetRoute,
  setProjectBudgetRoute,
  firstRunRoute,
  funnelRoute,
  landingViewRoute,
  setTeamBudgetRoute,
  type ApiRoute,
  type ApiRouteName,
  type StoredEvent,
} from '@km/shared';
import type { Authenticator, EventLog, OrgEventArchive, ReadModelStore } from './ports';
import type { HttpHandler } from './handlers/http-results';
import { requireJsonContentType } from './handlers/json-content-type';
import type { RateLimiter } from './handlers/rate-limit';
import { makeIngestHandler } from './handlers/ingest';
import { makeQuerySessionHandler } from './handlers/query-session';
import { makeQuerySessionInteractionsHandler } from './handlers/query-session-interactions';
import { makeQuerySessionsHandler } from './handlers/query-sessions';
// Cost Center (#3)
import { makeQueryBudgetsHandler, makeQueryContextTaxHandler, makeQueryCostHandler, makeQueryCostSummaryHandler } from './handlers/query-cost';
import { makeSetBudgetHandler } from './handlers/set-budget';
// Performance Hub (#5)
import { makeQueryLatencyHandler } from './handlers/query-latency';
import { makeQueryLatencyBottlenecksHandler } from './handlers/query-latency-bottlenecks';
import { makeQueryLatencySlowestHandler } from './handlers/query-latency-slowest';
import { makeQueryLatencyTimeseriesHandler } from './handlers/query-latency-timeseries';
import { makeQueryRecentInteractionsHandler } from './handlers/query-recent-interactions';
import { makeQueryOpenApiHandler } from './handlers/query-openapi';
import { makeInviteMemberHandler, makeQueryMembersHandler, makeRemoveMemberHandler } from './handlers/members';
import { makeQueryTeamsHandler, makeSetTeamHandler } from './handlers/teams';
import { makeAuditHandler, makeAuditKeyHandler } from './handlers/audit';
import { makeQueryRetentionHandler, makeSetRetentionHandler } from './handlers/retention';
import type { AuditSigner } from './audit/audit-chain';
import { makeLandingViewHandler, makeQueryFirstRunHandler, makeQueryFunnelHandler } from './handlers/funnel';
import { makeCreateKeyHandler, makeQueryKeysHandler, makeRevokeKeyHandler, makeWhoamiHandler } from './handlers/keys';
import { makeAckRiskFindingHandler, makeQueryRiskFindingsHandler, makeQueryRiskSummaryHandler, makeResolveRiskFindingHandler } from './handlers/risk';

/** Everything the HTTP Functions need, built once per process by the embedded host or by cloud-ports. */
export interface HttpDeps {
  eventLog: EventLog;
  readModelStore: ReadModelStore;
  authenticator: Authenticator;
  now: () => Date;
  newBatchId: () => string;
  maxBodyBytes?: number;
  onEventsAppended?: () => void;
  /** Signs the head of an audit export (GET /api/audit); none: the export is refused. */
  auditSigner?: AuditSigner;
  /** Why there is no audit signer (a setting missing or unreadable), for the 501. */
  auditSignerProblem?: string;
  /** The org's events read back in log order, for the audit chain: the embedded log by org, or the cloud's archive. */
  orgEvents?: OrgEventArchive;
  /** Requests per key (429 with Retry-After past it); none: no limit. */
  rateLimiter?: RateLimiter;
  /** risk monitor: the optional high-severity webhook */
  onEventsAccepted?: (events: readonly StoredEvent[]) => void;
  /** The org whose funnel counts the landing page's views (km serve: local; Azure: KM_FUNNEL_ORG); none: not counted. */
  funnelOrgId?: string;
}

export interface HttpRouteSpec {
  /** The Function's name in Azure. */
  name: string;
  methods: HttpMethod[];
  /** Azure route template, below the `/api/` prefix: `sessions/{id}/interactions`. */
  route: string;
  /** The route reads a JSON body: a request with another Content-Type is a 415 before the handler runs. */
  jsonBody?: boolean;
  makeHandler(deps: HttpDeps): HttpHandler;
}

export interface HttpRoute extends Omit<HttpRouteSpec, 'makeHandler'> {
  handler: HttpHandler;
}

/**
 * Every HTTP Function's handler, by its route's declaration in shared/src/api (name, method, path and whether it
 * reads a JSON body come from there): the embedded host serves exactly these, and functions/http.ts registers each
 * with app.http. A route declared in the contract without a handler here fails the contract test.
 */
const routeTable = [
  { contract: ingestRoute, makeHandler: makeIngestHandler },
  { contract: sessionsRoute, makeHandler: makeQuerySessionsHandler },
  { contract: sessionRoute, makeHandler: makeQuerySessionHandler },
  { contract: sessionInteractionsRoute, makeHandler: makeQuerySessionInteractionsHandler },
  // Cost Center (#3)
  { contract: costRoute, makeHandler: makeQueryCostHandler },
  { contract: costSummaryRoute, makeHandler: makeQueryCostSummaryHandler },
  { contract: contextTaxRoute, makeHandler: makeQueryContextTaxHandler },
  { contract: budgetsRoute, makeHandler: makeQueryBudgetsHandler },
  { contract: setOrgBudgetRoute, makeHandler: makeSetBudgetHandler('org') },
  { contract: setProjectBudgetRoute, makeHandler: makeSetBudgetHandler('project') },
  { contract: setTeamBudgetRoute, makeHandler: makeSetBudgetHandler('team') },
  // Performance Hub (#5)
  { contract: latencyRoute, makeHandler: makeQueryLatencyHandler },
  { contract: latencyTimeseriesRoute, makeHandler: makeQueryLatencyTimeseriesHandler },
  { contract: latencySlowestRoute, makeHandler: makeQueryLatencySlowestHandler },
  { contract: latencyBottlenecksRoute, makeHandler: makeQueryLatencyBottlenecksHandler },
  { contract: recentInteractionsRoute, makeHandler: makeQueryRecentInteractionsHandler },
  // risk monitor
  { contract: riskFindingsRoute, makeHandler: makeQueryRiskFindingsHandler },
  { contract: riskSummaryRoute, makeHandler: makeQueryRiskSummaryHandler },
  { contract: ackFindingRoute, makeHandler: makeAckRiskFindingHandler },
  { contract: resolveFindingRoute, makeHandler: makeResolveRiskFindingHandler },
  // Teams and compliance (#14)
  { contract: whoamiRoute, makeHandler: makeWhoamiHandler },
  { contract: keysRoute, makeHandler: makeQueryKeysHandler },
  { contract: createKeyRoute, makeHandler: makeCreateKeyHandler },
  { contract: revokeKeyRoute, makeHandler: makeRevokeKeyHandler },
  { contract: membersRoute, makeHandler: makeQueryMembersHandler },
  { contract: inviteMemberRoute, makeHandler: makeInviteMemberHandler },
  { contract: removeMemberRoute, makeHandler: makeRemoveMemberHandler },
  { contract: teamsRoute, makeHandler: makeQueryTeamsHandler },
  { contract: setTeamRoute, makeHandler: makeSetTeamHandler },
  { contract: retentionRoute, makeHandler: makeQueryRetentionHandler },
  { contract: setRetentionRoute, makeHandler: makeSetRetentionHandler },
  { contract: auditRoute, makeHandler: makeAuditHandler },
  { contract: auditKeyRoute, makeHandler: makeAuditKeyHandler },
  // The guided first run and the funnel (issue 15)
  { contract: firstRunRoute, makeHandler: makeQueryFirstRunHandler },
  { contract: funnelRoute, makeHandler: makeQueryFunnelHandler },
  { contract: landingViewRoute, makeHandler: makeLandingViewHandler },
  { contract: openApiRoute, makeHandler: makeQueryOpenApiHandler },
] as const satisfies ReadonlyArray<{ contract: ApiRoute; makeHandler: (deps: HttpDeps) => HttpHandler }>;

export type HttpRouteName = ApiRouteName;

/** The rules every route shares, applied here once so the embedded host and the Azure registrations both get them. */
function withRouteRules(spec: HttpRouteSpec): HttpRouteSpec {
  if (!spec.jsonBody) return spec;
  return { ...spec, makeHandler: (deps) => requireJsonContentType(spec.makeHandler(deps)) };
}

export const httpRouteSpecs: readonly HttpRouteSpec[] = routeTable.map(({ contract, makeHandler }) =>
  withRouteRules({ name: contract.name, methods: [contract.method], route: contract.path, ...('body' in contract ? { jsonBody: true } : {}), makeHandler }),
);

export function httpRouteSpec(name: HttpRouteName): HttpRouteSpec {
  const spec = httpRouteSpecs.find((candidate) => candidate.name === name);
  if (!spec) throw new Error(`no HTTP route named ${name}`);
  return { ...spec, methods: [...spec.methods] };
}

export function httpRoutes(deps: HttpDeps): HttpRoute[] {
  return httpRouteSpecs.map(({ makeHandler, ...spec }) => ({ ...spec, methods: [...spec.methods], handler: makeHandler(deps) }));
}
