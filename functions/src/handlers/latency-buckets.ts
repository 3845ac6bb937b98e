import { latencyProjection, own, PERIOD_LENGTH_MS, scopeName, type BucketRef, type LatencyBucketDoc, type LatencyScope, type StoredStats } from '@km/shared';
import type { ReadModelStore } from '../ports';

/**
 * The bucket documents that exist among refs, in the order of refs (quiet periods have none), as stored: their stats
 * leave out empty fields, which mergeAllStats reads as they are (expanding 30 days of tools would cost as much as
 * parsing them). One range query per run of consecutive buckets of one granularity (a project's 30 days are 720
 * hours: one query, not 720 point reads; the org's are its edge hours and its days: at most three).
 */
export async function readLatencyBuckets(store: ReadModelStore, orgId: string, scope: LatencyScope, refs: readonly BucketRef[]): Promise<Array<LatencyBucketDoc | null>> {
  const found = new Map<string, LatencyBucketDoc>();
  const runs = consecutiveRuns(refs);
  const pages = await Promise.all(
    runs.map((run) =>
      store.query<LatencyBucketDoc>(latencyProjection.name, orgId, {
        where: { scope: scopeName(scope), granularity: run.granularity },
        orderBy: 'period',
        between: { from: new Date(run.fromMs).toISOString(), to: new Date(run.lastMs).toISOString() },
      }),
    ),
  );
  for (const doc of pages.flat()) found.set(`${doc.granularity}|${doc.period}`, doc);
  return refs.map((ref) => found.get(`${ref.granularity}|${new Date(ref.periodMs).toISOString()}`) ?? null);
}

/** refs cut where the granularity changes or a bucket does not follow the one before. */
function consecutiveRuns(refs: readonly BucketRef[]): Array<{ granularity: BucketRef['granularity']; fromMs: number; lastMs: number }> {
  const runs: Array<{ granularity: BucketRef['granularity']; fromMs: number; lastMs: number }> = [];
  for (const ref of refs) {
    const run = runs[runs.length - 1];
    if (run && run.granularity === ref.granularity && run.lastMs + PERIOD_LENGTH_MS[ref.granularity] === ref.periodMs) run.lastMs = ref.periodMs;
    else runs.push({ granularity: ref.granularity, fromMs: ref.periodMs, lastMs: ref.periodMs });
  }
  return runs;
}

/** The stats of a bucket that pass the filters: all of it, one server, one server's tool, or a tool on every server. */
export function filteredStats(doc: LatencyBucketDoc, filters: { server?: string; tool?: string }): StoredStats[] {
  if (filters.tool === undefined) return filters.server === undefined ? [doc.total] : [own(doc.servers, filters.server) ?? {}];
  return Object.values(doc.tools).filter(({ server, tool }) => tool === filters.tool && (filters.server === undefined || server === filters.server));
}
