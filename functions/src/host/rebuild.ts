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
  eventsPerSecond: number;
  /** Seconds left at the current pace; null before there is a pace. */
  etaSeconds: number | null;
}

/** What only the embedded SQLite file can do: start a rebuilt model afresh, and put it in place of the live one. */
export interface RebuildStorage {
  /** The log's last position (0 when empty). */
  logEnd(): LogPosition;
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
  const copies = projections.map((projection) => ({ ...projection, name: `${projection.name}${REBUILD_SUFFIX}` }));
  for (const copy of copies) storage.clear(copy.name);
  const models = projections.map((projection) => projection.name);
  const startedMs = nowMs();
  /** One page into the copies; returns the events it handled. */
  const step = async (): Promise<number> => {
    const { handled, failures } = await runProjectorsOnce(copies, log, store, maxBatch);
    const [name, error] = failures.entries().next().value ?? [];
    if (name !== undefined) throw new Error(`rebuilding ${name.slice(0, -REBUILD_SUFFIX.length)} failed: ${error instanceof Error ? error.message : String(error)}`);
    // The copies read the same pages from the same start, so they all stand where the first one does.
    const position = await log.getCheckpoint(copies[0]!.name);
    const end = storage.logEnd();
    const seconds = (nowMs() - startedMs) / 1000;
    const eventsPerSecond = seconds > 0 ? position / seconds : 0; // positions count events (gaps are rare)
    // A page with nothing new (the check under the hold, mostly) tells nothing new.
    if (handled > 0) onProgress?.({ models, position, end, eventsPerSecond, etaSeconds: eventsPerSecond > 0 ? Math.max(0, end - position) / eventsPerSecond : null });
    return handled;
  };
  while (!stopped() && (await step()) === maxBatch) await new Promise((resolve) => setImmediate(resolve));
  if (stopped()) return false;
  // What arrived since, then the switch, with no live step in between.
  await hold(async () => {
    while ((await step()) === maxBatch);
    projections.forEach((projection, i) => storage.replace(projection.name, copies[i]!.name));
  });
  return true;
}
