import { performance } from 'node:perf_hooks';
import type { Direction } from '@km/shared';
import type { ObserveMode } from './observer';
import type { PolicyBlock } from './observer-protocol';

/**
 * The observer thread's backlog (issue 11). The forwarding thread never waits for the observer, so in a burst the
 * observer falls behind; this queue is where it stands. Batches come by value (the bytes, posted) or by reference
 * (a record in the journal, which the forwarding thread wrote anyway): past a small amount of bytes in memory the
 * forwarding thread sends references only (wrap/run.ts), so what km holds stays bounded however far behind it is.
 *
 * How far behind it may fall is the backlog bound, in bytes not yet observed: a batch that comes with more than half
 * of it waiting is observed without previews, with more than all of it its observations are dropped (pairing goes
 * on, so an answer after the backlog still finds its request); the observer counts each (session.ended). Work is
 * done in slices, so the observer's timers (journal acks, shipping, the envelope) run during a burst.
 */
/** channel: whose JSON-RPC ids the chunk's lines use, where several clients share a session (km proxy). */
export type Chunk = { direction: Direction; chunk: Buffer; at: number; channel?: string };
/** One hand-off batch as the observer takes it up: its chunks, and the policy's refusals among them. */
export type Observed = { chunks: Chunk[]; blocks?: PolicyBlock[] };

/** A batch's record in the journal: the file and where in it (JournalWriter.append). */
export interface JournalRef {
  path: string;
  offset: number;
  length: number;
}

export type QueuedBatch = { seq: number; bytes: number } & (Observed | { ref: JournalRef });

export interface ObserverQueueOptions {
  /** Observes one batch; mode says how much of it to make. */
  observe(seq: number, batch: Observed, mode: ObserveMode): void;
  /** Reads a batch back from the journal; null when it cannot (its observations are then counted dropped). */
  read(ref: JournalRef): Observed | null;
  /** A batch by reference could not be read: the caller counts it. */
  unreadable(seq: number): void;
  /** Bytes of batches by value observed so far (the forwarding thread's measure of what it holds). */
  progress(observedBytes: number): void;
  backlogBytes: number;
  sliceMs?: number;
  schedule?: (fn: () => void) => void;
}

const SLICE_MS = 10;

export class ObserverQueue {
  /** Each batch with the mode it was given as it came. */
  private items: Array<{ batch: QueuedBatch; mode: ObserveMode } | { control: () => void }> = [];
  private head = 0;
  /** Bytes queued and not yet taken up, by value and by reference. */
  backlog = 0;
  /** Of the backlog, the bytes of large batches (over half the bound each), which no batch is judged by. */
  private largeBytes = 0;
  private observedBytes = 0;
  private scheduled = false;
  private readonly sliceMs: number;
  private readonly schedule: (fn: () => void) => void;

  constructor(private readonly options: ObserverQueueOptions) {
    this.sliceMs = options.sliceMs ?? SLICE_MS;
    this.schedule = options.schedule ?? ((fn) => setImmediate(fn));
  }

  /**
   * Queues a batch, judged by what waits before it as it comes: a batch is never made less because of what comes
   * after it. Judged as it was taken up (by what waited behind it), a large answer took the small calls before it
   * down with it, a session's initialize among them.
   */
  push(batch: QueuedBatch): void {
    // A few large messages waiting are no flood of calls: the answer to a large request, or the call after a large
    // answer, is judged by the small batches before it (a large one is judged like any other).
    this.items.push({ batch, mode: this.modeFor(this.backlog - this.largeBytes) });
    this.backlog += batch.bytes;
    if (this.isLarge(batch)) this.largeBytes += batch.bytes;
    this.kick();
  }

  private isLarge(batch: QueuedBatch): boolean {
    return batch.bytes > this.options.backlogBytes / 2;
  }

  /** Runs fn once everything queued before it is observed (the session's end, a journal failure). */
  then(fn: () => void): void {
    this.items.push({ control: fn });
    this.kick();
  }

  /** How much of a batch is made with `backlog` bytes waiting before it (a batch alone is always made whole). */
  modeFor(backlog: number): ObserveMode {
    if (backlog > this.options.backlogBytes) return 'drop';
    if (backlog > this.options.backlogBytes / 2) return 'no-previews';
    return 'full';
  }

  private kick(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(() => this.run());
  }

  private run(): void {
    this.scheduled = false;
    const until = performance.now() + this.sliceMs;
    let observedByValue = false;
    while (this.head < this.items.length && performance.now() < until) {
      const item = this.items[this.head]!;
      this.items[this.head++] = undefined as never; // let it go now, not when the array is compacted
      if ('control' in item) {
        item.control();
        continue;
      }
      const { batch: queued, mode } = item;
      this.backlog -= queued.bytes;
      if (this.isLarge(queued)) this.largeBytes -= queued.bytes;
      if ('chunks' in queued) {
        this.options.observe(queued.seq, queued, mode);
        this.observedBytes += queued.bytes;
        observedByValue = true;
      } else {
        const batch = this.options.read(queued.ref);
        if (batch) this.options.observe(queued.seq, batch, mode);
        else this.options.unreadable(queued.seq);
      }
    }
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    if (observedByValue) this.options.progress(this.observedBytes);
    if (this.head < this.items.length) this.kick();
  }
}
