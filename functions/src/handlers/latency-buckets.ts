import { latencyBucketId, latencyProjection, own, type BucketRef, type LatencyBucketDoc, type LatencyScope, type StoredStats } from '@km/shared';
import type { ReadModelStore } from '../ports';

/** Point reads in flight at once: enough to hide latency against Cosmos DB, few enough not to flood it. */
const PARALLEL_READS = 32;

/**
 * The bucket documents that exist among refs, in the order of refs (quiet periods have none), as stored: their stats
 * leave out empty fields, which mergeAllStats reads as they are (expanding 30 days of tools would cost as much as
 * parsing them).
 */
export async function readLatencyBuckets(store: ReadModelStore, orgId: string, scope: LatencyScope, refs: readonly BucketRef[]): Promise<Array<LatencyBucketDoc | null>> {
  const docs: Array<LatencyBucketDoc | null> = [];
  for (let i = 0; i < refs.length; i += PARALLEL_READS) {
    const chunk = refs.slice(i, i + PARALLEL_READS);
    const found = await Promise.all(chunk.map((ref) => store.get<LatencyBucketDoc>(latencyProjection.name, orgId, latencyBucketId(scope, ref.granularity, ref.periodMs))));
    docs.push(...found.map((stored) => stored?.doc ?? null));
  }
  return docs;
}

/** The stats of a bucket that pass the filters: all of it, one server, one server's tool, or a tool on every server. */
export function filteredStats(doc: LatencyBucketDoc, filters: { server?: string; tool?: string }): StoredStats[] {
  if (filters.tool === undefined) return filters.server === undefined ? [doc.total] : [own(doc.servers, filters.server) ?? {}];
  return Object.values(doc.tools).filter(({ server, tool }) => tool === filters.tool && (filters.server === undefined || server === filters.server));
}
