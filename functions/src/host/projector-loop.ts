import type { Projection } from '@km/shared';
import { describeError, type Logger } from '../logger';
import type { EventLog, ReadModelStore } from '../ports';
import { runProjectorOnce } from '../projector';
import { startSerialRunner, type SerialRunner } from './serial-runner';

export interface ProjectorLoopOptions {
  log: EventLog;
  store: ReadModelStore;
  projections: ReadonlyArray<Projection<unknown>>;
  logger: Logger;
  /** How often to look for events appended by other processes sharing the database. */
  intervalMs?: number;
  maxBatch?: number;
}

/**
 * notify() after an ingest, so the dashboard sees new events without waiting for the timer; idle() once every
 * projector has caught up; stop() before the database is closed.
 */
export type ProjectorLoop = SerialRunner;

/**
 * The embedded stand-in for the cloud's Event Hubs triggers: runs every projector until it has caught up, on
 * notify and on a timer. Runs are serialised (a notify during a run schedules one more run, never a second one
 * at once), and a failing projector is logged and retried on the next run without stopping the others.
 */
export function startProjectorLoop(options: ProjectorLoopOptions): ProjectorLoop {
  const { log, store, projections, logger, intervalMs = 1000, maxBatch = 500 } = options;
  const lastFailure = new Map<string, string>();

  const catchUp = async (projection: Projection<unknown>, stopped: () => boolean) => {
    try {
      while (!stopped() && (await runProjectorOnce(projection, log, store, maxBatch)) === maxBatch) {
        // SQLite calls are synchronous: yield between pages so a long catch-up never starves HTTP requests.
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (lastFailure.delete(projection.name)) logger.info(`projector ${projection.name} recovered`);
    } catch (error) {
      // Logged once per distinct failure (by message: stacks differ run to run), so a stuck projector does not
      // flood km.log every second.
      const failure = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      if (lastFailure.get(projection.name) !== failure) {
        logger.error(`projector ${projection.name} failed, will retry: ${describeError(error)}`);
      }
      lastFailure.set(projection.name, failure);
    }
  };

  return startSerialRunner({
    intervalMs,
    run: async (stopped) => {
      for (const projection of projections) await catchUp(projection, stopped);
    },
  });
}
