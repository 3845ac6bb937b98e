import { parentPort, workerData } from 'node:worker_threads';
import type { ProjectConfigFile } from '../config/project-config';
import { JournalFiles, readBatchRecord } from './journal';
import type { FromObserver, ToObserver } from './observer-protocol';
import { ObserverQueue, type Chunk } from './observer-queue';
import type { WrapOptions } from './run';
import { startSession } from './session';

/** The observer thread's entry: everything that is not forwarding happens here (see wrap/run.ts). */
const { options, startedAt, projectConfig, journal } = workerData as {
  options: WrapOptions;
  startedAt: number;
  projectConfig: ProjectConfigFile | null;
  journal: { dir: string; base: string } | null;
};
const port = parentPort!;
const journalFiles = journal ? new JournalFiles(journal.dir, journal.base) : null;
const session = startSession(options, startedAt, projectConfig, journalFiles, (neededFrom) => port.postMessage({ type: 'spooled', neededFrom } satisfies FromObserver));

const direction = (d: number) => (d === 0 ? ('client_to_server' as const) : ('server_to_client' as const));
// Messages are taken off the port at once and observed in slices (observer-queue.ts): the backlog is known, and
// bounded, and the timers of this thread run between slices.
const queue = new ObserverQueue({
  backlogBytes: session.backlogBytes,
  observe: (seq, batch, mode) => session.observeChunks(seq, batch, mode),
  read(ref) {
    let batch;
    try {
      batch = readBatchRecord(ref);
    } catch {
      return null; // the journal was removed under us (journaling failed on this side)
    }
    if (!batch) return null;
    return { chunks: batch.chunks.map((chunk, i): Chunk => ({ direction: direction(batch.directions[i]!), chunk, at: batch.times[i]! })), blocks: batch.blocks };
  },
  unreadable: (seq) => session.lost(seq, 'missing or not a whole record'),
  progress: (bytes) => port.postMessage({ type: 'observed', bytes } satisfies FromObserver),
});

port.on('message', (message: ToObserver) => {
  switch (message.type) {
    case 'chunks': {
      const { directions, times, chunks, blocks } = message.batch;
      let bytes = 0;
      for (const chunk of chunks) bytes += chunk.byteLength;
      queue.push({
        seq: message.seq,
        bytes,
        chunks: chunks.map((chunk, i) => ({ direction: direction(directions[i]!), chunk: Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength), at: times[i]! })),
        blocks,
      });
      return;
    }
    case 'journaled':
      queue.push({ seq: message.seq, bytes: message.bytes, ref: message.ref });
      return;
    case 'started':
      session.started(message.pid);
      return;
    case 'journal-failed':
      // In order: batches queued by reference before the failure are still read from the journal's files.
      queue.then(() => session.journalFailed(message.reason));
      return;
    case 'finish': {
      const { type: _type, ...end } = message;
      queue.then(() =>
        void session.finish(end).then(() => {
          port.postMessage({ type: 'finished' } satisfies FromObserver);
        }),
      );
      return;
    }
  }
});
