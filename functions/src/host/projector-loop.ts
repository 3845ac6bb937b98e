import type { Projection } from '@km/shared';
import { describeError, type Logger } from '../logger';
import type { EventLog, ReadModelStore } from '../ports';
import { runProjectorsOnce } from '../projector';
import { startSerialRunner, type SerialRunner } from './serial-runner';

export interface ProjectorLoopOptions {
  log: EventLog;
  store: ReadModelStore;
  projections: ReadonlyArray<Projection<unknown>>;
  logger: Logger;
  /** How often to look for events appended by other processes sharing the database. */
  intervalMs?: number;
  maxBatch?: number;
  /**
   * How long a run waits before it reads, so that events ingested meanwhile fold in the same pages: a page of 2,000
   * events writes each hour and day bucket once where four pages of 500 write it four times. Default 0 (tests).
   */
  coalesceMs?: number;
}

/**
 * notify() after an ingest, so the dashboard sees new events without waiting for the timer; idle() once every
 * projector has caught up; stop() before the database is closed.
 */
export type ProjectorLoop = SerialRunner;

/**
 * The embedded stand-in for the cloud's Event Hubs triggers: runs every projector until it has caught up, on notify
 * and on a timer, reading each page of the log once for all of them. Runs are serialised (a notify during a run
 * schedules one more run, never a second one at once), and a failing projector is logged and retried on the next run
 * without stopping the others.
 */
export function startProjectorLoop(options: ProjectorLoopOptions): ProjectorLoop {
  const { log, store, projections, logger, intervalMs = 1000, maxBatch = 500, coalesceMs = 0 } = options;
  const lastFailure = new Map<string, string>();

  // Logged once per distinct failure (by message: stacks differ run to run), so a stuck projector does not flood
  // km.log every second.
  const reportFailure = (name: string, error: unknown) => {
    const failure = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    if (lastFailure.get(name) !== failure) logger.error(`projector ${name} failed, will retry: ${describeError(error)}`);
    lastFailure.set(name, failure);
  };

  /** Every projector until all have caught up, one shared page at a time; a failing one sits out until the next run. */
  const catchUp = async (stopped: () => boolean) => {
    let running = [...projections];
    while (!stopped() && running.length > 0) {
      let step;
      try {
        step = await runProjectorsOnce(running, log, store, maxBatch);
      } catch (error) {
        // The log itself could not be read: every projector is stuck alike.
        for (const projection of running) reportFailure(projection.name, error);
        return;
      }
      for (const [name, error] of step.failures) reportFailure(name, error);
      running = running.filter((projection) => !step.failures.has(projection.name));
      for (const { name } of running) if (lastFailure.delete(name)) logger.info(`projector ${name} recovered`);
      if (step.handled < maxBatch) break;
      // SQLite calls are synchronous: yield between pages so a long catch-up never starves HTTP requests.
      await new Promise((resolve) => setImmediate(resolve));
    }
  };

  // stop() cuts the wait short, so that it neither delays an exit nor leaves a run waiting on a timer.
  let endWait = () => {};
  return startSerialRunner({
    intervalMs,
    onStop: () => endWait(),
    run: async (stopped) => {
      if (coalesceMs > 0 && !stopped()) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, coalesceMs);
          endWait = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      await catchUp(stopped);
    },
  });
}
