import { instantRange, LATENCY_RANGE_MAX_DAYS, type LatencyScope } from '@km/shared';
import type { ReadModelStore } from '../ports';
import { teamUsers } from '../teams/team-directory';

export interface TimeRange {
  fromMs: number;
  toMs: number;
}

/** from/to of a latency route (the contract parsed them): the last 24 hours by default, at most 92 days. */
export const latencyRange = (given: { from?: number | undefined; to?: number | undefined }, now: Date): TimeRange => instantRange(given, now, LATENCY_RANGE_MAX_DAYS);

/** projectId or userId (the contract allows one) narrows the org to one project or user. */
export function latencyScope({ projectId, userId }: { projectId?: string | undefined; userId?: string | undefined }): LatencyScope {
  if (projectId !== undefined) return userId !== undefined ? { kind: 'project', id: projectId, userId } : { kind: 'project', id: projectId };
  if (userId !== undefined) return { kind: 'user', id: userId };
  return { kind: 'org' };
}

/**
 * The scopes a latency route reads: the one of projectId or userId, or a team's users, each user's buckets merged with
 * the others' like any buckets (a team the org does not have is a 404).
 */
export async function latencyScopes(store: ReadModelStore, orgId: string, params: { projectId?: string | undefined; userId?: string | undefined; teamId?: string | undefined }): Promise<LatencyScope[]> {
  if (params.teamId === undefined) return [latencyScope(params)];
  return [...(await teamUsers(store, orgId, params.teamId))].sort().map((id) => ({ kind: 'user', id }));
}

/** The server and tool filters, for the routes that keep them. */
export const serverTool = ({ server, tool }: { server?: string | undefined; tool?: string | undefined }) => ({
  ...(server !== undefined ? { server } : {}),
  ...(tool !== undefined ? { tool } : {}),
});
