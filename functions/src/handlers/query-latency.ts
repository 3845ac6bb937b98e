import { bucketsCovering, latencyRoute, wholeHoursCovering, summarizeAllStats, toolGroupKey, type LatencyBucketDoc, type LatencyScope, type LatencySummary, type RouteParams, type StoredStats } from '@km/shared';
import type { Authenticator, ReadModelStore } from '../ports';
import { filteredStats, readLatencyBuckets } from './latency-buckets';
import { latencyRange, latencyScopes, serverTool } from './latency-params';
import { routeHandler } from './route-handler';

export interface LatencyQueryDeps {
  readModelStore: ReadModelStore;
  authenticator: Authenticator;
  now: () => Date;
}

export type LatencyGrouping = RouteParams<typeof latencyRoute>['groupBy'];

export type LatencyGroup = { key: string; server?: string; tool?: string } & LatencySummary;

/**
 * GET /api/latency?groupBy=server|tool|method&from&to&projectId|userId&server&tool: latency, errors and bytes per group
 * over the range widened to whole UTC hours (the from and to answered), percentiles from the merged bucket sketches.
 * Groups by total waiting time, largest first.
 */
export const makeQueryLatencyHandler = routeHandler(latencyRoute, async (caller, params, deps: LatencyQueryDeps) => {
  const range = latencyRange(params, deps.now());
  const filters = serverTool(params);
  // A team's latency is its users' calls: each user's buckets, merged with the others' like any buckets.
  const scopes: LatencyScope[] = await latencyScopes(deps.readModelStore, caller.orgId, params);
  const docs = (
    await Promise.all(scopes.map((scope) => readLatencyBuckets(deps.readModelStore, caller.orgId, scope, bucketsCovering(range.fromMs, range.toMs, scope))))
  ).flat(2);
  // Each group's stats are merged once at the end: one merge of 30 days, not 30 days of pairwise merges.
  const groups = new Map<string, { key: string; server?: string; tool?: string; parts: StoredStats[] }>();
  for (const doc of docs) {
    for (const [id, group, stats] of groupsOf(doc, params.groupBy, filters)) {
      const known = groups.get(id);
      if (known) known.parts.push(stats);
      else groups.set(id, { ...group, parts: [stats] });
    }
  }
  const result: LatencyGroup[] = [...groups.values()].map(({ parts, ...labels }) => ({ ...labels, ...summarizeAllStats(parts) }));
  result.sort((a, b) => b.totalMs - a.totalMs || b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const covered = wholeHoursCovering(range.fromMs, range.toMs);
  // Everything the filters pass, as one: percentiles of all calls cannot be made from the groups' own.
  const total = summarizeAllStats(docs.flatMap((doc) => filteredStats(doc, filters)));
  return {
    from: new Date(covered.fromMs).toISOString(),
    to: new Date(covered.toMs).toISOString(),
    groupBy: params.groupBy,
    total,
    groups: result,
  };
});

type Group = { key: string; server?: string; tool?: string };

/**
 * A bucket's stats per group, each with the group's id: its key, or for a tool its server and name together (the
 * server's length first: "a/b" + "c" and "a" + "b/c" display alike but are different tools). A tool's stats are
 * passed as stored, labels and all: merging reads only the stats' fields.
 */
function groupsOf(doc: LatencyBucketDoc, groupBy: LatencyGrouping, filters: { server?: string; tool?: string }): Array<[string, Group, StoredStats]> {
  switch (groupBy) {
    case 'server':
      return Object.entries(doc.servers)
        .filter(([server]) => filters.server === undefined || server === filters.server)
        .map(([server, stats]) => [server, { key: server, server }, stats]);
    case 'tool':
      return Object.values(doc.tools)
        .filter(({ server, tool }) => (filters.server === undefined || server === filters.server) && (filters.tool === undefined || tool === filters.tool))
        .map((stats) => [`${stats.server.length}:${stats.server}/${stats.tool}`, { key: toolGroupKey(stats.server, stats.tool), server: stats.server, tool: stats.tool }, stats]);
    case 'method':
      return Object.entries(doc.methods).map(([method, stats]) => [method, { key: method }, stats]);
  }
}
