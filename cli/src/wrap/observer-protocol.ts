/** Messages between the forwarding thread (wrap/run.ts) and the observer thread (wrap/observer-worker.ts). */
import type { ClientEnded } from './observer';
import type { JournalRef } from './observer-queue';

/** A request the project's policy refused (answered by km, never forwarded): a risk event of its own. */
export interface PolicyBlock {
  method: string;
  target: string | null;
  ruleId: string;
  reason: string;
  at: number;
  /** The JSON text of each request id km answered for it (absent from journals of older km versions). */
  requestIds?: string[];
}

/**
 * Chunks in arrival order; direction 0 is client to server, 1 server to client; times in epoch ms. The policy's
 * refusals ride in the batch that carries the refused line, so they are journaled with it and, replayed, get the
 * same ids (issue 10: a kill -9 right after a denial must not lose it).
 */
export interface ChunkBatch {
  directions: Array<0 | 1>;
  times: number[];
  chunks: Uint8Array[];
  blocks?: PolicyBlock[];
}

export type ToObserver =
  // seq: the batch's number in the session's journal (1, 2, ...), acknowledged back once spooled
  | { type: 'chunks'; seq: number; batch: ChunkBatch }
  // a batch the observer reads back from the journal: the forwarding thread holds enough in memory already
  | { type: 'journaled'; seq: number; ref: JournalRef; bytes: number }
  | { type: 'started'; pid: number }
  // startError: the server could not be started (its command not found, not executable)
  | { type: 'finish'; exitCode: number | null; signal: NodeJS.Signals | null; at: number; startError?: string; clientEnded?: ClientEnded }
  // the journal could not be written: the session goes on without it (the observer logs why)
  | { type: 'journal-failed'; reason: string };

export type FromObserver =
  | { type: 'finished' }
  // bytes of the batches posted by value that the observer has observed (what the forwarding thread may let go)
  | { type: 'observed'; bytes: number }
  // batches before neededFrom are spooled and no longer needed for pairing: the journal may drop them
  | { type: 'spooled'; neededFrom: number };
