import type { Severity } from '../../risk/rules';
import { own, ownRecord } from '../projection';

/** The earliest call counted: first-use findings point at it. */
export interface FirstUse {
  ts: string;
  eventId: string;
  sessionId: string;
  userId: string;
}

/**
 * Calls and errors per UTC day, and the first use, of one server in one project or of one of its tools. Only the
 * newest DAYS_KEPT days of use are kept, so the counts stay bounded however long the server is used.
 */
export interface UsageCounts {
  calls: Record<string, number>;
  errors: Record<string, number>;
  first: FirstUse | null;
  /** Set once older days were dropped: a day whose trailing baseline was dropped with them is not judged a spike. */
  trimmed?: true;
  /**
   * Set while every call counted failed. A tool the server does not have is answered with an error (or, by the MCP
   * SDK, a tool error): its calls count, but it has no first use to report.
   */
  failedOnly?: true;
}

/** Volume spike: a day with this many calls and this many times the trailing mean. */
export const SPIKE_MIN_CALLS = 50;
export const SPIKE_FACTOR = 5;
export const BASELINE_DAYS = 7;
/** Error burst: a day with this many errors making up this share of the calls. */
export const ERROR_BURST_MIN = 10;
const ERROR_BURST_SHARE = 0.5;
/** Days of use kept per counter: a spike stays visible for the BASELINE_DAYS newest days of use. */
export const DAYS_KEPT = 2 * BASELINE_DAYS;

export const emptyUsage = (): UsageCounts => ({ calls: Object.create(null), errors: Object.create(null), first: null });

/** A copy this batch may change (day keys are dates, but the records are prototype-free all the same). */
export function copyUsage(counts: UsageCounts): UsageCounts {
  const copy: UsageCounts = { calls: ownRecord(counts.calls), errors: ownRecord(counts.errors), first: counts.first };
  if (counts.trimmed) copy.trimmed = true;
  if (counts.failedOnly) copy.failedOnly = true;
  return copy;
}

const earlier = (a: FirstUse, b: FirstUse) => a.ts < b.ts || (a.ts === b.ts && a.eventId < b.eventId);

/**
 * Keeps the newest DAYS_KEPT days of use. Order-free: a day dropped here is older than DAYS_KEPT days already
 * counted, so it would have been dropped whenever its calls came.
 */
function trimDays(counts: UsageCounts): void {
  const days = Object.keys(counts.calls);
  if (days.length <= DAYS_KEPT) return;
  counts.trimmed = true;
  for (const day of days.sort().slice(0, days.length - DAYS_KEPT)) {
    delete counts.calls[day];
    delete counts.errors[day];
  }
}

/** Counts one call into counts (a copy made for this batch). */
export function countCall(counts: UsageCounts, day: string, failed: boolean, call: FirstUse): void {
  if (!failed) delete counts.failedOnly;
  else if (!counts.first) counts.failedOnly = true;
  if (!counts.first || earlier(call, counts.first)) counts.first = call;
  counts.calls[day] = (own(counts.calls, day) ?? 0) + 1;
  if (failed) counts.errors[day] = (own(counts.errors, day) ?? 0) + 1;
  trimDays(counts);
}

/** Two counters of the same thing (an old per-tool document and its entry in the server's document) as one. */
export function mergeUsage(a: UsageCounts, b: UsageCounts): UsageCounts {
  const merged = copyUsage(a);
  for (const [day, calls] of Object.entries(b.calls)) {
    merged.calls[day] = (own(merged.calls, day) ?? 0) + calls;
    const errors = own(b.errors, day) ?? 0;
    if (errors > 0) merged.errors[day] = (own(merged.errors, day) ?? 0) + errors;
  }
  if (b.trimmed) merged.trimmed = true;
  // An empty counter has no say; counters folded before the flag existed count as answered.
  const onlyFailed = (c: UsageCounts) => !c.first || c.failedOnly === true;
  if (onlyFailed(a) && onlyFailed(b) && (a.first || b.first)) merged.failedOnly = true;
  else delete merged.failedOnly;
  if (b.first && (!merged.first || earlier(b.first, merged.first))) merged.first = b.first;
  trimDays(merged);
  return merged;
}

/** What a counter reports: the worst signal decides; all are functions of the counts, so order does not matter. */
export interface UsageVerdict {
  ruleId: 'anomaly-volume-spike' | 'anomaly-error-burst' | 'anomaly-first-use';
  severity: Severity;
  ts: string;
  day: string;
  detail: string;
}

/**
 * The latest day of at least SPIKE_MIN_CALLS calls and SPIKE_FACTOR times the mean of the days of use before it.
 * The calls are read once into a list and the trailing sum slides along it: every finding list judges each tool of
 * every server, and a lookup per day of each day's baseline was a tenth of the risk routes' time (issue 11).
 */
function latestSpike(counts: UsageCounts, days: readonly string[]): { day: string; calls: number; mean: number } | null {
  const calls = days.map((day) => own(counts.calls, day)!);
  let spike: { day: string; calls: number; mean: number } | null = null;
  let trailing = 0;
  for (let i = 0; i < days.length; i++) {
    if (i > BASELINE_DAYS) trailing -= calls[i - BASELINE_DAYS - 1]!;
    if (i > 0 && !(counts.trimmed && i < BASELINE_DAYS)) {
      const mean = trailing / BASELINE_DAYS;
      if (calls[i]! >= SPIKE_MIN_CALLS && calls[i]! >= SPIKE_FACTOR * Math.max(mean, 1)) spike = { day: days[i]!, calls: calls[i]!, mean };
    }
    trailing += calls[i]!;
  }
  return spike;
}

function latestBurst(counts: UsageCounts, days: readonly string[]): { day: string; errors: number } | null {
  let burst: { day: string; errors: number } | null = null;
  for (const day of days) {
    const errors = own(counts.errors, day) ?? 0;
    if (errors >= ERROR_BURST_MIN && errors >= ERROR_BURST_SHARE * own(counts.calls, day)!) burst = { day, errors };
  }
  return burst;
}

/** what: "server x" or "tool y of x", for the detail. */
export function judgeUsage(counts: UsageCounts, what: string, projectId: string, first: FirstUse): UsageVerdict {
  const days = Object.keys(counts.calls).sort();
  const spike = latestSpike(counts, days);
  if (spike) {
    const detail = `${spike.calls} calls to ${what} on ${spike.day}, ${Math.round(spike.mean * 10) / 10} a day over the previous ${BASELINE_DAYS} days`;
    return { ruleId: 'anomaly-volume-spike', severity: 'medium', ts: `${spike.day}T00:00:00.000Z`, day: spike.day, detail };
  }
  const burst = latestBurst(counts, days);
  if (burst) {
    return { ruleId: 'anomaly-error-burst', severity: 'medium', ts: `${burst.day}T00:00:00.000Z`, day: burst.day, detail: `${burst.errors} failed calls to ${what} on ${burst.day}` };
  }
  return { ruleId: 'anomaly-first-use', severity: 'low', ts: first.ts, day: first.ts.slice(0, 10), detail: `first use of ${what} in project ${projectId}` };
}
