import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { costProjection, type StoredEvent } from '@km/shared';
import { MemoryReadModelStore } from '../src/adapters/memory-read-model-store';
import { openSqliteDatabase, type SqliteDatabase } from '../src/adapters/sqlite-database';
import { SqliteEventLog } from '../src/adapters/sqlite-event-log';
import { SqliteReadModelStore } from '../src/adapters/sqlite-read-model-store';
import { sqliteRebuildStorage } from '../src/adapters/sqlite-rebuild-storage';
import { startProjectorLoop } from '../src/host/projector-loop';
import { rebuildReadModels, REBUILD_SUFFIX, type RebuildProgress } from '../src/host/rebuild';
import { replayOnThreads, splitIntoLanes } from '../src/host/rebuild-lanes';
import type { Logger } from '../src/logger';
import { fromEmbeddedLog, projectBatch } from '../src/projector';
import { readModelIndexes, readModels, readModelsNamed } from '../src/read-models';
import { aSessionOfEvents, anEnvelope, stored } from './fixtures';

const quiet: Logger = { info() {}, warn() {}, error() {} };
const NEVER = 1e9;
// The compiled rebuild worker, as km serve runs it (npm test builds first).
const WORKER = join(__dirname, '..', 'dist', 'host', 'rebuild-worker.js');
const PAGE = 7;

let dir: string;
let db: SqliteDatabase;
let log: SqliteEventLog;
let store: SqliteReadModelStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'km-rebuild-'));
  db = openSqliteDatabase(join(dir, 'km.db'));
  log = new SqliteEventLog(db);
  store = new SqliteReadModelStore(db, { indexes: readModelIndexes });
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const sessions = (from: number, n: number): StoredEvent[] =>
  Array.from({ length: n }, (_, i) =>
    stored(aSessionOfEvents(anEnvelope({ orgId: 'local', sessionId: `s${from + i}`, projectId: `p${(from + i) % 3}` }), `2026-08-01T1${i % 10}:00:00.000Z`, 4), `batch-${from + i}`),
  ).flat();

/** Every document of every model, by model and id, as a from-scratch fold of the whole log makes them. */
async function foldedFromScratch(): Promise<Map<string, unknown>> {
  const fresh = new MemoryReadModelStore();
  const all = fromEmbeddedLog(await log.read(0, 1_000_000));
  for (const projection of readModels) await projectBatch(projection, fresh, all);
  return documents(fresh);
}

async function documents(from: { query<T>(model: string, pk: string): Promise<T[]> }): Promise<Map<string, unknown>> {
  const docs = new Map<string, unknown>();
  for (const { name } of readModels) for (const doc of await from.query<{ id: string }>(name, 'local')) docs.set(`${name}/${doc.id}`, doc);
  return docs;
}

const rebuildAll = (extra: Partial<Parameters<typeof rebuildReadModels>[0]> = {}) =>
  rebuildReadModels({ log, store, storage: sqliteRebuildStorage(db), projections: readModels, maxBatch: 7, ...extra });

