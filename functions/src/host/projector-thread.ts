import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describeError, type Logger } from '../logger';
import type { ProjectorLoop, ProjectorLoopOptions } from './projector-loop';

/** What the projector thread is started with: where km.db is and how its loop runs. */
export interface ProjectorThreadData {
  dbPath: string;
  loop: Pick<ProjectorLoopOptions, 'intervalMs' | 'maxBatch' | 'coalesceMs'>;
}

export type ToProjectorThread = { type: 'notify' } | { type: 'resume' } | { type: 'idle' | 'pause' | 'stop'; id: number };
export type FromProjectorThread = { type: 'log'; level: keyof Logger; message: string } | { type: 'done'; id: number };

/**
 * The projector thread's young generation: V8's default (up to 48 MB, grown under the folds' allocation pressure) was
 * most of what km serve's resident set grew by while folding; the folds' garbage is short-lived, so a small one costs
 * little more scavenging. Measured over 300k events: peak RSS 312 -> 271-281 MB, RSS after the burst 300 -> 196 MB.
 */
const PROJECTOR_RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 8 };
/** After an unexpected exit the thread is started again this much later (a crash loop never spins a core). */
const RESTART_DELAY_MS = 1000;

/**
 * A compiled worker next to this module: functions/dist/host in the Functions app, the CLI's bundle directory in
 * km. Under ts-jest there is none (null), and its work runs on the calling thread instead.
 */
export function compiledWorkerFile(name: string): string | null {
  const file = join(__dirname, `${name}.js`);
  return existsSync(file) ? file : null;
}

/** The projector loop's compiled worker (projector-worker.ts), or null. */
export const projectorWorkerFile = () => compiledWorkerFile('projector-worker');

/**
 * The projector loop run by a worker thread (projector-worker.ts), behind the same interface as the in-process one.
 * exclusive() pauses the thread's loop after its page in flight, so the caller may sweep or switch read models.
 */
export function startProjectorThread(options: ProjectorThreadData & { workerFile: string; logger: Logger }): ProjectorLoop {
  const { workerFile, logger, ...data } = options;
  const waiting = new Map<number, () => void>();
  let nextId = 1;
  let stopping = false;
  let alive = false;
  let worker: Worker;
  let exited: Promise<void>;
  // One pause at a time: the thread holds a single resume.
  let exclusives: Promise<unknown> = Promise.resolve();

  const start = () => {
    worker = new Worker(workerFile, { workerData: data, resourceLimits: PROJECTOR_RESOURCE_LIMITS });
    alive = true;
    // Never what keeps a process alive: stop() ends it in order, an exit without stop() loses nothing (folds are
    // replayed from the checkpoints).
    worker.unref();
    worker.on('message', (message: FromProjectorThread) => {
      if (message.type === 'log') logger[message.level](message.message);
      else settle(message.id);
    });
    worker.on('error', (error) => logger.error(`projector thread failed: ${describeError(error)}`));
    exited = new Promise((resolve) =>
      worker.once('exit', (code) => {
        alive = false;
        for (const id of [...waiting.keys()]) settle(id);
        if (!stopping) {
          logger.error(`projector thread exited (code ${code}); starting it again`);
          setTimeout(() => stopping || start(), RESTART_DELAY_MS).unref();
        }
        resolve();
      }),
    );
  };
  const settle = (id: number) => {
    waiting.get(id)?.();
    waiting.delete(id);
    if (waiting.size === 0 && alive && !stopping) worker.unref();
  };
  const ask = (type: 'idle' | 'pause' | 'stop') =>
    new Promise<void>((resolve) => {
      // A thread that has exited has nothing in flight to wait for (it is started again, or stopped for good).
      if (!alive) return resolve();
      const id = nextId++;
      waiting.set(id, resolve);
      // Someone awaits the answer: until it comes, the thread keeps the process alive.
      worker.ref();
      worker.postMessage({ type, id } satisfies ToProjectorThread);
    });
  const tell = (message: ToProjectorThread) => alive && worker.postMessage(message);

  start();
  return {
    notify: () => tell({ type: 'notify' }),
    idle: () => ask('idle'),
    exclusive<T>(fn: () => Promise<T>): Promise<T> {
      const run = exclusives.then(async () => {
        await ask('pause');
        try {
          return await fn();
        } finally {
          tell({ type: 'resume' });
        }
      });
      exclusives = run.catch(() => undefined);
      return run;
    },
    async stop() {
      if (stopping) return exited;
      stopping = true;
      await exclusives;
      await ask('stop');
      await exited;
    },
  };
}
