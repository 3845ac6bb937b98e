/**
 * A background job that runs on notify and on a timer, never twice at once: a notify during a run schedules one
 * more run after it. The embedded projector loop and the budget notifier are both this, over different work.
 */
export interface SerialRunner {
  notify(): void;
  /** Resolves once no run is in flight or scheduled. */
  idle(): Promise<void>;
  /** Stops the timer and waits for the run in flight. */
  stop(): Promise<void>;
  /** Runs fn once no run is in flight, with no run starting until it is done (a notify meanwhile runs after). */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
}

/** The timer the runner waits on: tests pass a fake one and fire it by hand, so no test waits for real time. */
export interface Scheduler {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realScheduler: Scheduler = {
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms);
    timer.unref(); // a background job alone must never keep a process alive
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** What a failing run is told: how many runs in a row failed, and when the next one is. */
export interface RunFailure {
  consecutive: number;
  retryInMs: number;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

export function startSerialRunner(options: {
  /** One run; `stopped()` turns true once stop() was called, for work that loops. A throw is a failed run. */
  run: (stopped: () => boolean) => Promise<void>;
  intervalMs: number;
  /**
   * After failed runs the timer waits intervalMs * 2^failures, up to this (default intervalMs: no backoff), so
   * a broken disk or store is not hammered every second.
   */
  maxBackoffMs?: number;
  /** Told of each failed run (the runner itself never logs). */
  onFailure?: (error: unknown, failure: RunFailure) => void;
  /** Told of the first run that succeeds after failures. */
  onRecovery?: (failedRuns: number) => void;
  /** Called first by stop(), e.g. to cut a slow delivery short. */
  onStop?: () => void;
  scheduler?: Scheduler;
}): SerialRunner {
  const { intervalMs, scheduler = realScheduler } = options;
  const maxBackoffMs = Math.max(intervalMs, options.maxBackoffMs ?? intervalMs);
  let stopped = false;
  let running: Promise<void> | null = null;
  let runAgain = false;
  let failures = 0;
  let timer: unknown = null;
  const isStopped = () => stopped;

  const nextDelay = () => Math.min(MAX_TIMER_MS, failures === 0 ? intervalMs : Math.min(maxBackoffMs, intervalMs * 2 ** failures));

  const schedule = () => {
    if (timer !== null) scheduler.clearTimeout(timer);
    timer = null;
    if (stopped) return;
    timer = scheduler.setTimeout(() => {
      timer = null;
      notify();
    }, nextDelay());
  };

  const runOnce = async () => {
    try {
      await options.run(isStopped);
      if (failures > 0) options.onRecovery?.(failures);
      failures = 0;
    } catch (error) {
      failures++;
      options.onFailure?.(error, { consecutive: failures, retryInMs: nextDelay() });
    }
  };

  let held = 0;
  let notifiedWhileHeld = false;

  function notify(): void {
    if (stopped) return;
    if (held > 0) {
      notifiedWhileHeld = true;
      return;
    }
    if (running) {
      runAgain = true;
      return;
    }
    running = (async () => {
      do {
        runAgain = false;
        await runOnce();
        // After a failure the next try waits for the backoff timer, however often notify is called meanwhile.
      } while (runAgain && !stopped && failures === 0);
    })().finally(() => {
      running = null;
      schedule();
    });
  }

  notify(); // catch up on what arrived while nobody was looking

  return {
    notify,
    async idle() {
      while (running) await running;
    },
    async stop() {
      stopped = true;
      options.onStop?.();
      schedule();
      await running;
    },
    async exclusive(fn) {
      held++;
      try {
        while (running) await running;
        return await fn();
      } finally {
        held--;
        if (held === 0 && notifiedWhileHeld) {
          notifiedWhileHeld = false;
          notify();
        }
      }
    },
  };
}
