import { sessionActiveIn, type Activity, type LatencyActivity } from './activity';
import { getJson, type Loaded } from './api';
import { apiParams, latencyBucket, resolveWindow, type Filters, type TimeWindow } from './filters';
import type { LatencyReport } from './types';

/**
 * The sessions of the range and the latency read model's account of their calls: five requests whatever the number
 * of sessions (the Overview used to fetch each session's interactions, up to 100 of them every 15 s).
 */
/** Sessions one load lists (GET /api/sessions' limit, newest first). */
export const SESSIONS_LISTED = 500;

export async function loadActivity(filters: Filters): Promise<Loaded<Activity>> {
  const window = resolveWindow(filters, new Date());
  const [listed, latency] = await Promise.all([
    getJson('sessions', { limit: SESSIONS_LISTED, projectId: filters.project, userId: filters.user, teamId: filters.team }),
    loadLatency(filters, window),
  ]);
  if (listed.kind !== 'ok') return listed;
  if (latency.kind === 'error') return latency;
  const sessions = listed.data.sessions.filter(
    (s) => sessionActiveIn(s, window.prevFrom, window.to) && (!filters.server || s.server.name === filters.server),
  );
  // The newest SESSIONS_LISTED only: when the oldest of them began inside a window, more of it may be left out.
  const oldest = listed.data.sessions.at(-1);
  const full = listed.data.sessions.length >= SESSIONS_LISTED && oldest !== undefined;
  const beganAfter = (at: Date) => full && Date.parse(oldest.firstSeenAt) >= at.getTime();
  return { kind: 'ok', data: { window, sessions, sessionsCapped: beganAfter(window.from), sessionsBeforeCapped: beganAfter(window.prevFrom), latency: latency.kind === 'ok' ? latency.data : null } };
}

async function loadLatency(filters: Filters, window: TimeWindow): Promise<Loaded<LatencyActivity>> {
  const params = apiParams(filters, window);
  const previous = { ...params, from: window.prevFrom.toISOString(), to: window.prevTo.toISOString() };
  // By tool: the server grouping refuses a tool filter, and the total is the same either way.
  const [tools, before, series, servers] = await Promise.all([
    getJson('latency', { ...params, groupBy: 'tool' }),
    getJson('latency', { ...previous, groupBy: 'tool' }),
    getJson('latency/timeseries', { ...params, bucket: latencyBucket(window) }),
    filters.tool ? null : getJson('latency', { ...params, groupBy: 'server' }),
  ]);
  if (tools.kind !== 'ok') return tools;
  if (before.kind !== 'ok') return before;
  if (series.kind !== 'ok') return series;
  if (servers && servers.kind !== 'ok') return servers;
  return {
    kind: 'ok',
    data: {
      current: tools.data.total,
      previous: before.data.total,
      bucket: series.data.bucket,
      points: series.data.points,
      servers: servers ? servers.data.groups : serversOf(tools.data),
      tools: tools.data.groups,
    },
  };
}

/** With a tool filter: the servers that have that tool, from the tool groups. */
function serversOf(report: LatencyReport): LatencyReport['groups'] {
  const servers = new Map<string, LatencyReport['groups'][number]>();
  for (const group of report.groups) {
    if (!group.server) continue;
    const seen = servers.get(group.server);
    const { tool: _tool, ...serverFigures } = group;
    servers.set(group.server, seen ? { ...seen, count: seen.count + group.count } : { ...serverFigures, key: group.server });
  }
  return [...servers.values()];
}
