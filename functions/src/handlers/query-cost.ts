import {
  budgetView,
  budgetsRoute,
  COST_MODEL,
  COST_RANGE_MAX_DAYS,
  contextTax,
  contextTaxRoute,
  costFilterDimension,
  costReport,
  costRoute,
  costSummary,
  costSummaryRoute,
  dayRange,
  dayRangeBuckets,
  type DayRange,
  DEFAULT_MODEL,
  narrowBuckets,
  mayMissSpend,
  dayFromHours,
  toolGroupKey,
  toolOnAnyServer,
  withToolKeys,
  addDays,
  utcDay,
  type CostFilter,
  budgetDocs,
  type BudgetDoc,
  type BudgetView,
  type ContextDoc,
  type CostBucketDoc,
} from '@km/shared';
import type { Authenticator, ReadModelStore } from '../ports';
import { routeHandler } from './route-handler';
import { teamUsers } from '../teams/team-directory';

export interface CostQueryDeps {
  readModelStore: ReadModelStore;
  authenticator: Authenticator;
  now: () => Date;
}

/** The filter the route's parameters name (the contract allows one at most), as the dimension and keys it keeps. */
function costFilter(filters: { projectId?: string | undefined; userId?: string | undefined; server?: string | undefined; tool?: string | undefined }): CostFilter | null {
  const { projectId, userId, server, tool } = filters;
  switch (costFilterDimension(filters)) {
    case 'project':
      return { dimension: 'project', matches: (key) => key === projectId, keys: [projectId!] };
    case 'user':
      return { dimension: 'user', matches: (key) => key === userId, keys: [userId!] };
    case 'tool':
      return server !== undefined ? { dimension: 'tool', matches: (key) => key === toolGroupKey(server, tool!), keys: [toolGroupKey(server, tool!)] } : { dimension: 'tool', matches: toolOnAnyServer(tool!) };
    case 'server':
      return { dimension: 'server', matches: (key) => key === server, keys: [server!] };
    case null:
      return null;
  }
}

/** The route's filter; a team's is its users' spend (a team the org does not have is a 404). */
async function filterOf(store: ReadModelStore, orgId: string, params: Parameters<typeof costFilter>[0] & { teamId?: string | undefined }): Promise<CostFilter | null> {
  if (params.teamId === undefined) return costFilter(params);
  const users = await teamUsers(store, orgId, params.teamId);
  return { dimension: 'user', matches: (key) => users.has(key), keys: [...users] };
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
    // Buckets not rewritten since tool keys were escaped are read with them (withToolKeys).
    for (const doc of docs) if (doc.day >= from && doc.day <= to) buckets.push(withToolKeys(doc));
  }
  return buckets;
}

/**
 * The day buckets a filter reads: a day whose filtered dimension overflowed (more keys than a bucket keeps) has its
 * groups of that dimension summed from its hours, so a key summed under OTHER_KEY in the day still answers for itself.
 * complete: false when a bucket read, or an hour a day was summed from, may hold some of the filter's spend under
 * OTHER_KEY (mayMissSpend): the answer says so, where it used to read low with nothing to tell.
 */
async function filtered(store: ReadModelStore, orgId: string, buckets: CostBucketDoc[], filter: CostFilter | null): Promise<{ buckets: CostBucketDoc[]; complete: boolean }> {
  if (!filter) return { buckets, complete: true };
  let complete = true;
  const read = await Promise.all(
    buckets.map(async (bucket) => {
      if (!mayMissSpend(bucket, filter)) return bucket;
      if (bucket.granularity !== 'day') {
        complete = false;
        return bucket;
      }
      const hours = await hourBuckets(store, orgId, { from: `${bucket.day}T00`, to: `${bucket.day}T23` });
      const day = dayFromHours(bucket, hours, filter.dimension);
      // The day as it was (its hours do not hold all its calls), or summed from hours of which one may miss spend.
      if (day === bucket || hours.some((hour) => hour.day === bucket.day && mayMissSpend(hour, filter))) complete = false;
      return day;
    }),
  );
  return { buckets: narrowBuckets(read, filter), complete };
}

/** The buckets of a range: its whole days' day buckets, and the hour buckets of an end given as a time. */
async function rangeBuckets(store: ReadModelStore, orgId: string, range: DayRange): Promise<CostBucketDoc[]> {
  const { days, hourRuns } = dayRangeBuckets(range);
  const hours = await Promise.all(hourRuns.map((run) => hourBuckets(store, orgId, run)));
  return [...(await dayBuckets(store, orgId, range.from, range.to)).filter((bucket) => days(bucket.day)), ...hours.flat()];
}

