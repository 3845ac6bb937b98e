import type { HttpMethod } from '@azure/functions';
import type { StoredEvent } from '@km/shared';
import type { Authenticator, EventLog, ReadModelStore } from './ports';
import type { HttpHandler } from './handlers/http-results';
import { requireJsonContentType } from './handlers/json-content-type';
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
  /** risk monitor: the optional high-severity webhook */
  onEventsAccepted?: (events: readonly StoredEvent[]) => void;
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
 * Every HTTP Function, in ONE place: the embedded host serves exactly these, and each file in functions/ registers
 * one of them with app.http. A route added here is live in both run modes.
 */
const routeTable = [
  { name: 'ingest', methods: ['POST'], route: 'ingest', jsonBody: true, makeHandler: makeIngestHandler },
  { name: 'query-sessions', methods: ['GET'], route: 'sessions', makeHandler: makeQuerySessionsHandler },
  { name: 'query-session', methods: ['GET'], route: 'sessions/{id}', makeHandler: makeQuerySessionHandler },
  {
    name: 'query-session-interactions',
    methods: ['GET'],
    route: 'sessions/{id}/interactions',
    makeHandler: makeQuerySessionInteractionsHandler,
  },
  // Cost Center (#3)
  { name: 'query-cost', methods: ['GET'], route: 'cost', makeHandler: makeQueryCostHandler },
  { name: 'query-cost-summary', methods: ['GET'], route: 'cost/summary', makeHandler: makeQueryCostSummaryHandler },
  { name: 'query-cost-context-tax', methods: ['GET'], route: 'cost/context-tax', makeHandler: makeQueryContextTaxHandler },
  { name: 'query-budgets', methods: ['GET'], route: 'budgets', makeHandler: makeQueryBudgetsHandler },
  { name: 'set-budget-org', methods: ['PUT'], route: 'budgets/org', jsonBody: true, makeHandler: makeSetBudgetHandler('org') },
  {
    name: 'set-budget-project',
    methods: ['PUT'],
    route: 'budgets/project/{projectId}',
    jsonBody: true,
    makeHandler: makeSetBudgetHandler('project'),
  },
  // Performance Hub (#5)
  { name: 'query-latency', methods: ['GET'], route: 'latency', makeHandler: makeQueryLatencyHandler },
  { name: 'query-latency-timeseries', methods: ['GET'], route: 'latency/timeseries', makeHandler: makeQueryLatencyTimeseriesHandler },
  { name: 'query-latency-slowest', methods: ['GET'], route: 'latency/slowest', makeHandler: makeQueryLatencySlowestHandler },
  { name: 'query-latency-bottlenecks', methods: ['GET'], route: 'latency/bottlenecks', makeHandler: makeQueryLatencyBottlenecksHandler },
  { name: 'query-recent-interactions', methods: ['GET'], route: 'interactions/recent', makeHandler: makeQueryRecentInteractionsHandler },
  // risk monitor
  { name: 'query-risk-findings', methods: ['GET'], route: 'risk/findings', makeHandler: makeQueryRiskFindingsHandler },
  { name: 'query-risk-summary', methods: ['GET'], route: 'risk/summary', makeHandler: makeQueryRiskSummaryHandler },
  { name: 'risk-finding-ack', methods: ['POST'], route: 'risk/findings/{id}/ack', makeHandler: makeAckRiskFindingHandler },
  { name: 'risk-finding-resolve', methods: ['POST'], route: 'risk/findings/{id}/resolve', makeHandler: makeResolveRiskFindingHandler },
] as const satisfies readonly HttpRouteSpec[];

export type HttpRouteName = (typeof routeTable)[number]['name'];

/** The rules every route shares, applied here once so the embedded host and the Azure registrations both get them. */
function withRouteRules(spec: HttpRouteSpec): HttpRouteSpec {
  if (!spec.jsonBody) return spec;
  return { ...spec, makeHandler: (deps) => requireJsonContentType(spec.makeHandler(deps)) };
}

export const httpRouteSpecs: readonly HttpRouteSpec[] = routeTable.map((spec) => withRouteRules({ ...spec, methods: [...spec.methods] }));

export function httpRouteSpec(name: HttpRouteName): HttpRouteSpec {
  const spec = httpRouteSpecs.find((candidate) => candidate.name === name);
  if (!spec) throw new Error(`no HTTP route named ${name}`);
  return { ...spec, methods: [...spec.methods] };
}

export function httpRoutes(deps: HttpDeps): HttpRoute[] {
  return httpRouteSpecs.map(({ makeHandler, ...spec }) => ({ ...spec, methods: [...spec.methods], handler: makeHandler(deps) }));
}
