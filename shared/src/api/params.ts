import { z } from 'zod';
import { badParameter } from './errors';

/**
 * The longest range a cost request may cover: it is read as day buckets, one store query per month, and a year is
 * plenty for a dashboard.
 */
export const COST_RANGE_MAX_DAYS = 366;
/** The longest range a latency request may cover: about a quarter, at most 92 day and 46 hour documents to merge. */
export const LATENCY_RANGE_MAX_DAYS = 92;
/** Names (project, user, server, tool, session ids) are 1 to 200 characters, as in the event schema. */
export const MAX_NAME_LENGTH = 200;

const DAY_MS = 86_400_000;
const ISO_DATE_OR_TIME = /^(\d{4})-(\d{2})-(\d{2})(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/**
 * The one date parser of the API: a UTC date (2026-11-25, its midnight) or an ISO 8601 date-time with Z or an
 * offset, as milliseconds since the epoch; null for anything else, including dates that do not exist (2026-02-30,
 * which Date.parse would roll over into March).
 */
export function parseInstant(raw: string): number | null {
  const match = ISO_DATE_OR_TIME.exec(raw);
  if (!match) return null;
  const [, year, month, day] = match as unknown as [string, string, string, string];
  const calendar = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  if (calendar.toISOString().slice(0, 10) !== raw.slice(0, 10)) return null;
  const ms = Date.parse(match[4] === undefined ? `${raw}T00:00:00Z` : raw);
  return Number.isNaN(ms) ? null : ms;
}

export const utcDayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * A query parameter read from its text: the parsed value, or the message of the 400 (it names the parameter). A
 * transform has no JSON Schema of its own, so each parameter says in .meta what the OpenAPI document shows of it.
 */
function parsed<T>(parse: (raw: string) => { value: T } | { error: string }) {
  return z.string().transform((raw, ctx): T => {
    const result = parse(raw);
    if ('value' in result) return result.value;
    ctx.addIssue({ code: 'custom', message: result.error });
    return z.NEVER;
  });
}

export function nameParam(name: string) {
  return parsed<string>((raw) => (raw.length >= 1 && raw.length <= MAX_NAME_LENGTH ? { value: raw } : { error: `${name} must be 1 to ${MAX_NAME_LENGTH} characters long` })).meta({
    type: 'string',
    minLength: 1,
    maxLength: MAX_NAME_LENGTH,
  });
}

export function limitParam(fallback: number, max: number) {
  return parsed<number>((raw) => {
    const limit = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
    return limit >= 1 && limit <= max ? { value: limit } : { error: `limit must be a whole number from 1 to ${max}, got "${raw}"` };
  })
    .meta({ type: 'integer', minimum: 1, maximum: max })
    .default(fallback);
}

/** The one enum parser: one of the allowed words. */
export function enumParam<const T extends string>(name: string, allowed: readonly T[]) {
  return parsed<T>((raw) => ((allowed as readonly string[]).includes(raw) ? { value: raw as T } : { error: `${name} must be one of ${allowed.join(', ')}, got "${raw}"` })).meta({
    type: 'string',
    enum: [...allowed],
  });
}

/** A yes-or-no parameter: `true` or `false`, nothing else (a `1` or `yes` read as false would do the opposite of what was asked). */
export function flagParam(name: string) {
  return parsed<boolean>((raw) => (raw === 'true' ? { value: true } : raw === 'false' ? { value: false } : { error: `${name} must be true or false, got "${raw}"` }))
    .meta({ type: 'boolean' })
    .default(false);
}

/**
 * An instant (ms since the epoch) from parseInstant. A UTC date given as a range's end (`to`) is that whole day,
 * up to its last millisecond, as the cost routes read it: risk and audit read it as its midnight, so a range to
 * today left today out, and latency refused from and to of the same day.
 */
export function instantParam(name: 'from' | 'to') {
  return parsed<number>((raw) => {
    const ms = parseInstant(raw);
    if (ms === null) return { error: `${name} must be an ISO 8601 date-time such as 2026-11-25T13:00:00Z, or a UTC date such as 2026-11-25; got "${raw}"` };
    return { value: name === 'to' && raw.length === 10 ? ms + DAY_MS - 1 : ms };
  }).meta({ type: 'string', description: name === 'to' ? 'an ISO 8601 date-time with Z or an offset, or a UTC date (through its end)' : 'an ISO 8601 date-time with Z or an offset, or a UTC date (its midnight)' });
}

/** A UTC date as it is (2026-11-01), or a date-time as its instant in UTC (2026-11-01T13:05:00.000Z). */
export function dayParam(name: string) {
  return parsed<string>((raw) => {
    const ms = parseInstant(raw);
    if (ms === null) return { error: `${name} must be a UTC date like 2026-11-01 (or an ISO 8601 date-time), got "${raw}"` };
    return { value: raw.length === 10 ? raw : new Date(ms).toISOString() };
  }).meta({ type: 'string', description: 'a UTC date (the whole day), or an ISO 8601 date-time (widened to its whole hour)' });
}

/**
 * A filter this route knows of but cannot honour: refused with why, rather than ignored (a dashboard that sends it
 * would show an unfiltered answer under the filter's name).
 */
export function refusedParam(name: string, why: string) {
  return z
    .string()
    .optional()
    .transform((raw, ctx): undefined => {
      if (raw !== undefined) ctx.addIssue({ code: 'custom', message: `${name} cannot be used here: ${why}` });
      return undefined;
    })
    .describe(`refused: ${why}`);
}

/**
 * from/to as an instant range: to defaults to now, from to a day before to; from must be before to and the range
 * at most maxDays long. Throws badParameter (a 400 naming from or to).
 */
export function instantRange(given: { from?: number | undefined; to?: number | undefined }, now: Date, maxDays: number): { fromMs: number; toMs: number } {
  const toMs = given.to ?? now.getTime();
  const fromMs = given.from ?? toMs - DAY_MS;
  if (fromMs >= toMs) {
    // Saying both ends: a from alone in the future met a to nobody gave (now), and "from must be before to" hid that.
    const end = given.to === undefined ? `to (now, ${new Date(toMs).toISOString()}, when none is given)` : `to (${new Date(toMs).toISOString()})`;
    throw badParameter('from', `from must be before to: from (${new Date(fromMs).toISOString()}) is not before ${end}`);
  }
  if (toMs - fromMs > maxDays * DAY_MS) throw badParameter('from', `the range from..to may span at most ${maxDays} days; ask for a shorter one`);
  return { fromMs, toMs };
}

/**
 * A range of UTC days, both included, and at an end given as a time, the hour it lies in: that end's day counts
 * from or up to that hour only. fromHourMs/toHourMs: the start of those hours, null for an end given as a day.
 */
export interface DayRange {
  from: string;
  to: string;
  fromHourMs: number | null;
  toHourMs: number | null;
}

const HOUR_MS = 3_600_000;

/**
 * from/to (dayParam's: dates, or instants in UTC) as a DayRange: to defaults to today, from to the first of to's
 * month; at most maxDays days.
 */
export function dayRange(given: { from?: string | undefined; to?: string | undefined }, now: Date, maxDays: number): DayRange {
  const hourOf = (value: string | undefined) => (value !== undefined && value.length > 10 ? Math.floor(Date.parse(value) / HOUR_MS) * HOUR_MS : null);
  const to = (given.to ?? utcDayOf(now.getTime())).slice(0, 10);
  const from = (given.from ?? `${to.slice(0, 7)}-01`).slice(0, 10);
  const [fromHourMs, toHourMs] = [hourOf(given.from), hourOf(given.to)];
  if (from > to || (fromHourMs !== null && toHourMs !== null && fromHourMs > toHourMs)) throw badParameter('from', `from (${given.from ?? from}) is after to (${given.to ?? to}): swap them`);
  const days = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS + 1;
  if (days > maxDays) throw badParameter('from', `a range covers at most ${maxDays} days: narrow from/to`);
  return { from, to, fromHourMs, toHourMs };
}

/**
 * The buckets a DayRange reads: the days it covers whole, and the runs of hours of its ends given as times (hour
 * periods as the cost read model names them, 2026-11-25T13, both included).
 */
export function dayRangeBuckets(range: DayRange): { days: (day: string) => boolean; hourRuns: Array<{ from: string; to: string }> } {
  const hour = (ms: number) => new Date(ms).toISOString().slice(0, 13);
  const dayEnd = (day: string) => Date.parse(`${day}T23:00:00.000Z`);
  const dayStart = (day: string) => Date.parse(`${day}T00:00:00.000Z`);
  const hourRuns: Array<{ from: string; to: string }> = [];
  const { from, to, fromHourMs, toHourMs } = range;
  if (from === to && (fromHourMs !== null || toHourMs !== null)) {
    hourRuns.push({ from: hour(fromHourMs ?? dayStart(from)), to: hour(toHourMs ?? dayEnd(to)) });
  } else {
    if (fromHourMs !== null) hourRuns.push({ from: hour(fromHourMs), to: hour(dayEnd(from)) });
    if (toHourMs !== null) hourRuns.push({ from: hour(dayStart(to)), to: hour(toHourMs) });
  }
  const days = (day: string) => day >= from && day <= to && !(day === from && fromHourMs !== null) && !(day === to && toHourMs !== null);
  return { days, hourRuns };
}
