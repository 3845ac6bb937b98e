import { activeSessions, droppedObservations, failedCalls, pointSeries, usageMap } from '../src/activity';
import { filtersFrom, latencyBucket, resolveWindow } from '../src/filters';
import { delta, fmtDropped, fmtMs, fmtUsd } from '../src/format';
import type { LatencyGroup, Session } from '../src/types';
import { LIVE_WINDOW_MS, sessionState } from '../src/session-state';

/** The dashboard's arithmetic, without a browser: ranges, comparisons, percentiles, buckets and the usage map. */
const NOW = new Date(2026, 10, 25, 14, 30, 0); // local time, as the browser sees it

function session(id: string, server: string, client: string, first: Date, last: Date): Session {
  return {
    id, projectId: 'p', userId: 'u', server: { name: server, command: server }, startedAt: first.toISOString(), firstSeenAt: first.toISOString(),
    lastActivityAt: last.toISOString(), endedAt: last.toISOString(), exitCode: 0, durationMs: last.getTime() - first.getTime(), protocolVersion: '2025-11-25',
    client: { name: client, version: '1' }, serverInfo: null, interactionCount: 0, errorCount: 0, toolCallCount: 0, notificationCount: 0, violationCount: 0,
    droppedObservations: 0,
  };
}

const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3_600_000);

describe('time ranges', () => {
  it('today runs from local midnight and compares with the same hours yesterday', () => {
    const w = resolveWindow(filtersFrom(new URLSearchParams('')), NOW);
    expect(w.from).toEqual(new Date(2026, 10, 25));
    expect(w.to).toEqual(NOW);
    expect(w.prevFrom).toEqual(new Date(2026, 10, 24));
    expect(w.prevTo).toEqual(new Date(2026, 10, 24, 14, 30));
    expect(w.bucket).toBe('hour');
  });

  it('reads a link naming a team with a project or a user as the team alone (the API takes no such pair)', () => {
    expect(filtersFrom(new URLSearchParams('team=platform&project=proj-a&user=alice'))).toMatchObject({ team: 'platform', project: null, user: null });
    expect(filtersFrom(new URLSearchParams('project=proj-a&user=alice'))).toMatchObject({ team: null, project: 'proj-a', user: 'alice' });
  });

  it('7 days compares with the 7 days before, by day; the last hour by 5 minutes, against yesterday', () => {
    const week = resolveWindow(filtersFrom(new URLSearchParams('range=7d')), NOW);
    expect(week.prevTo).toEqual(week.from);
    expect(week.bucket).toBe('day');
    const hour = resolveWindow(filtersFrom(new URLSearchParams('range=1h')), NOW);
    expect(hour.prevFrom).toEqual(new Date(hour.from.getTime() - 86_400_000));
    expect(hour.bucketMs).toBe(300_000);
  });

  it('charts latency by the hour for short ranges, as latency has no minute buckets, and by the day for a week', () => {
    expect(latencyBucket(resolveWindow(filtersFrom(new URLSearchParams('range=1h')), NOW))).toBe('hour');
    expect(latencyBucket(resolveWindow(filtersFrom(new URLSearchParams('range=24h')), NOW))).toBe('hour');
    expect(latencyBucket(resolveWindow(filtersFrom(new URLSearchParams('range=7d')), NOW))).toBe('day');
  });

  it('a custom range takes from/to from the URL; an unknown range or a bad date falls back', () => {
    const custom = resolveWindow(filtersFrom(new URLSearchParams('range=custom&from=2026-11-01T00:00:00Z&to=2026-11-03T00:00:00Z')), NOW);
    expect(custom.from.toISOString()).toBe('2026-11-01T00:00:00.000Z');
    expect(custom.prevFrom.toISOString()).toBe('2026-10-30T00:00:00.000Z');
    expect(filtersFrom(new URLSearchParams('range=forever')).range).toBe('today');
    const broken = resolveWindow(filtersFrom(new URLSearchParams('range=custom&from=yesterday')), NOW);
    expect(broken.to).toEqual(NOW);
    expect(broken.from).toEqual(hoursAgo(24));
  });
});

