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
}

export function startSerialRunner(options: {
  /** One run; `stopped()` turns true once stop() was called, for work that loops. Must not throw. */
  run: (stopped: () => boolean) => Promise<void>;
  intervalMs: number;
  /** Called first by stop(), e.g. to cut a slow delivery short. */
  onStop?: () => void;
}): SerialRunner {
  let stopped = false;
  let running: Promise<void> | null = null;
  let runAgain = false;
  const isStopped = () => stopped;

  const notify = () => {
    if (stopped) return;
    if (running) {
      runAgain = true;
      return;
    }
    running = (async () => {
      do {
        runAgain = false;
        await options.run(isStopped);
      } while (runAgain && !stopped);
    })().finally(() => {
      running = null;
    });
  };

  const timer = setInterval(notify, options.intervalMs);
  timer.unref(); // a background job alone must never keep a process alive
  notify(); // catch up on what arrived while nobody was looking

  return {
    notify,
    async idle() {
      while (running) await running;
    },
    async stop() {
      stopped = true;
      options.onStop?.();
      clearInterval(timer);
      await running;
    },
  };
}