describe('rebuilding read models from the log (km serve --rebuild)', () => {
  it('replaces documents a different fold made with what the folds make now, checkpoints included', async () => {
    await log.append(sessions(0, 6));
    // What an older fold left: a wrong count, and a document the folds no longer make.
    await store.upsert('sessions', 'local', 's0', { id: 's0', interactionCount: 99 });
    await store.upsert('sessions', 'local', 'gone', { id: 'gone' });
    await log.setCheckpoint('sessions', 3);

    const progress: RebuildProgress[] = [];
    expect(await rebuildAll({ onProgress: (p) => progress.push(p) })).toBe(true);

    expect(await documents(store)).toEqual(await foldedFromScratch());
    const end = sqliteRebuildStorage(db).logEnd();
    for (const { name } of readModels) expect(await log.getCheckpoint(name)).toBe(end);
    expect(db.prepare(`SELECT COUNT(*) AS n FROM km_read_models WHERE model LIKE '%${REBUILD_SUFFIX}'`).get()).toEqual({ n: 0 });
    expect(db.prepare(`SELECT COUNT(*) AS n FROM km_checkpoints WHERE projector LIKE '%${REBUILD_SUFFIX}'`).get()).toEqual({ n: 0 });
    // 36 events in pages of 7: six pages, the last one short; progress climbs to the end.
    expect(progress.map((p) => p.position)).toEqual([7, 14, 21, 28, 35, 36]);
    expect(progress.at(-1)).toMatchObject({ end: 36, etaSeconds: expect.any(Number) });
  });

  it('counts its progress in the events the log holds, not in positions, after retention took most of them', async () => {
    // 6 sessions of 6 events, one block each; retention took the first four and half of the fifth.
    await log.append(sessions(0, 6).slice(0, 18));
    await log.append(sessions(0, 6).slice(18));
    const all = await log.read(0, 100);
    const swept = all.slice(0, 27).map(({ event }) => event.id);
    expect(await log.removeEvents('local', new Set(swept))).toBe(27);
    const storage = sqliteRebuildStorage(db);
    expect([storage.eventsBetween(0, 36), storage.eventsBetween(27, 36), storage.eventsBetween(30, 36), storage.eventsBetween(28, 30), storage.eventsBetween(36, 40), storage.eventsBetween(10, 5)]).toEqual([9, 9, 6, 2, 0, 0]);

    const progress: RebuildProgress[] = [];
    expect(await rebuildAll({ onProgress: (p) => progress.push(p) })).toBe(true);
    expect(await documents(store)).toEqual(await foldedFromScratch());
    // Pages of 7 events from what is left (9): about 7 and then 9 of 9, never 75% after the first page.
    expect(progress.map((p) => [p.folded, p.total])).toEqual([
      [7, 9],
      [9, 9],
    ]);
    expect(progress.at(-1)).toMatchObject({ position: 36, end: 36 });
  });

  it('keeps answering from the live documents until the switch, while the live loop folds new events; nothing is lost', async () => {
    await log.append(sessions(0, 4));
    const loop = startProjectorLoop({ log, store, projections: readModels, logger: quiet, intervalMs: NEVER, maxBatch: 5 });
    await loop.idle();
    const liveBefore = await store.get('sessions', 'local', 's1');
    let appended = 0;
    let seenDuring: unknown = null;
    const done = await rebuildAll({
      onProgress: async () => {
        seenDuring ??= await store.get('sessions', 'local', 's1');
        // New traffic during the rebuild, folded by the live loop as it arrives.
        if (appended < 3) {
          await log.append(sessions(10 + appended, 1));
          appended++;
          loop.notify();
        }
      },
    });
    expect(done).toBe(true);
    expect(seenDuring).toEqual(liveBefore);
    loop.notify();
    await loop.idle();
    await loop.stop();
    expect(await documents(store)).toEqual(await foldedFromScratch());
    expect((await store.get('sessions', 'local', 's12'))?.doc).toMatchObject({ interactionCount: 4 });
  });

  it('makes its last pages and the switch while holding the live loop, so no live step sits between them', async () => {
    await log.append(sessions(0, 3));
    const storage = sqliteRebuildStorage(db);
    let held = false;
    const replacedWhile: boolean[] = [];
    const pagesWhile: boolean[] = [];
    const watched = { ...storage, replace: (live: string, rebuilt: string) => (replacedWhile.push(held), storage.replace(live, rebuilt)) };
    const done = await rebuildAll({
      storage: watched,
      onProgress: (p) => {
        pagesWhile.push(held);
        // Caught up, before the hold: new traffic arrives, and must be read under the hold, before the switch.
        if (!held && p.position === p.end && p.end < 40) void log.append(sessions(50, 1));
      },
      hold: async (fn) => {
        held = true;
        try {
          return await fn();
        } finally {
          held = false;
        }
      },
    });
    expect(done).toBe(true);
    expect(replacedWhile).toEqual(readModels.map(() => true));
    expect(pagesWhile.at(-1)).toBe(true);
    expect(await documents(store)).toEqual(await foldedFromScratch());
  });

  it('starts over when a rebuild was cut short, and stops when asked', async () => {
    await log.append(sessions(0, 3));
    let pages = 0;
    expect(await rebuildAll({ stopped: () => pages++ >= 1 })).toBe(false);
    expect(db.prepare(`SELECT COUNT(*) AS n FROM km_read_models WHERE model LIKE '%${REBUILD_SUFFIX}'`).get()).not.toEqual({ n: 0 });
    // A leftover document the replay would never make must not survive the next rebuild.
    await store.upsert(`sessions${REBUILD_SUFFIX}`, 'local', 'leftover', { id: 'leftover' });
    expect(await rebuildAll()).toBe(true);
    expect(await documents(store)).toEqual(await foldedFromScratch());
  });

  it('names the read models there are when asked for one that is not', () => {
    expect(readModelsNamed(['all']).map((model) => model.name)).toEqual(readModels.map((model) => model.name));
    expect(readModelsNamed(['risk', 'cost', 'risk']).map((model) => model.name)).toEqual(['risk', 'cost']);
    expect(() => readModelsNamed(['costs'])).toThrow(`no read model named costs: give one of ${readModels.map((model) => model.name).join(', ')}, or all`);
  });
});

