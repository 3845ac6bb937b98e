import { Worker } from 'node:worker_threads';
import { describeError } from '../logger';
import { compiledWorkerFile } from './projector-thread';
import { liveNameOf, type ReplayCopies } from './rebuild';

/** What a rebuild thread is started with: km.db, and the live read models whose copies it folds. */
export interface RebuildThreadData {
  dbPath: string;
  models: string[];
  maxBatch: number;
}
export type ToRebuildThread = { type: 'stop' };
export type FromRebuildThread = { type: 'page'; handled: number } | { type: 'caught-up' } | { type: 'failed'; message: string };

/** The rebuild lanes' compiled worker (rebuild-worker.ts), or null under ts-jest. */
export const rebuildWorkerFile = () => compiledWorkerFile('rebuild-worker');

/**
 * Each read model's share of a rebuild's fold time, measured over the bench's month of interactions (the latency
 * sketches cost about as much as all the others together); a model not listed counts as 1.
 */
const FOLD_WEIGHTS = new Map([
  ['latency', 5],
  ['interactions', 2],
  ['sessions', 1.5],
  ['cost', 1],
  ['risk', 0.5],
  ['funnel', 0.2],
]);

/** The models split into at most `lanes` groups of about equal fold time: each heaviest left goes to the lightest lane. */
export function splitIntoLanes(models: readonly string[], lanes: number): string[][] {
  const weight = (model: string) => FOLD_WEIGHTS.get(model) ?? 1;
  const groups = Array.from({ length: Math.max(1, Math.min(lanes, models.length)) }, () => ({ models: [] as string[], weight: 0 }));
  for (const model of [...models].sort((a, b) => weight(b) - weight(a))) {
    const lightest = groups.reduce((min, group) => (group.weight < min.weight ? group : min));
    lightest.models.push(model);
    lightest.weight += weight(model);
  }
  return groups.map((group) => group.models);
}

/**
 * The bulk of a rebuild on worker threads (rebuild-worker.ts), one per lane, each over its own connection to km.db:
 * the copies' folds use every core while the main thread keeps answering requests. Each lane reads the log for
 * itself; the rebuild's progress is read from the copies' checkpoints, which the lanes write as they go.
 */
export function replayOnThreads(options: { workerFile: string; dbPath: string; maxBatch: number; lanes: number }): ReplayCopies {
  return async (copies, onPage, stopped) => {
    const lanes = splitIntoLanes(copies.map((copy) => liveNameOf(copy.name)), options.lanes);
    const workers: Worker[] = [];
    const finish = (worker: Worker) =>
      new Promise<void>((resolve, reject) => {
        let caughtUp = false;
        let failure: Error | null = null;
        worker.on('message', (message: FromRebuildThread) => {
          if (message.type === 'caught-up') caughtUp = true;
          else if (message.type === 'failed') failure = new Error(message.message);
          else {
            if (stopped()) for (const each of workers) each.postMessage({ type: 'stop' } satisfies ToRebuildThread);
            onPage(message.handled).catch((error: unknown) => (failure ??= error instanceof Error ? error : new Error(String(error))));
          }
        });
        worker.on('error', (error) => (failure ??= new Error(`a rebuild thread failed: ${describeError(error)}`)));
        worker.once('exit', (code) => {
          if (failure) reject(failure);
          else if (caughtUp || stopped()) resolve();
          else reject(new Error(`a rebuild thread exited (code ${code}) before it caught up`));
        });
      });
    const done = lanes.map((models) => {
      const worker = new Worker(options.workerFile, { workerData: { dbPath: options.dbPath, models, maxBatch: options.maxBatch } satisfies RebuildThreadData });
      workers.push(worker);
      return finish(worker);
    });
    try {
      await Promise.all(done);
    } catch (error) {
      // One lane failed: the others' work is thrown away with the copies, so they need not finish it.
      await Promise.all(workers.map((worker) => worker.terminate()));
      throw error;
    }
  };
}
