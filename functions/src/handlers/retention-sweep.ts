import type { InvocationContext, Timer } from '@azure/functions';
import type { RetentionDoc } from '../retention/retention';

/** What a sweep did per org; null: the embedded stack swept (it logs its own). */
export type SweepOutcome = ReadonlyMap<string, RetentionDoc['lastSweep']> | null;

export type RetentionSweepTimer = (timer: Timer, context: InvocationContext) => Promise<void>;

/**
 * The cloud's retention sweep, hourly (a timer trigger runs on one instance at a time): sweepRetention over the
 * read models and the audit archive, as km serve runs it at start and every hour. A failure is thrown: the host
 * logs it and the next hour sweeps again, and the checkpoint saved before any removal keeps the chain whole.
 */
export function makeRetentionSweepTimer(sweep: () => Promise<SweepOutcome>): RetentionSweepTimer {
  return async (timer, context) => {
    const swept = await sweep();
    const removed = [...(swept?.values() ?? [])].reduce((sum, last) => sum + (last?.eventsRemoved ?? 0), 0);
    context.log(`retention-sweep: ${swept?.size ?? 0} org(s) with a retention, ${removed} event(s) removed${timer.isPastDue ? ' (past due)' : ''}`);
  };
}
