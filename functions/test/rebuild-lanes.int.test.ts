import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { costProjection, type StoredEvent } from '@km/shared';
import { MemoryReadModelStore } from '../src/adapters/memory-read-model-store';
import { openSqliteDatabase, type SqliteDatabase } from '../src/adapters/sqlite-database';
import { SqliteEventLog } from '../src/adapters/sqlite-event-log';
import { SqliteReadModelStore } from '../src/adapters/sqlite-read-model-store';
import { sqliteRebuildStorage } from '../src/adapters/sqlite-rebuild-storage';
import { rebuildReadModels, REBUILD_SUFFIX, type RebuildProgress } from '../src/host/rebuild';
import { replayOnThreads, splitIntoLanes } from '../src/host/rebuild-lanes';
import { fromEmbeddedLog, projectBatch } from '../src/projector';
import { readModelIndexes, readModels } from '../src/read-models';
import { aSessionOfEvents, anEnvelope, stored } from './fixtures';

// The compiled worker, as km serve runs it (npm test builds first).
const WORKER = join(__dirname, '..', 'dist', 'host', 'rebuild-worker.js');
const PAGE = 7;

let dir: string;
let db: SqliteDatabase;
let log: SqliteEventLog;
let store: SqliteReadModelStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'km-rebuild-lanes-'));
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

async function documents(from: { query<T>(model: string, pk: string): Promise<T[]> }): Promise<Map<string, unknown>> {
  const docs = new Map<string, unknown>();
  for (const { name } of readModels) for (const doc of await from.query<{ id: string }>(name, 'local')) docs.set(`${name}/${doc.id}`, doc);
  return docs;
}

async function foldedFromScratch(): Promise<Map<string, unknown>> {
  const fresh = new MemoryReadModelStore();
  const all = fromEmbeddedLog(await log.read(0, 1_000_000));
  for (const projection of readModels) await projectBatch(projection, fresh, all);
  return documents(fresh);
}

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
