import { bucketsCovering, mergeAllStats, wholeHoursCovering, summarizeStats, type LatencyBucketDoc, type LatencySummary, type StoredStats } from '@km/shared';
import type { Authenticator, ReadModelStore } from '../ports';
import { authenticateRequest } from './authenticate-request';
import { errorResponse, jsonResponse, withUnexpectedErrorsAs500, type HttpHandler } from './http-results';
import { filteredStats, readLatencyBuckets } from './latency-buckets';
import { enumParam, latencyWindow } from './latency-params';
import { refuseParams } from './query-params';

export interface LatencyQueryDeps {
  readModelStore: ReadModelStore;
  authenticator: Authenticator;
  now: () => Date;
}

export const LATENCY_GROUPINGS = ['server', 'tool', 'method'] as const;
export type LatencyGrouping = (typeof LATENCY_GROUPINGS)[number];

export type LatencyGroup = { key: string; server?: string; tool?: string } & LatencySummary;

/**
 * GET /api/latency?groupBy=server|tool|method&from&to&projectId|userId&server&tool: latency, errors and bytes per group
 * over the range widened to whole UTC hours (the from and to answered), percentiles from the merged bucket sketches.
 * Groups by total waiting time, largest first.
 */
export function makeQueryLatencyHandler(deps: LatencyQueryDeps): HttpHandler {
  return withUnexpectedErrorsAs500(async (request) => {
    const auth = await authenticateRequest(deps.authenticator, request);
    if ('response' in auth) return auth.response;
    const query = request.query;
    const groupBy = enumParam(query, 'groupBy', LATENCY_GROUPINGS, 'server');
    if ('error' in groupBy) return errorResponse(400, groupBy.error);
    const window = latencyWindow(query, deps.now());
    if ('error' in window) return errorResponse(400, window.error);
    const { range, scope, filters } = window.value;
    if (groupBy.value === 'method') {
      const refused = refuseParams(query, ['server', 'tool'], 'methods are kept per org, project or user, not per server; use groupBy=server or groupBy=tool');
      if ('error' in refused) return errorResponse(400, refused.error);
    }
    if (groupBy.value === 'server') {
      const refused = refuseParams(query, ['tool'], 'a tool filter needs groupBy=tool');
      if ('error' in refused) return errorResponse(400, refused.error);
    }

    const docs = await readLatencyBuckets(deps.readModelStore, auth.caller.orgId, scope, bucketsCovering(range.fromMs, range.toMs, scope));
    // Keyed by key and labels together: "a/b" + "c" and "a" + "b/c" display alike but are different tools.
    // Each group's stats are merged once at the end: one merge of 30 days, not 30 days of pairwise merges.
    const groups = new Map<string, { key: string; server?: string; tool?: string; parts: StoredStats[] }>();
    const add = (key: string, labels: { server?: string; tool?: string }, stats: StoredStats) => {
      const id = JSON.stringify([key, labels.server ?? null, labels.tool ?? null]);
      const group = groups.get(id) ?? { key, ...labels, parts: [] };
      group.parts.push(stats);
      groups.set(id, group);
    };
    for (const doc of docs) {
      if (doc) for (const [key, labels, stats] of groupsOf(doc, groupBy.value, filters)) add(key, labels, stats);
    }
    const result: LatencyGroup[] = [...groups.values()].map(({ parts, ...labels }) => ({ ...labels, ...summarizeStats(mergeAllStats(parts)) }));
    result.sort((a, b) => b.totalMs - a.totalMs || b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const covered = wholeHoursCovering(range.fromMs, range.toMs);
    // Everything the filters pass, as one: percentiles of all calls cannot be made from the groups' own.
    const total = summarizeStats(mergeAllStats(docs.flatMap((doc) => (doc ? filteredStats(doc, filters) : []))));
    return jsonResponse(200, {
      from: new Date(covered.fromMs).toISOString(),
      to: new Date(covered.toMs).toISOString(),
      groupBy: groupBy.value,
      total,
      groups: result,
    });
  });
}

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
