import type { TimeWindow } from './filters';
import type { LatencyGroup, LatencyPoint, LatencyTotal, Session } from './types';

/**
 * What the Overview and the Journey map show of a time range, loaded by load-activity.ts in a fixed number of
 * requests (never one per session) and folded here without I/O: the sessions active in the range (and in the window
 * it is compared with), and what the latency read model says of their calls, so the Overview's numbers are the
 * Performance Hub's (one DDSketch p95, not one computed in the browser).
 */
export interface Activity {
  window: TimeWindow;
  /** Sessions active in [prevFrom, to] that pass the filters, newest first. */
  sessions: Session[];
  /** More sessions of the range than one load lists: counts of sessions are then "at least". */
  sessionsCapped: boolean;
  /** The same of the window the range is compared with: no change can then be told. */
  sessionsBeforeCapped: boolean;
  /** null when the server has no latency endpoints (404): the Overview then shows sessions only. */
  latency: LatencyActivity | null;
}

/** Calls of the range and of the window it is compared with, per bucket, and per server and tool. */
export interface LatencyActivity {
  current: LatencyTotal;
  previous: LatencyTotal;
  bucket: 'hour' | 'day';
  points: LatencyPoint[];
  servers: LatencyGroup[];
  tools: LatencyGroup[];
}

const time = (iso: string | null) => (iso ? Date.parse(iso) : NaN);

export function sessionActiveIn(session: Session, from: Date, to: Date): boolean {
  return time(session.firstSeenAt) <= to.getTime() && time(session.lastActivityAt) >= from.getTime();
}

/** Events km could not record across these sessions (each session's count comes from its session.ended). */
export function droppedObservations(sessions: readonly Session[]): number {
  return sessions.reduce((sum, s) => sum + s.droppedObservations, 0);
}

/** Calls that did not end well: JSON-RPC errors, tool errors and timeouts. */
export const failedCalls = (stats: Pick<LatencyTotal, 'errors' | 'toolErrors' | 'timeouts'>) => stats.errors + stats.toolErrors + stats.timeouts;

/** The latency points as chart columns: x in seconds, and one measure of each point. */
export function pointSeries(points: readonly LatencyPoint[], measure: (point: LatencyPoint) => number | null): { x: number[]; y: (number | null)[] } {
  return { x: points.map((p) => (typeof p.t === 'number' ? p.t : Date.parse(p.t)) / 1000), y: points.map(measure) };
}

/** Sessions active in each bucket starting at x (seconds), for a sparkline. */
export function activeSessions(sessions: readonly Session[], x: readonly number[], bucketMs: number): number[] {
  return x.map((start) => sessions.filter((s) => sessionActiveIn(s, new Date(start * 1000), new Date(start * 1000 + bucketMs - 1))).length);
}

/** Who used what: client -> server -> tool, with interaction counts, for the Journey map. */
export interface UsageMap {
  clients: string[];
  servers: string[];
  /** calls[client][server]: the calls of the sessions active in the range (their whole count) */
  calls: Map<string, Map<string, number>>;
  tools: Map<string, { tool: string; count: number; errors: number }[]>;
}

export function usageMap(sessions: Session[], tools: readonly LatencyGroup[]): UsageMap {
  const calls = new Map<string, Map<string, number>>();
  const byServer = new Map<string, { tool: string; count: number; errors: number }[]>();
  for (const s of sessions) {
    const client = s.client?.name ?? 'unknown client';
    const row = calls.get(client) ?? new Map<string, number>();
    row.set(s.server.name, (row.get(s.server.name) ?? 0) + s.interactionCount);
    calls.set(client, row);
    if (!byServer.has(s.server.name)) byServer.set(s.server.name, []);
  }
  for (const group of tools) {
    if (!group.server || !group.tool || !byServer.has(group.server)) continue;
    byServer.get(group.server)!.push({ tool: group.tool, count: group.count, errors: failedCalls(group) });
  }
  const servers = [...byServer.keys()].sort();
  return {
    clients: [...calls.keys()].sort(),
    servers,
    calls,
    tools: new Map(servers.map((server) => [server, byServer.get(server)!.sort((a, b) => b.count - a.count || (a.tool < b.tool ? -1 : 1))])),
  };
}