describe('folds over sessions and latency groups', () => {
  const sessions = [
    { ...session('a', 'everything', 'claude', hoursAgo(2), hoursAgo(1)), interactionCount: 3 },
    { ...session('b', 'memory', 'cursor', hoursAgo(30), hoursAgo(29)), interactionCount: 1 },
  ];
  const group = (server: string, tool: string, count: number, failed: Partial<LatencyGroup> = {}): LatencyGroup => ({
    key: `${server}/${tool}`, server, tool, count, errors: 0, toolErrors: 0, timeouts: 0, errorRate: 0, p50: 1, p95: 1, p99: 1, max: 1, bytesIn: 0, bytesOut: 0, totalMs: 1, ...failed,
  });

  it('counts the sessions active in each bucket, and what failed of each point', () => {
    const x = [hoursAgo(3), hoursAgo(2), hoursAgo(1), hoursAgo(0.5)].map((d) => d.getTime() / 1000);
    // Session a runs from 2 h to 1 h ago: the hours starting 2 h and 1 h ago hold it; the one 3 h ago ends just before.
    expect(activeSessions(sessions, x, 3_600_000)).toEqual([0, 1, 1, 0]);
    const points = [{ t: '2026-11-25T12:00:00.000Z', count: 4, errors: 1, toolErrors: 2, timeouts: 1, errorRate: 1, p50: 1, p95: 9, p99: 9, max: 9 }];
    expect(pointSeries(points, failedCalls)).toEqual({ x: [Date.parse('2026-11-25T12:00:00.000Z') / 1000], y: [4] });
    expect(pointSeries(points, (p) => p.p95).y).toEqual([9]);
  });

  it('the dropped observations of the listed sessions add up, and say so in words', () => {
    expect(droppedObservations(sessions)).toBe(0);
    expect(droppedObservations([{ ...sessions[0]!, droppedObservations: 168 }, { ...sessions[1]!, droppedObservations: 1 }])).toBe(169);
    expect([fmtDropped(1), fmtDropped(1200)]).toEqual(['1 observation dropped', '1,200 observations dropped']);
  });

  it('the usage map links each client to the servers its sessions used, with their calls and the tools of each server', () => {
    const map = usageMap(sessions, [group('everything', 'echo', 2, { toolErrors: 1 }), group('everything', 'add', 5), group('memory', 'read_graph', 1), group('other', 'x', 9)]);
    expect(map.clients).toEqual(['claude', 'cursor']);
    expect(map.servers).toEqual(['everything', 'memory']);
    expect(map.calls.get('claude')?.get('everything')).toBe(3);
    expect(map.calls.get('claude')?.has('memory')).toBe(false);
    expect(map.tools.get('everything')).toEqual([{ tool: 'add', count: 5, errors: 0 }, { tool: 'echo', count: 2, errors: 1 }]);
    expect(map.tools.get('memory')).toEqual([{ tool: 'read_graph', count: 1, errors: 0 }]);
  });
});

describe('formatting', () => {
  it('changes against the previous period', () => {
    expect(delta(12, 10)).toEqual({ text: '+20%', direction: 'up' });
    expect(delta(5, 0)).toEqual({ text: 'new', direction: 'up' });
    expect(delta(0, 0)).toEqual({ text: '±0%', direction: 'flat' });
    expect(delta(null, 3)).toBeNull();
  });
  it('latencies and costs as people read them', () => {
    expect([fmtMs(0), fmtMs(0.5), fmtMs(261.4), fmtMs(1500), fmtMs(null)]).toEqual(['0 ms', '0.50 ms', '261 ms', '1.50 s', '—']);
    expect([fmtUsd(0), fmtUsd(0.0012), fmtUsd(1.25), fmtUsd(1234)]).toEqual(['$0.00', '$0.0012', '$1.25', '$1,234']);
  });
});

describe('session state', () => {
  it('calls a session live only while it has no end and was active recently', () => {
    const now = Date.parse('2026-11-25T12:00:00.000Z');
    expect(sessionState({ endedAt: '2026-11-25T11:59:00.000Z', lastActivityAt: '2026-11-25T11:59:00.000Z' }, now)).toBe('ended');
    expect(sessionState({ endedAt: null, lastActivityAt: new Date(now - 60_000).toISOString() }, now)).toBe('live');
    expect(sessionState({ endedAt: null, lastActivityAt: new Date(now - LIVE_WINDOW_MS - 1).toISOString() }, now)).toBe('no-end');
  });
});
