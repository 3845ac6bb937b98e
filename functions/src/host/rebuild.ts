import type { Projection } from '@km/shared';
import type { EventLog, LogPosition, ReadModelStore } from '../ports';
import { runProjectorsOnce } from '../projector';

/** A read model being rebuilt lives beside the live one under this suffix (a plain identifier, as model names are). */
export const REBUILD_SUFFIX = '__rebuild';

export interface RebuildProgress {
  models: string[];
  /** Log position the rebuild has folded up to, and the log's end when it was last looked at. */
  position: LogPosition;
  end: LogPosition;
  /**
   * Events the log holds up to position, and in all: not positions, which retention leaves gaps between (a log
   * whose first 900k events were swept would otherwise be 90% done after its first page).
   */
  folded: number;
  total: number;
  eventsPerSecond: number;
  /** Seconds left at the current pace; null before there is a pace. */
  etaSeconds: number | null;
}

/** What only the embedded SQLite file can do: start a rebuilt model afresh, and put it in place of the live one. */
export interface RebuildStorage {
  /** The log's last position (0 when empty). */
  logEnd(): LogPosition;
  /** How many events the log holds after one position, up to another (included). */
  eventsBetween(after: LogPosition, upTo: LogPosition): number;
  /** Drops a rebuilt model's documents and checkpoint left by a rebuild that did not finish. */
  clear(rebuiltModel: string): void;
  /** In one transaction: the live model's documents are replaced by the rebuilt ones, and so is its checkpoint. */
  replace(liveModel: string, rebuiltModel: string): void;
}

export interface RebuildOptions {
  log: EventLog;
  store: ReadModelStore;
  storage: RebuildStorage;
  projections: ReadonlyArray<Projection<unknown>>;
  maxBatch?: number;
  onProgress?: (progress: RebuildProgress) => void;
  stopped?: () => boolean;
  /** The clock for the pace (tests pass their own). */
  nowMs?: () => number;
  /** Folds the bulk of the log into the copies before the hold: on this thread unless given (rebuild-lanes.ts). */
  replay?: ReplayCopies;
  /**
   * Runs the last pages and the switch with the live projector loop held (its exclusive): a live step between its
   * document writes and its checkpoint would otherwise move the checkpoint past what the rebuilt documents hold.
   */
  hold?: <T>(fn: () => Promise<T>) => Promise<T>;
}

/**
 * Replays the whole log into fresh copies of the read models while the live ones keep answering, then puts each copy
 * in place of its live model. The last pages and the switch run under `hold` (the live loop's exclusive), so no live
 * step is between its writes and its checkpoint then; after the switch the live loop folds on from the rebuilt
 * checkpoint, and the documents' log positions absorb any replay. Resolves false when stopped first.
 */
export async function rebuildReadModels(options: RebuildOptions): Promise<boolean> {
  const { log, store, storage, projections, maxBatch = 2000, onProgress, stopped = () => false, nowMs = () => Date.now(), hold = (fn) => fn() } = options;
  const { replay = replayHere(log, store, maxBatch) } = options;
  const copies = projections.map(rebuildCopy);
  for (const copy of copies) storage.clear(copy.name);
  const models = projections.map((projection) => projection.name);
  const startedMs = nowMs();
  // Counted as the rebuild goes, each range of the log once: the slowest copy's position only grows, and so does the end.
  const counted = { position: 0, folded: 0, end: 0, total: 0 };
  /** After a page of any copy: where the slowest copy stands. A page with nothing new (mostly the check under the hold) tells nothing new. */
  const reportPage = async (handled: number): Promise<void> => {
    if (handled === 0 || !onProgress) return;
    const position = Math.min(...(await Promise.all(copies.map((copy) => log.getCheckpoint(copy.name)))));
    const end = storage.logEnd();
    counted.total += storage.eventsBetween(counted.end, end);
    counted.end = Math.max(counted.end, end);
    counted.folded += storage.eventsBetween(counted.position, position);
    counted.position = Math.max(counted.position, position);
    const { folded, total } = counted;
    const seconds = (nowMs() - startedMs) / 1000;
    const eventsPerSecond = seconds > 0 ? folded / seconds : 0;
    onProgress({ models, position, end, folded, total, eventsPerSecond, etaSeconds: eventsPerSecond > 0 ? Math.max(0, total - folded) / eventsPerSecond : null });
  };
  await replay(copies, reportPage, stopped);
  if (stopped()) return false;
  // What arrived since, then the switch, with no live step in between.
  await hold(async () => {
    for (let handled = maxBatch; handled === maxBatch; ) {
      handled = await foldCopiesPage(copies, log, store, maxBatch);
      await reportPage(handled);
    }
    projections.forEach((projection, i) => storage.replace(projection.name, copies[i]!.name));
  });
  return true;
}

/**
 * Folds copies of read models from their own checkpoints until a page comes back short (about the log's end),
 * calling onPage with each page's event count; stops after the page in flight once stopped() is true. Throws when a
 * copy's fold fails.
 */
export type ReplayCopies = (copies: ReadonlyArray<Projection<unknown>>, onPage: (handled: number) => Promise<void>, stopped: () => boolean) => Promise<void>;

/** The replay on the calling thread, a page at a time, yielding between pages so requests are answered. */
export function replayHere(log: EventLog, store: ReadModelStore, maxBatch: number): ReplayCopies {
  return async (copies, onPage, stopped) => {
    while (!stopped()) {
      const handled = await foldCopiesPage(copies, log, store, maxBatch);
      await onPage(handled);
      if (handled < maxBatch) return;
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
}

/** The read model a rebuild folds beside a live one. */
export function rebuildCopy<State>(projection: Projection<State>): Projection<State> {
  return { ...projection, name: `${projection.name}${REBUILD_SUFFIX}` };
}

/** The live read model a rebuild copy stands in for. */
export const liveNameOf = (copyName: string): string => copyName.slice(0, -REBUILD_SUFFIX.length);

/** One page of the log into the copies; returns the events it handled. A copy that failed fails the rebuild. */
export async function foldCopiesPage(copies: ReadonlyArray<Projection<unknown>>, log: EventLog, store: ReadModelStore, maxBatch: number): Promise<number> {
  const { handled, failures } = await runProjectorsOnce(copies, log, store, maxBatch);
  const [name, error] = failures.entries().next().value ?? [];
  if (name !== undefined) throw new Error(`rebuilding ${liveNameOf(name)} failed: ${error instanceof Error ? error.message : String(error)}`);
  return handled;
}
