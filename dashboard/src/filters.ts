/** The range and filters every view shares, read from and written to the URL (place.ts). */
export type RangeKey = '1h' | 'today' | '24h' | '7d' | '30d' | 'custom';
export const RANGES: { key: RangeKey; label: string }[] = [
  { key: '1h', label: 'Last hour' },
  { key: 'today', label: 'Today' },
  { key: '24h', label: 'Last 24 hours' },
  { key: '7d', label: 'Last 7 days' },
  { key: '30d', label: 'Last 30 days' },
  { key: 'custom', label: 'Custom…' },
];

export interface Filters {
  range: RangeKey;
  from: string | null;
  to: string | null;
  project: string | null;
  user: string | null;
  /** A team of the org (GET /api/teams): its users' figures, across projects. */
  team: string | null;
  server: string | null;
  tool: string | null;
}

export function filtersFrom(query: URLSearchParams): Filters {
  const range = query.get('range');
  // A team goes with no project or user (the API refuses the pair): a link that names both keeps the team, as
  // choosing a team in the filter bar lets go of the others.
  const team = query.get('team') || null;
  return {
    range: RANGES.some((r) => r.key === range) ? (range as RangeKey) : 'today',
    from: query.get('from'),
    to: query.get('to'),
    project: team ? null : query.get('project') || null,
    user: team ? null : query.get('user') || null,
    team,
    server: query.get('server') || null,
    tool: query.get('tool') || null,
  };
}

export const filtersKey = (filters: Filters) => JSON.stringify(filters);

export interface TimeWindow {
  from: Date;
  to: Date;
  /** The window compared against: the same hours yesterday for a day or less, else the period before. */
  prevFrom: Date;
  prevTo: Date;
  bucket: 'minute' | 'hour' | 'day';
  bucketMs: number;
  label: string;
  compareLabel: string;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function parseTime(text: string | null): Date | null {
  if (!text) return null;
  const time = new Date(text);
  return Number.isNaN(time.getTime()) ? null : time;
}

/** Computed when a query runs, never stored: "today" keeps moving while the page stays open. */
export function resolveWindow(filters: Filters, now: Date): TimeWindow {
  let from: Date;
  let to = now;
  let label = RANGES.find((r) => r.key === filters.range)?.label ?? 'Today';
  switch (filters.range) {
    case '1h':
      from = new Date(now.getTime() - HOUR);
      break;
    case '24h':
      from = new Date(now.getTime() - DAY);
      break;
    case '7d':
      from = new Date(now.getTime() - 7 * DAY);
      break;
    case '30d':
      from = new Date(now.getTime() - 30 * DAY);
      break;
    case 'custom': {
      const start = parseTime(filters.from);
      const end = parseTime(filters.to) ?? now;
      from = start && start < end ? start : new Date(end.getTime() - DAY);
      to = end;
      label = `${from.toLocaleString()} – ${to.toLocaleString()}`;
      break;
    }
    default:
      from = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  }
  const length = Math.max(to.getTime() - from.getTime(), MINUTE);
  const shift = length <= DAY ? DAY : length;
  const bucket = length <= 2 * HOUR ? 'minute' : length <= 2 * DAY ? 'hour' : 'day';
  const bucketMs = bucket === 'minute' ? 5 * MINUTE : bucket === 'hour' ? HOUR : DAY;
  return {
    from,
    to,
    prevFrom: new Date(from.getTime() - shift),
    prevTo: new Date(to.getTime() - shift),
    bucket,
    bucketMs,
    label,
    compareLabel: shift === DAY ? 'vs same time yesterday' : 'vs previous period',
  };
}

/** The Performance Hub's chart bucket: latency is kept per hour and per day, not per minute, so a short range charts by the hour. */
export const latencyBucket = (window: TimeWindow): 'hour' | 'day' => (window.bucket === 'minute' ? 'hour' : window.bucket);

/**
 * The from/to and filter params the latency and risk endpoints take. A team goes with neither a project nor a user
 * (a team is its users, across projects): the filter bar keeps them apart, and a URL that names both gets the API's
 * 400, shown in place of the figures.
 */
export function apiParams(filters: Filters, window: TimeWindow) {
  return {
    from: window.from.toISOString(),
    to: window.to.toISOString(),
    projectId: filters.project ?? undefined,
    userId: filters.user ?? undefined,
    teamId: filters.team ?? undefined,
    server: filters.server ?? undefined,
    tool: filters.tool ?? undefined,
  };
}

/**
 * The filters as the cost endpoints take them: spend is kept per project, per user and per server or tool, not per
 * pair, so two of those at once cannot be answered (the API refuses them) and the views say so instead of asking.
 */
export function costFilter(
  filters: Filters,
): { params: { projectId: string | undefined; userId: string | undefined; teamId: string | undefined; server: string | undefined; tool: string | undefined }; dimension: 'project' | 'user' | 'server' | 'tool' | null } | { conflict: string } {
  const set = [filters.project, filters.user, filters.team, filters.server ?? filters.tool].filter((value) => value !== null && value !== undefined).length;
  if (set > 1) return { conflict: 'Spend is kept per project, per user (a team: its users) and per server or tool, one at a time: keep one of those filters to see it.' };
  const params = { projectId: filters.project ?? undefined, userId: filters.user ?? undefined, teamId: filters.team ?? undefined, server: filters.server ?? undefined, tool: filters.tool ?? undefined };
  // A team's spend is its users': broken down, by user.
  const dimension = filters.project ? 'project' : filters.user || filters.team ? 'user' : filters.tool ? 'tool' : filters.server ? 'server' : null;
  return { params, dimension };
}

/** Tool names the views have seen this page load: suggestions for the tool filter. */
export const seenTools = new Set<string>();
export function rememberTools(names: Iterable<string | null | undefined>): void {
  for (const name of names) if (name) seenTools.add(name);
}
