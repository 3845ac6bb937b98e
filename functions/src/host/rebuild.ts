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
}

/**
 * Replays the whole log into fresh copies of the read models while the live ones keep answering, then puts each copy
 * in place of its live model. Safe while the live projector loop runs: every document records the log positions it
 * folded, so a live write that lands after the switch conflicts on the ETag, re-reads the rebuilt document and folds
 * only what it lacks, and a checkpoint moved back is a replay the positions absorb. Resolves false when stopped first.
 */
export async function rebuildReadModels(options: RebuildOptions): Promise<boolean> {
  const { log, store, storage, projections, maxBatch = 2000, onProgress, stopped = () => false, nowMs = () => Date.now() } = options;
  const copies = projections.map((projection) => ({ ...projection, name: `${projection.name}${REBUILD_SUFFIX}` }));
  for (const copy of copies) storage.clear(copy.name);
  const models = projections.map((projection) => projection.name);
  const startedMs = nowMs();
  for (;;) {
    if (stopped()) return false;
    const step = await runProjectorsOnce(copies, log, store, maxBatch);
    const [name, error] = step.failures.entries().next().value ?? [];
    if (name !== undefined) throw new Error(`rebuilding ${name.slice(0, -REBUILD_SUFFIX.length)} failed: ${error instanceof Error ? error.message : String(error)}`);
    // The copies read the same pages from the same start, so they all stand where the first one does.
    const position = await log.getCheckpoint(copies[0]!.name);
    const end = storage.logEnd();
    const seconds = (nowMs() - startedMs) / 1000;
    const eventsPerSecond = seconds > 0 ? position / seconds : 0; // positions count events (gaps are rare)
    onProgress?.({ models, position, end, eventsPerSecond, etaSeconds: eventsPerSecond > 0 ? Math.max(0, end - position) / eventsPerSecond : null });
    // Caught up: no await between the last page and the switch, so no event of this process lands in between.
    if (step.handled < maxBatch) break;
    await new Promise((resolve) => setImmediate(resolve));
  }
  for (const projection of projections) storage.replace(projection.name, `${projection.name}${REBUILD_SUFFIX}`);
  return true;
}
