import { resolvePrice } from '../../pricing';
import { own } from '../projection';
import {
  addCounters,
  budgetSpentUsd,
  COST_DIMENSIONS,
  crossedThresholds,
  NANO,
  OTHER_KEY,
  type BudgetDoc,
  type ContextDoc,
  type CostBucketDoc,
  type CostCounters,
  type CostDimension,
  toolOfGroupKey,
} from './index';

/** The public shapes of the Cost Center API (the dashboard codes against exactly these). */
export interface CostFigures {
  costUsd: number;
  tokensIn: number;
  tokensOut: number;
  interactions: number;
}
export type CostGroupBy = CostDimension | 'day';
export const COST_GROUP_BYS: readonly CostGroupBy[] = ['project', 'user', 'server', 'tool', 'model', 'day'];

export interface CostReport {
  from: string;
  to: string;
  groupBy: CostGroupBy;
  currency: 'USD';
  total: CostFigures;
  groups: Array<{ key: string } & CostFigures>;
}

export interface CostSummary {
  today: CostFigures;
  yesterday: CostFigures;
  monthToDate: CostFigures;
  forecastMonthEnd: number;
  byDay: Array<{ day: string; costUsd: number }>;
}

export interface BudgetView {
  scope: 'org' | 'project' | 'team';
  projectId: string | null;
  teamId: string | null;
  monthlyUsd: number;
  period: string;
  spentUsd: number;
  percent: number;
  forecastUsd: number;
  crossed: number[];
}

const DAY_MS = 86_400_000;
/** The trailing window of the run rate behind every forecast. */
export const FORECAST_WINDOW_DAYS = 7;
const roundUsd = (usd: number) => Math.round(usd * 1e6) / 1e6;
const zero = (): CostCounters => ({ costNanoUsd: 0, tokensIn: 0, tokensOut: 0, interactions: 0 });

export function figures(counters: CostCounters): CostFigures {
  return { costUsd: counters.costNanoUsd / NANO, tokensIn: counters.tokensIn, tokensOut: counters.tokensOut, interactions: counters.interactions };
}

export const utcDay = (at: Date) => at.toISOString().slice(0, 10);
export const utcMonth = (at: Date) => at.toISOString().slice(0, 7);
export const addDays = (day: string, n: number) => utcDay(new Date(Date.parse(`${day}T00:00:00.000Z`) + n * DAY_MS));

/** Buckets (of one granularity) folded into a total and groups, biggest spend first, ties by key. */
export function costReport(buckets: readonly CostBucketDoc[], range: { from: string; to: string }, groupBy: CostGroupBy): CostReport {
  let total = zero();
  const groups = new Map<string, CostCounters>();
  for (const bucket of buckets) {
    total = addCounters(total, bucket.total);
    const entries: Array<[string, CostCounters]> = groupBy === 'day' ? [[bucket.day, bucket.total]] : Object.entries(bucket.groups[groupBy]);
    for (const [key, counters] of entries) groups.set(key, addCounters(groups.get(key) ?? zero(), counters));
  }
  const sorted = [...groups.entries()].sort(([ka, a], [kb, b]) =>
    groupBy === 'day' ? (ka < kb ? -1 : 1) : b.costNanoUsd - a.costNanoUsd || (ka < kb ? -1 : ka > kb ? 1 : 0),
  );
  return { ...range, groupBy, currency: 'USD', total: figures(total), groups: sorted.map(([key, counters]) => ({ key, ...figures(counters) })) };
}

/**
 * Month-end forecast: spend so far this month plus the run rate times the time left. The run rate is the spend of
 * the trailing FORECAST_WINDOW_DAYS (today's partial day included) over the time they cover, which is shorter when
 * the first spend is more recent than the window (a new user is not averaged against days before they started).
 */
export function forecastMonthEnd(dailyUsd: ReadonlyMap<string, number>, now: Date): number {
  const month = utcMonth(now);
  const today = utcDay(now);
  let monthToDate = 0;
  for (const [day, usd] of dailyUsd) if (day.startsWith(month) && day <= today) monthToDate += usd;
  const windowStart = addDays(today, -(FORECAST_WINDOW_DAYS - 1));
  const spentDays = [...dailyUsd.entries()].filter(([day, usd]) => usd > 0 && day >= windowStart && day <= today).map(([day]) => day).sort();
  const first = spentDays[0];
  if (first === undefined) return roundUsd(monthToDate);
  let windowUsd = 0;
  for (const [day, usd] of dailyUsd) if (day >= first && day <= today) windowUsd += usd;
  const elapsedMs = now.getTime() - Date.parse(`${first}T00:00:00.000Z`);
  const rateUsdPerMs = windowUsd / Math.max(elapsedMs, DAY_MS / 24);
  const [year, monthIndex] = month.split('-').map(Number) as [number, number];
  const monthEnd = Date.UTC(year, monthIndex, 1);
  return roundUsd(monthToDate + rateUsdPerMs * Math.max(0, monthEnd - now.getTime()));
}

/** Today, yesterday, this month, the forecast and the last 30 days, from day buckets of this and last month. */
export function costSummary(dayBuckets: readonly CostBucketDoc[], now: Date): CostSummary {
  const today = utcDay(now);
  const yesterday = addDays(today, -1);
  const month = utcMonth(now);
  const byDay = new Map<string, CostBucketDoc>(dayBuckets.map((bucket) => [bucket.day, bucket]));
  let monthToDate = zero();
  for (const bucket of dayBuckets) if (bucket.month === month && bucket.day <= today) monthToDate = addCounters(monthToDate, bucket.total);
  const daily = new Map(dayBuckets.map((bucket) => [bucket.day, bucket.total.costNanoUsd / NANO]));
  const last30 = Array.from({ length: 30 }, (_, i) => addDays(today, i - 29));
  return {
    today: figures(byDay.get(today)?.total ?? zero()),
    yesterday: figures(byDay.get(yesterday)?.total ?? zero()),
    monthToDate: figures(monthToDate),
    forecastMonthEnd: forecastMonthEnd(daily, now),
    byDay: last30.map((day) => ({ day, costUsd: (byDay.get(day)?.total.costNanoUsd ?? 0) / NANO })),
  };
}

