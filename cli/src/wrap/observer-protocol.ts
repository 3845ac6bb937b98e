/** Messages between the forwarding thread (wrap/run.ts) and the observer thread (wrap/observer-worker.ts). */

/** Chunks in arrival order; direction 0 is client to server, 1 server to client; times in epoch ms. */
export interface ChunkBatch {
  directions: Array<0 | 1>;
  times: number[];
  chunks: Uint8Array[];
}

export type ToObserver =
  // seq: the batch's number in the session's journal (1, 2, ...), acknowledged back once spooled
  | { type: 'chunks'; seq: number; batch: ChunkBatch }
  | { type: 'started'; pid: number }
  | { type: 'finish'; exitCode: number | null; signal: NodeJS.Signals | null; at: number }
  // risk monitor: a request the project's policy refused (answered by km, never forwarded)
  | { type: 'blocked'; method: string; target: string | null; ruleId: string; reason: string; at: number }
  // the journal could not be written: the session goes on without it (the observer logs why)
  | { type: 'journal-failed'; reason: string };

export type FromObserver =
  | { type: 'finished' }
  // batches before neededFrom are spooled and no longer needed for pairing: the journal may drop them
  | { type: 'spooled'; neededFrom: number };
