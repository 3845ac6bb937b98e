import {
  latencyProjection,
  own,
  PERIOD_LENGTH_MS,
  periodStart,
  scopeName,
  SESSION_HOURS_KEPT_MS,
  sessionsProjection,
  type BucketRef,
  type LatencyBucketDoc,
  type LatencyScope,
  type SessionDayDoc,
  type SessionDoc,
  type SessionHours,
  type StoredStats,
} from '@km/shared';
import type { ReadModelStore } from '../ports';

/**
 * The bucket documents that make up each of refs, in the order of refs (a quiet period has none), as stored: their
 * stats leave out empty fields, which mergeAllStats reads as they are (expanding 30 days of tools would cost as much
 * as parsing them). The org's buckets are one document each; a project's or user's hour is the hours of its
 * sessions (SessionDoc.latencyHours), each read as a bucket of its own, plus what stores written before kept for
 * that scope (hour documents, and session days). One range query per run of consecutive buckets of one granularity
 * (a project's 30 days are 720 hours: one query, not 720 point reads; the org's are its edge hours and its days: at
 * most three), and for a project or user one of the session documents and one of the older session days.
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
  const [pages, sessionHours] = await Promise.all([
    Promise.all(
      runs.map((run) =>
        store.query<LatencyBucketDoc>(latencyProjection.name, orgId, {
          where: { scope: scopeName(scope), granularity: run.granularity },
          orderBy: 'period',
          between: { from: new Date(run.fromMs).toISOString(), to: new Date(run.lastMs).toISOString() },
        }),
      ),
    ),
    scope.kind === 'org' || refs.length === 0 ? [] : readSessionHours(store, orgId, scope, refs),
  ]);
  for (const doc of pages.flat()) add(doc);
  // Hours outside refs are never asked for (refs.map below), so a session's hours are added whole.
  for (const { id, hours } of sessionHours) {
    for (const [period, hour] of Object.entries(hours)) add({ id, orgId, scope: scopeName(scope), granularity: 'hour', period, ...hour });
  }
  return refs.map((ref) => found.get(`${ref.granularity}|${new Date(ref.periodMs).toISOString()}`) ?? []);
}

/**
 * The hours of a project's or user's sessions that may reach into refs (hours): the session documents whose newest
 * hour is from the first ref on and at most SESSION_HOURS_KEPT_MS after the last (a session keeps no hour older than
 * that before its newest, so one ending later has none in the range): a query bounded by the range, in the tenant's
 * partition. Plus the latency model's session days of those days, which stores written before hold: for the
 * sessions whose document began before it kept hours (latencyBefore) or that have none (a session document from
 * before, not written since); a session document that has them all (folded since, or rebuilt) makes its days redundant.
 */
async function readSessionHours(store: ReadModelStore, orgId: string, scope: Exclude<LatencyScope, { kind: 'org' }>, refs: readonly BucketRef[]): Promise<Array<{ id: string; hours: SessionHours }>> {
  const periods = refs.map((ref) => ref.periodMs);
  const firstMs = Math.min(...periods);
  const lastMs = Math.max(...periods);
  const where: Record<string, string> = scope.kind === 'project' ? { projectId: scope.id } : { userId: scope.id };
  const [sessions, days] = await Promise.all([
    store.query<SessionDoc>(sessionsProjection.name, orgId, {
      where,
      orderBy: 'latencyUntil',
      between: { from: new Date(firstMs).toISOString(), to: new Date(lastMs + SESSION_HOURS_KEPT_MS).toISOString() },
    }),
    store.query<SessionDayDoc>(latencyProjection.name, orgId, {
      where,
      orderBy: 'day',
      between: { from: new Date(periodStart(firstMs, 'day')).toISOString(), to: new Date(periodStart(lastMs, 'day')).toISOString() },
    }),
  ]);
  const complete = new Set(sessions.filter((session) => !session.latencyBefore).map((session) => session.id));
  return [
    ...sessions.map((session) => ({ id: session.id, hours: session.latencyHours ?? {} })),
    ...days.filter((day) => day.kind === 'sessionDay' && !complete.has(day.sessionId)).map((day) => ({ id: day.id, hours: day.hours })),
  ];
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