const copiesLeft = () => db.prepare(`SELECT COUNT(*) AS n FROM km_read_models WHERE model LIKE '%${REBUILD_SUFFIX}'`).get() as { n: number };

const rebuildOnThreads = (extra: Partial<Parameters<typeof rebuildReadModels>[0]> = {}) =>
  rebuildReadModels({
    log,
    store,
    storage: sqliteRebuildStorage(db),
    projections: readModels,
    maxBatch: PAGE,
    replay: replayOnThreads({ workerFile: WORKER, dbPath: join(dir, 'km.db'), maxBatch: PAGE, lanes: 2 }),
    ...extra,
  });

describe('splitting a rebuild into lanes', () => {
  const names = readModels.map((model) => model.name);

  it('puts every read model in exactly one lane, never more lanes than models or than asked', () => {
    for (const lanes of [1, 2, 3, 16]) {
      const split = splitIntoLanes(names, lanes);
      expect(split).toHaveLength(Math.min(lanes, names.length));
      expect(split.flat().sort()).toEqual([...names].sort());
      for (const lane of split) expect(lane.length).toBeGreaterThan(0);
    }
    expect(splitIntoLanes(['cost'], 0)).toEqual([['cost']]);
  });

  it('sets the latency sketches, the heaviest fold, against all the big others on two cores', () => {
    const [first, second] = splitIntoLanes(names, 2);
    expect(first![0]).toBe('latency');
    expect(second).toEqual(expect.arrayContaining(['sessions', 'interactions', 'cost', 'risk']));
  });
});

describe('rebuilding on worker threads (km serve --rebuild)', () => {
  it('makes what a from-scratch fold makes, checkpoints at the end, no copies left, progress to the end', async () => {
    await log.append(sessions(0, 6));
    await store.upsert('sessions', 'local', 's0', { id: 's0', interactionCount: 99 });
    await store.upsert('sessions', 'local', 'gone', { id: 'gone' });

    const progress: RebuildProgress[] = [];
    expect(await rebuildOnThreads({ onProgress: (p) => progress.push(p) })).toBe(true);

    expect(await documents(store)).toEqual(await foldedFromScratch());
    const end = sqliteRebuildStorage(db).logEnd();
    for (const { name } of readModels) expect(await log.getCheckpoint(name)).toBe(end);
    expect(copiesLeft()).toEqual({ n: 0 });
    // Progress is the slowest lane's: it never goes past the end, and it gets there.
    expect(progress.length).toBeGreaterThan(0);
    for (const p of progress) expect(p.position).toBeLessThanOrEqual(p.end);
    expect(progress.at(-1)).toMatchObject({ position: end, end });
  });

  it('folds, under the hold, what arrived while the lanes ran', async () => {
    await log.append(sessions(0, 3));
    let appended = false;
    const done = await rebuildOnThreads({
      onProgress: async () => {
        if (!appended) {
          appended = true;
          await log.append(sessions(40, 2));
        }
      },
    });
    expect(done).toBe(true);
    expect(await documents(store)).toEqual(await foldedFromScratch());
    expect((await store.get('sessions', 'local', 's41'))?.doc).toMatchObject({ interactionCount: 4 });
  });

  it('rejects when a lane fails, naming why, and leaves the live read models as they were', async () => {
    await log.append(sessions(0, 3));
    await rebuildReadModels({ log, store, storage: sqliteRebuildStorage(db), projections: readModels });
    const before = await documents(store);
    // A model the worker cannot find fails its lane; the other lane is stopped with it.
    const unknown = { ...costProjection, name: 'no-such-model' } as (typeof readModels)[number];
    await expect(rebuildOnThreads({ projections: [...readModels, unknown] })).rejects.toThrow('no read model named no-such-model');
    expect(await documents(store)).toEqual(before);
  });

  it('stops when asked after the pages in flight, leaving the live read models to answer', async () => {
    await log.append(sessions(0, 6));
    await rebuildReadModels({ log, store, storage: sqliteRebuildStorage(db), projections: readModels });
    const before = await documents(store);
    let pages = 0;
    expect(await rebuildOnThreads({ stopped: () => pages++ >= 1 })).toBe(false);
    expect(await documents(store)).toEqual(before);
    expect(await rebuildOnThreads()).toBe(true);
    expect(await documents(store)).toEqual(await foldedFromScratch());
  });
});
