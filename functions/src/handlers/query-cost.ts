import {
  addDays,
  budgetView,
  COST_GROUP_BYS,
  COST_MODEL,
  contextTax,
  costReport,
  costSummary,
  DEFAULT_MODEL,
  narrowBuckets,
  utcDay,
  type CostFilter,
  type BudgetDoc,
  type BudgetView,
  type ContextDoc,
  type CostBucketDoc,
  type CostGroupBy,
} from '@km/shared';
import type { Authenticator, ReadModelStore } from '../ports';
import { authenticateRequest } from './authenticate-request';
import { errorResponse, jsonResponse, withUnexpectedErrorsAs500, type HttpHandler } from './http-results';
import { nameParam, nameParams, refuseParams, type ParamResult } from './query-params';

export interface CostQueryDeps {
  readModelStore: ReadModelStore;
  authenticator: Authenticator;
  now: () => Date;
}

/** A range is read as day buckets, one store query per month; a year is plenty for a dashboard. */
export const MAX_RANGE_DAYS = 366;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

function dayParam(query: URLSearchParams, name: 'from' | 'to', fallback: string): ParamResult<string> {
  const raw = query.get(name);
  if (raw === null || raw === '') return { value: fallback };
  const day = DAY.test(raw) ? raw : /^\d{4}-\d{2}-\d{2}T[0-9:.]+Z$/.test(raw) ? raw.slice(0, 10) : null;
  if (day === null || Number.isNaN(Date.parse(`${day}T00:00:00Z`)) || utcDay(new Date(`${day}T00:00:00Z`)) !== day) {
    return { error: `${name} must be a UTC date like 2026-11-01 (or an ISO time ending in Z), got "${raw}"` };
  }
  return { value: day };
}

/**
 * The dashboard's project, user, server and tool filters as one cost filter. Cost is kept per dimension, not per
 * pair of them, so two filters at once (a project and a server, say) are refused rather than half applied; a tool
 * is kept per server, so a tool without a server matches that tool on every server.
 */
function costFilterParam(query: URLSearchParams): ParamResult<CostFilter | null> {
  const given = nameParams(query, ['projectId', 'userId', 'server', 'tool'] as const);
  if ('error' in given) return given;
  const { projectId, userId, server, tool } = given.value;
  const dimensions = [projectId, userId, server ?? tool].filter((value) => value !== undefined).length;
  if (dimensions > 1) return { error: 'give one of projectId, userId or server (with or without tool): spend is kept per project, per user and per server or tool, not per pair of them' };
  if (projectId !== undefined) return { value: { dimension: 'project', matches: (key) => key === projectId } };
  if (userId !== undefined) return { value: { dimension: 'user', matches: (key) => key === userId } };
  if (tool !== undefined) return { value: { dimension: 'tool', matches: server !== undefined ? (key) => key === `${server}/${tool}` : (key) => key.endsWith(`/${tool}`) } };
  if (server !== undefined) return { value: { dimension: 'server', matches: (key) => key === server } };
  return { value: null };
}

/** refuseParams as a 400 response; null when nothing is refused. */
function refusedParams(query: URLSearchParams, names: string[], why: string) {
  const refused = refuseParams(query, names, why);
  return 'error' in refused ? errorResponse(400, refused.error) : null;
}

/** The months a day range touches: '2026-10', '2026-11'. */
function monthsOf(from: string, to: string): string[] {
  const months: string[] = [];
  for (let month = from.slice(0, 7); month <= to.slice(0, 7); ) {
    months.push(month);
    const [y, m] = month.split('-').map(Number) as [number, number];
    month = m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
  }
  return months;
}

export async function dayBuckets(store: ReadModelStore, orgId: string, from: string, to: string): Promise<CostBucketDoc[]> {
  const buckets: CostBucketDoc[] = [];
  for (const month of monthsOf(from, to)) {
    const docs = await store.query<CostBucketDoc>(COST_MODEL, orgId, { where: { granularity: 'day', month }, orderBy: 'period', direction: 'asc' });
    buckets.push(...docs.filter((doc) => doc.day >= from && doc.day <= to));
  }
  return buckets;
}

/**
 * GET /api/cost?from=&to=&groupBy=&projectId|userId|server[&tool]: spend and tokens in a range of UTC days (both
 * ends included), grouped. With a filter, by day or by the filter's own dimension.
 */
