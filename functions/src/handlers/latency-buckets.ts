import { latencyProjection, own, PERIOD_LENGTH_MS, periodStart, scopeName, slowInteractionOf, type BucketRef, type LatencyBucketDoc, type LatencyScope, type SessionDayDoc, type StoredStats } from '@km/shared';
import type { ReadModelStore } from '../ports';

/**
 * The bucket documents that make up each of refs, in the order of refs (a quiet period has none), as stored: their
 * stats leave out empty fields, which mergeAllStats reads as they are (expanding 30 days of tools would cost as much
 * as parsing them). The org's buckets are one document each; a project's or user's hour is the hours of its
 * sessions (SessionDayDoc), each read as a bucket of its own, plus the hour document stores written before kept for
 * that scope. One range query per run of consecutive buckets of one granularity (a project's 30 days are 720 hours:
 * one query, not 720 point reads; the org's are its edge hours and its days: at most three), and one for the session
 * days of the range.
 */
export async function readLatencyBuckets(store: ReadModelStore, orgId: string, scope: LatencyScope, refs: readonly BucketRef[]): Promise<LatencyBucketDoc[][]> {
  const found = new Map<string, LatencyBucketDoc[]>();
  const add = (doc: LatencyBucketDoc) => {
    const key = `${doc.granularity}|${doc.period}`;
    const parts = found.get(key);
    if (parts) parts.push(doc);
    else found.set(key, [doc]);
  };
  const runs = consecutiveRuns(refs);
  // Hour documents of a project from older stores hold every user's calls: a project's user reads session days only.
  const bucketRuns = scope.kind === 'project' && scope.userId !== undefined ? [] : runs;
  const [pages, sessionDays] = await Promise.all([
    Promise.all(
      bucketRuns.map((run) =>
        store.query<LatencyBucketDoc>(latencyProjection.name, orgId, {
          where: { scope: scopeName(scope), granularity: run.granularity },
          orderBy: 'period',
          between: { from: new Date(run.fromMs).toISOString(), to: new Date(run.lastMs).toISOString() },
        }),
      ),
    ),
    scope.kind === 'org' || refs.length === 0 ? [] : readSessionDays(store, orgId, scope, refs),
  ]);
  for (const doc of pages.flat()) add(doc);
  for (const day of sessionDays) {
    for (const [period, hour] of Object.entries(day.hours)) {
      add({ id: day.id, orgId, scope: scopeName(scope), granularity: 'hour', period, ...hour, slowest: hour.slowest.map((entry) => slowInteractionOf(entry, day.sessionId)) });
    }
  }
  return refs.map((ref) => found.get(`${ref.granularity}|${new Date(ref.periodMs).toISOString()}`) ?? []);
}

/** The session days of a project (or of one of its users) or of a user over the days that refs (hours) lie in. */
function readSessionDays(store: ReadModelStore, orgId: string, scope: Exclude<LatencyScope, { kind: 'org' }>, refs: readonly BucketRef[]): Promise<SessionDayDoc[]> {
  const day = (ms: number) => new Date(periodStart(ms, 'day')).toISOString();
  const periods = refs.map((ref) => ref.periodMs);
  return store.query<SessionDayDoc>(latencyProjection.name, orgId, {
    where: scope.kind === 'project' ? { projectId: scope.id, ...(scope.userId !== undefined ? { userId: scope.userId } : {}) } : { userId: scope.id },
    orderBy: 'day',
    between: { from: day(Math.min(...periods)), to: day(Math.max(...periods)) },
  });
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