/** The hour buckets from one hour period to another of the same day (2026-11-25T13, both included). */
async function hourBuckets(store: ReadModelStore, orgId: string, run: { from: string; to: string }): Promise<CostBucketDoc[]> {
  const docs = await store.query<CostBucketDoc>(COST_MODEL, orgId, { where: { granularity: 'hour', month: run.from.slice(0, 7) }, orderBy: 'period', direction: 'asc', between: run });
  return docs.map(withToolKeys);
}

/** The range as the answer states it: days as they were given, an end given as a time widened to its whole hour. */
const answeredRange = (range: DayRange) => ({
  from: range.fromHourMs === null ? range.from : new Date(range.fromHourMs).toISOString(),
  to: range.toHourMs === null ? range.to : new Date(range.toHourMs + 3_600_000).toISOString(),
});

/**
 * GET /api/cost?from=&to=&groupBy=&projectId|userId|server[&tool]: spend and tokens in a range of UTC days (both
 * ends included), grouped. With a filter, by day or by the filter's own dimension.
 */
export const makeQueryCostHandler = routeHandler(costRoute, async (caller, params, deps: CostQueryDeps) => {
  const range = dayRange(params, deps.now(), COST_RANGE_MAX_DAYS);
  const filter = await filterOf(deps.readModelStore, caller.orgId, params);
  const { buckets, complete } = await filtered(deps.readModelStore, caller.orgId, await rangeBuckets(deps.readModelStore, caller.orgId, range), filter);
  return { ...costReport(buckets, answeredRange(range), params.groupBy), complete };
});

/**
 * GET /api/cost/summary?projectId|userId|server[&tool]: today, yesterday, month to date, the month-end forecast, and
 * the last 30 days; its periods are fixed, so from/to are refused.
 */
export const makeQueryCostSummaryHandler = routeHandler(costSummaryRoute, async (caller, params, deps: CostQueryDeps) => {
  const filter = await filterOf(deps.readModelStore, caller.orgId, params);
  const now = deps.now();
  const today = utcDay(now);
  const from = [addDays(today, -29), `${today.slice(0, 7)}-01`].sort()[0]!;
  const { buckets, complete } = await filtered(deps.readModelStore, caller.orgId, await dayBuckets(deps.readModelStore, caller.orgId, from, today), filter);
  return { ...costSummary(buckets, now), complete };
});

/** GET /api/cost/context-tax?server: what each server's tool definitions cost every session that lists them. */
export const makeQueryContextTaxHandler = routeHandler(contextTaxRoute, async (caller, { server }, deps: CostQueryDeps) => {
  const all = await deps.readModelStore.query<ContextDoc>(COST_MODEL, caller.orgId, { where: { kind: 'context' } });
  return contextTax(server === undefined ? all : all.filter((doc) => doc.server === server), DEFAULT_MODEL);
});

const SCOPE_ORDER = { org: 0, project: 1, team: 2 } as const;

/**
 * GET /api/budgets?projectId|teamId: every budget of the caller's org with this month's spend, forecast and
 * thresholds crossed; with projectId or teamId, the org's budget and that project's or team's.
 */
export const makeQueryBudgetsHandler = routeHandler(budgetsRoute, async (caller, { projectId, teamId }, deps: CostQueryDeps) => {
  const now = deps.now();
  if (teamId !== undefined) await teamUsers(deps.readModelStore, caller.orgId, teamId);
  // The org's document holds its projects' and teams' budgets (older stores also have a document per project): one per scope.
  const all = budgetDocs(await deps.readModelStore.query<BudgetDoc>(COST_MODEL, caller.orgId, { where: { kind: 'budget' } }));
  // A project key reads its project's budget only: the org's spends every project's (routeHandler set projectId).
  const withOrg = caller.projectId === undefined;
  const docs =
    projectId !== undefined
      ? all.filter((doc) => (withOrg && doc.scope === 'org') || (doc.scope === 'project' && doc.projectId === projectId))
      : teamId !== undefined
        ? all.filter((doc) => doc.scope === 'org' || (doc.scope === 'team' && doc.teamId === teamId))
        : all;
  const budgets = docs
    .map((doc) => budgetView(doc, now))
    .filter((view): view is BudgetView => view !== null)
    .sort((a, b) => SCOPE_ORDER[a.scope] - SCOPE_ORDER[b.scope] || ((a.projectId ?? a.teamId ?? '') < (b.projectId ?? b.teamId ?? '') ? -1 : 1));
  return { budgets };
});