export function makeQueryCostHandler(deps: CostQueryDeps): HttpHandler {
  return withUnexpectedErrorsAs500(async (request) => {
    const auth = await authenticateRequest(deps.authenticator, request);
    if ('response' in auth) return auth.response;
    const today = utcDay(deps.now());
    const to = dayParam(request.query, 'to', today);
    if ('error' in to) return errorResponse(400, to.error);
    const from = dayParam(request.query, 'from', `${to.value.slice(0, 7)}-01`);
    if ('error' in from) return errorResponse(400, from.error);
    if (from.value > to.value) return errorResponse(400, `from (${from.value}) is after to (${to.value}): swap them`);
    if (addDays(from.value, MAX_RANGE_DAYS - 1) < to.value) return errorResponse(400, `a range covers at most ${MAX_RANGE_DAYS} days: narrow from/to`);
    const groupBy = (request.query.get('groupBy') ?? 'day') as CostGroupBy;
    if (!COST_GROUP_BYS.includes(groupBy)) return errorResponse(400, `groupBy must be one of ${COST_GROUP_BYS.join(', ')}, got "${groupBy}"`);
    const filter = costFilterParam(request.query);
    if ('error' in filter) return errorResponse(400, filter.error);
    if (filter.value && groupBy !== 'day' && groupBy !== filter.value.dimension) {
      return errorResponse(400, `with a ${filter.value.dimension} filter, group by day or ${filter.value.dimension}: spend is not kept per ${filter.value.dimension} and ${groupBy} together`);
    }

    const buckets = await dayBuckets(deps.readModelStore, auth.caller.orgId, from.value, to.value);
    return jsonResponse(200, costReport(filter.value ? narrowBuckets(buckets, filter.value) : buckets, { from: from.value, to: to.value }, groupBy));
  });
}

/**
 * GET /api/cost/summary?projectId|userId|server[&tool]: today, yesterday, month to date, the month-end forecast, and
 * the last 30 days; its periods are fixed, so from/to are refused.
 */
export function makeQueryCostSummaryHandler(deps: CostQueryDeps): HttpHandler {
  return withUnexpectedErrorsAs500(async (request) => {
    const auth = await authenticateRequest(deps.authenticator, request);
    if ('response' in auth) return auth.response;
    const refused = refusedParams(request.query, ['from', 'to'], 'the summary covers today, yesterday, this month and the last 30 days; use GET /api/cost for a range');
    if (refused) return refused;
    const filter = costFilterParam(request.query);
    if ('error' in filter) return errorResponse(400, filter.error);
    const now = deps.now();
    const today = utcDay(now);
    const from = [addDays(today, -29), `${today.slice(0, 7)}-01`].sort()[0]!;
    const buckets = await dayBuckets(deps.readModelStore, auth.caller.orgId, from, today);
    return jsonResponse(200, costSummary(filter.value ? narrowBuckets(buckets, filter.value) : buckets, now));
  });
}

/** GET /api/cost/context-tax?server: what each server's tool definitions cost every session that lists them. */
export function makeQueryContextTaxHandler(deps: CostQueryDeps): HttpHandler {
  return withUnexpectedErrorsAs500(async (request) => {
    const auth = await authenticateRequest(deps.authenticator, request);
    if ('response' in auth) return auth.response;
    const refused = refusedParams(request.query, ['from', 'to', 'projectId', 'userId', 'tool'], "a server's tool definitions are kept as last listed, per server only");
    if (refused) return refused;
    const server = nameParam(request.query.get('server'), 'server');
    if ('error' in server) return errorResponse(400, server.error);
    const all = await deps.readModelStore.query<ContextDoc>(COST_MODEL, auth.caller.orgId, { where: { kind: 'context' } });
    const docs = server.value === undefined ? all : all.filter((doc) => doc.server === server.value);
    return jsonResponse(200, contextTax(docs, DEFAULT_MODEL));
  });
}

/**
 * GET /api/budgets?projectId: every budget of the caller's org with this month's spend, forecast and thresholds
 * crossed; with projectId, the org's budget and that project's.
 */
export function makeQueryBudgetsHandler(deps: CostQueryDeps): HttpHandler {
  return withUnexpectedErrorsAs500(async (request) => {
    const auth = await authenticateRequest(deps.authenticator, request);
    if ('response' in auth) return auth.response;
    const refused = refusedParams(request.query, ['userId', 'server', 'tool'], 'budgets are set per org and per project');
    if (refused) return refused;
    const projectId = nameParam(request.query.get('projectId'), 'projectId');
    if ('error' in projectId) return errorResponse(400, projectId.error);
    const now = deps.now();
    const all = await deps.readModelStore.query<BudgetDoc>(COST_MODEL, auth.caller.orgId, { where: { kind: 'budget' } });
    const docs = projectId.value === undefined ? all : all.filter((doc) => doc.scope === 'org' || doc.projectId === projectId.value);
    const budgets = docs
      .map((doc) => budgetView(doc, now))
      .filter((view): view is BudgetView => view !== null)
      .sort((a, b) => (a.scope === b.scope ? ((a.projectId ?? '') < (b.projectId ?? '') ? -1 : 1) : a.scope === 'org' ? -1 : 1));
    return jsonResponse(200, { budgets });
  });
}
