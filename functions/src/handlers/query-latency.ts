import { bucketsCovering, latencyRoute, mergeAllStats, wholeHoursCovering, summarizeStats, type LatencyBucketDoc, type LatencyScope, type LatencySummary, type RouteParams, type StoredStats } from '@km/shared';
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
  // Keyed by key and labels together: "a/b" + "c" and "a" + "b/c" display alike but are different tools.
  // Each group's stats are merged once at the end: one merge of 30 days, not 30 days of pairwise merges.
  const groups = new Map<string, { key: string; server?: string; tool?: string; parts: StoredStats[] }>();
  const add = (key: string, labels: { server?: string; tool?: string }, stats: StoredStats) => {
    const id = JSON.stringify([key, labels.server ?? null, labels.tool ?? null]);
    const group = groups.get(id) ?? { key, ...labels, parts: [] };
    group.parts.push(stats);
    groups.set(id, group);
  };
  for (const doc of docs) for (const [key, labels, stats] of groupsOf(doc, params.groupBy, filters)) add(key, labels, stats);
  const result: LatencyGroup[] = [...groups.values()].map(({ parts, ...labels }) => ({ ...labels, ...summarizeStats(mergeAllStats(parts)) }));
  result.sort((a, b) => b.totalMs - a.totalMs || b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const covered = wholeHoursCovering(range.fromMs, range.toMs);
  // Everything the filters pass, as one: percentiles of all calls cannot be made from the groups' own.
  const total = summarizeStats(mergeAllStats(docs.flatMap((doc) => filteredStats(doc, filters))));
  return {
    from: new Date(covered.fromMs).toISOString(),
    to: new Date(covered.toMs).toISOString(),
    groupBy: params.groupBy,
    total,
    groups: result,
  };
});

function groupsOf(doc: LatencyBucketDoc, groupBy: LatencyGrouping, filters: { server?: string; tool?: string }): Array<[string, { server?: string; tool?: string }, StoredStats]> {
  switch (groupBy) {
    case 'server':
      return Object.entries(doc.servers)
        .filter(([server]) => filters.server === undefined || server === filters.server)
        .map(([server, stats]) => [server, { server }, stats]);
    case 'tool':
      return Object.values(doc.tools)
        .filter(({ server, tool }) => (filters.server === undefined || server === filters.server) && (filters.tool === undefined || tool === filters.tool))
        .map(({ server, tool, ...stats }) => [`${server}/${tool}`, { server, tool }, stats]);
    case 'method':
      return Object.entries(doc.methods).map(([method, stats]) => [method, {}, stats]);
  }
}
