/** Messages between the forwarding thread (wrap/run.ts) and the observer thread (wrap/observer-worker.ts). */

/** Chunks in arrival order; direction 0 is client to server, 1 server to client; times in epoch ms. */
export interface ChunkBatch {
  directions: Array<0 | 1>;
  times: number[];
  chunks: Uint8Array[];
}

export type ToObserver =
  | { type: 'chunks'; batch: ChunkBatch }
  | { type: 'started'; pid: number }
  | { type: 'finish'; exitCode: number | null; signal: NodeJS.Signals | null; at: number }
  // risk monitor: a request the project's policy refused (answered by km, never forwarded)
  | { type: 'blocked'; method: string; target: string | null; ruleId: string; reason: string; at: number };

export type FromObserver = { type: 'finished' };
