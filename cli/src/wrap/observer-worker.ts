import { parentPort, workerData } from 'node:worker_threads';
import type { ProjectConfigFile } from '../config/project-config';
import { JournalFiles } from './journal';
import type { FromObserver, ToObserver } from './observer-protocol';
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

port.on('message', (message: ToObserver) => {
  switch (message.type) {
    case 'chunks': {
      const { directions, times, chunks } = message.batch;
      session.observeChunks(
        message.seq,
        chunks.map((chunk, i) => ({
          direction: directions[i] === 0 ? ('client_to_server' as const) : ('server_to_client' as const),
          chunk: Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength),
          at: times[i]!,
        })),
      );
      return;
    }
    case 'started':
      session.started(message.pid);
      return;
    case 'blocked':
      session.blocked(message);
      return;
    case 'journal-failed':
      session.journalFailed(message.reason);
      return;
    case 'finish':
      void session.finish({ exitCode: message.exitCode, signal: message.signal, at: message.at }).then(() => {
        port.postMessage({ type: 'finished' } satisfies FromObserver);
      });
      return;
  }
});
