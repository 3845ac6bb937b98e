import {
  addDays,
  budgetView,
  COST_GROUP_BYS,
  COST_MODEL,
  contextTax,
  costReport,
  costSummary,
  DEFAULT_MODEL,
  utcDay,
  type BudgetDoc,
  type BudgetView,
  type ContextDoc,
  type CostBucketDoc,
  type CostGroupBy,
} from '@km/shared';
import type { Authenticator, ReadModelStore } from '../ports';
import { authenticateRequest } from './authenticate-request';
import { errorResponse, jsonResponse, withUnexpectedErrorsAs500, type HttpHandler } from './http-results';
import type { ParamResult } from './query-params';

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

/** GET /api/cost?from=&to=&groupBy=: spend and tokens in a range of UTC days (both ends included), grouped. */
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

    const buckets = await dayBuckets(deps.readModelStore, auth.caller.orgId, from.value, to.value);
    return jsonResponse(200, costReport(buckets, { from: from.value, to: to.value }, groupBy));
  });
}

/** GET /api/cost/summary: today, yesterday, month to date, the month-end forecast, and the last 30 days. */
export function makeQueryCostSummaryHandler(deps: CostQueryDeps): HttpHandler {
  return withUnexpectedErrorsAs500(async (request) => {
    const auth = await authenticateRequest(deps.authenticator, request);
    if ('response' in auth) return auth.response;
    const now = deps.now();
    const today = utcDay(now);
    const from = [addDays(today, -29), `${today.slice(0, 7)}-01`].sort()[0]!;
    const buckets = await dayBuckets(deps.readModelStore, auth.caller.orgId, from, today);
    return jsonResponse(200, costSummary(buckets, now));
  });
}

/** GET /api/cost/context-tax: what each server's tool definitions cost every session that lists them. */
export function makeQueryContextTaxHandler(deps: CostQueryDeps): HttpHandler {
  return withUnexpectedErrorsAs500(async (request) => {
    const auth = await authenticateRequest(deps.authenticator, request);
    if ('response' in auth) return auth.response;
    const docs = await deps.readModelStore.query<ContextDoc>(COST_MODEL, auth.caller.orgId, { where: { kind: 'context' } });
    return jsonResponse(200, contextTax(docs, DEFAULT_MODEL));
  });
}

/** GET /api/budgets: every budget of the caller's org with this month's spend, forecast and thresholds crossed. */
export function makeQueryBudgetsHandler(deps: CostQueryDeps): HttpHandler {
  return withUnexpectedErrorsAs500(async (request) => {
    const auth = await authenticateRequest(deps.authenticator, request);
    if ('response' in auth) return auth.response;
    const now = deps.now();
    const docs = await deps.readModelStore.query<BudgetDoc>(COST_MODEL, auth.caller.orgId, { where: { kind: 'budget' } });
    const budgets = docs
      .map((doc) => budgetView(doc, now))
      .filter((view): view is BudgetView => view !== null)
      .sort((a, b) => (a.scope === b.scope ? ((a.projectId ?? '') < (b.projectId ?? '') ? -1 : 1) : a.scope === 'org' ? -1 : 1));
    return jsonResponse(200, { budgets });
  });
}
