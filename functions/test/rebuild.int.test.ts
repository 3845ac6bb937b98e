import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoredEvent } from '@km/shared';
import { MemoryReadModelStore } from '../src/adapters/memory-read-model-store';
import { openSqliteDatabase, type SqliteDatabase } from '../src/adapters/sqlite-database';
import { SqliteEventLog } from '../src/adapters/sqlite-event-log';
import { SqliteReadModelStore } from '../src/adapters/sqlite-read-model-store';
import { sqliteRebuildStorage } from '../src/adapters/sqlite-rebuild-storage';
import { startProjectorLoop } from '../src/host/projector-loop';
import { rebuildReadModels, REBUILD_SUFFIX, type RebuildProgress } from '../src/host/rebuild';
import type { Logger } from '../src/logger';
import { fromEmbeddedLog, projectBatch } from '../src/projector';
import { readModelIndexes, readModels, readModelsNamed } from '../src/read-models';
import { aSessionOfEvents, anEnvelope, stored } from './fixtures';

const quiet: Logger = { info() {}, warn() {}, error() {} };
const NEVER = 1e9;

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
