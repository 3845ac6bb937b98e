import { instantRange, LATENCY_RANGE_MAX_DAYS, type LatencyScope } from '@km/shared';

export interface TimeRange {
  fromMs: number;
  toMs: number;
}

/** from/to of a latency route (the contract parsed them): the last 24 hours by default, at most 92 days. */
export const latencyRange = (given: { from?: number | undefined; to?: number | undefined }, now: Date): TimeRange => instantRange(given, now, LATENCY_RANGE_MAX_DAYS);

/** projectId or userId (the contract allows one) narrows the org to one project or user. */
export function latencyScope({ projectId, userId }: { projectId?: string | undefined; userId?: string | undefined }): LatencyScope {
  if (projectId !== undefined) return { kind: 'project', id: projectId };
  if (userId !== undefined) return { kind: 'user', id: userId };
  return { kind: 'org' };
}

/** The server and tool filters, for the routes that keep them. */
export const serverTool = ({ server, tool }: { server?: string | undefined; tool?: string | undefined }) => ({
  ...(server !== undefined ? { server } : {}),
  ...(tool !== undefined ? { tool } : {}),
});