/** Context tax per server: the tools/list definitions every session loads, priced as input tokens of its model. */
export function contextTax(docs: readonly ContextDoc[], defaultModel: string) {
  return {
    servers: docs
      .filter((doc) => doc.listedBy !== null)
      .map((doc) => {
        const price = resolvePrice(doc.model ?? defaultModel);
        const costUsdPerSession = price && doc.contextTokens !== null ? roundUsd((doc.contextTokens * price.input) / 1_000_000) : null;
        return { server: doc.server, tools: doc.tools, definitionBytes: doc.definitionBytes, contextTokens: doc.contextTokens, costUsdPerSession };
      })
      .sort((a, b) => (b.costUsdPerSession ?? 0) - (a.costUsdPerSession ?? 0) || (a.server < b.server ? -1 : 1)),
  };
}

export function budgetView(doc: BudgetDoc, now: Date): BudgetView | null {
  if (doc.monthlyUsd === null) return null;
  const period = utcMonth(now);
  const spentUsd = roundUsd(budgetSpentUsd(doc, period));
  const daily = new Map(Object.entries(doc.days).map(([day, nanos]) => [day, nanos / NANO]));
  return {
    scope: doc.scope,
    projectId: doc.projectId,
    teamId: doc.teamId ?? null,
    monthlyUsd: doc.monthlyUsd,
    period,
    spentUsd,
    percent: doc.monthlyUsd > 0 ? Math.round((spentUsd / doc.monthlyUsd) * 10_000) / 100 : 0,
    forecastUsd: forecastMonthEnd(daily, now),
    crossed: crossedThresholds(doc, period),
  };
}

/** One filter of the Cost Center: the keys of one dimension it keeps (cost is kept per dimension, not per pair). */
export interface CostFilter {
  dimension: CostDimension;
  /** bucket: the day it is asked of (a tool without its server is found by the servers of that day). */
  matches(key: string, bucket: CostBucketDoc): boolean;
  /** The keys it keeps, where it can name them (a tool on any server cannot): see mayMissSpend. */
  keys?: readonly string[];
}

/** A filter on this dimension may miss spend in the bucket: past MAX_KEYS_PER_DIMENSION keys, new ones went under OTHER_KEY. */
export const overflowed = (bucket: CostBucketDoc, dimension: CostDimension): boolean => own(bucket.groups[dimension], OTHER_KEY) !== undefined;

/**
 * Whether some of the filter's spend may be under OTHER_KEY in the bucket: it overflowed, and a key the filter
 * keeps has no group of its own there (a key with a group had it before the overflow, so all its spend is in it),
 * or the filter cannot name its keys.
 */
export function mayMissSpend(bucket: CostBucketDoc, filter: CostFilter): boolean {
  if (!overflowed(bucket, filter.dimension)) return false;
  return filter.keys === undefined || filter.keys.some((key) => own(bucket.groups[filter.dimension], key) === undefined);
}

/**
 * The day bucket with its `dimension` groups summed from its hours: an hour holds fewer keys than its day, so a key
 * the day summed under OTHER_KEY is kept by its hours unless one of them had as many keys of its own. The day as it
 * is when its hours do not hold all its calls.
 */
export function dayFromHours(day: CostBucketDoc, hours: readonly CostBucketDoc[], dimension: CostDimension): CostBucketDoc {
  const groups: Record<string, CostCounters> = Object.create(null);
  let interactions = 0;
  for (const hour of hours) {
    if (hour.day !== day.day) continue;
    interactions += hour.total.interactions;
    for (const [key, counters] of Object.entries(hour.groups[dimension])) groups[key] = addCounters(own(groups, key) ?? zero(), counters);
  }
  if (interactions !== day.total.interactions) return day;
  return { ...day, groups: { ...day.groups, [dimension]: groups } };
}

/**
 * The filter `tool` without `server`: the keys of that tool on any server. A key's end alone also matched another
 * tool whose name ends the same way (`read` and `files/read`); the server part of a key holds no '/' (toolGroupKey).
 */
export function toolOnAnyServer(tool: string): CostFilter['matches'] {
  return (key) => toolOfGroupKey(key)?.tool === tool;
}

/**
 * The day buckets as the filter sees them: each total is the sum of the matching keys of the filter's dimension,
 * and only that dimension's groups are kept (the others hold every key's spend, which the filter cannot split).
 * costReport and costSummary then answer for the filter: by day, or grouped by the filter's own dimension.
 */
export function narrowBuckets(buckets: readonly CostBucketDoc[], filter: CostFilter): CostBucketDoc[] {
  return buckets.map((bucket) => {
    const kept: Record<string, CostCounters> = Object.create(null);
    let total = zero();
    const groups = bucket.groups[filter.dimension] ?? {};
    for (const key of Object.keys(groups)) {
      if (!filter.matches(key, bucket)) continue;
      kept[key] = own(groups, key)!;
      total = addCounters(total, kept[key]!);
    }
    const narrowed = Object.fromEntries(COST_DIMENSIONS.map((dimension) => [dimension, dimension === filter.dimension ? kept : {}])) as CostBucketDoc['groups'];
    return { ...bucket, total, groups: narrowed };
  });
}
