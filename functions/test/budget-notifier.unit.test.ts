import { newEventId } from '@km/shared';
import { MemoryEventLog } from '../src/adapters/memory-event-log';
import { MemoryReadModelStore } from '../src/adapters/memory-read-model-store';
import { BUDGET_NOTIFIER_MAX_BACKOFF_MS, startBudgetNotifier } from '../src/host/budget-notifier';
import type { Scheduler } from '../src/host/serial-runner';

/** A scheduler whose timers fire only when the test says so: the waits are asserted, never waited for. */
function aFakeScheduler() {
  const pending = new Map<number, { callback: () => void; ms: number }>();
  let next = 0;
  const scheduler: Scheduler = {
    setTimeout(callback, ms) {
      pending.set(++next, { callback, ms });
      return next;
    },
    clearTimeout: (handle) => void pending.delete(handle as number),
  };
  return {
    scheduler,
    /** The one timer the runner has set, as its delay. */
    waitingMs() {
      expect(pending.size).toBe(1);
      return [...pending.values()][0]!.ms;
    },
    fire() {
      const [handle, timer] = [...pending.entries()][0]!;
      pending.delete(handle);
      timer.callback();
    },
  };
}

/** The event log as a full disk or a store that is down shows it: every read throws, until it is fixed. */
function aLogThatFails() {
  const log = new MemoryEventLog();
  const state = { broken: true };
  const getCheckpoint = log.getCheckpoint.bind(log);
  log.getCheckpoint = async (name: string) => {
    if (state.broken) throw new Error('SQLITE_FULL: database or disk is full');
    return getCheckpoint(name);
  };
  return { log, state };
}

function aLogger() {
  const lines: string[] = [];
  return { lines, logger: { info: (m: string) => lines.push(`info ${m}`), warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`) } };
}

describe('the budget notifier while its event log fails', () => {
  it('backs off exponentially up to 5 minutes, logs the failure once, and logs once more when it recovers', async () => {
    const { log, state } = aLogThatFails();
    const { lines, logger } = aLogger();
    const clock = aFakeScheduler();
    const notifier = startBudgetNotifier({ log, store: new MemoryReadModelStore(), logger, intervalMs: 1000, scheduler: clock.scheduler });
    await notifier.idle();

    const waits: number[] = [];
    for (let run = 0; run < 12; run++) {
      waits.push(clock.waitingMs());
      clock.fire();
      await notifier.idle();
    }
    expect(waits).toEqual([2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000, 300_000, 300_000]);
    expect(BUDGET_NOTIFIER_MAX_BACKOFF_MS).toBe(300_000);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error budget notifier failed; retrying with backoff up to 300 s.*SQLITE_FULL: database or disk is full/s);

    // A notify while backing off does not hammer the broken log: the next try still waits for the timer.
    notifier.notify();
    await notifier.idle();
    expect(clock.waitingMs()).toBe(300_000);

    state.broken = false;
    await log.append([
      {
        id: newEventId(),
        v: 1,
        type: 'budget.set',
        ts: '2026-11-25T12:00:00.000Z',
        orgId: 'org-a',
        scope: 'org',
        projectId: null,
        monthlyUsd: 5,
        webhookUrl: null,
        receivedAt: '2026-11-25T12:00:00.000Z',
        batchId: 'api:org-budget',
      },
    ]);
    clock.fire();
    await notifier.idle();
    expect(lines.slice(1)).toEqual(['info budget notifier recovered after 14 failed run(s)']);
    expect(await log.getCheckpoint('budget-webhooks')).toBe(1);
    expect(clock.waitingMs()).toBe(1000);

    // Failing again is a new outage: logged once more.
    state.broken = true;
    clock.fire();
    await notifier.idle();
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(/^error budget notifier failed/);
    expect(clock.waitingMs()).toBe(2000);

    await notifier.stop();
    expect(() => clock.waitingMs()).toThrow(); // no timer left behind
  });
});
