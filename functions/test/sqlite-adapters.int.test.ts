import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteDatabase } from '../src/adapters/sqlite-database';
import { SqliteEventLog } from '../src/adapters/sqlite-event-log';
import { SqliteReadModelStore } from '../src/adapters/sqlite-read-model-store';
import { DecodedDocCache } from '../src/adapters/decoded-doc-cache';
import { testEventLog } from './contracts/event-log.contract';
import { testReadModelStore } from './contracts/read-model-store.contract';
import { sessionsProjection, type SessionDoc } from '@km/shared';
import { runProjectorOnce } from '../src/projector';
import { anEnvelope, interaction, sessionStarted, stored } from './fixtures';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'km-sqlite-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SqliteEventLog', () => {
  testEventLog(async (storage) => new SqliteEventLog(join(dir, `${storage}.db`)), { persistent: true });
});

describe('SqliteReadModelStore', () => {
  // With indexes on the contract's query shapes: an index may speed a query up, never change its answer.
  const indexes = [
    { model: 'sessions', fields: ['startedAt'] },
    { model: 'sessions', fields: ['projectId', 'startedAt'] },
  ];
  testReadModelStore(async (storage) => new SqliteReadModelStore(join(dir, `${storage}.db`), { indexes }), { persistent: true });
});

describe('SqliteReadModelStore keeping what its queries decode', () => {
  // The same contract with every query through the cache: it may skip a parse, never change an answer.
  const indexes = [{ model: 'sessions', fields: ['startedAt'] }];
  testReadModelStore(async (storage) => new SqliteReadModelStore(join(dir, `cached-${storage}.db`), { indexes, queryCache: { bytes: 1 << 20, models: ['sessions'] } }), { persistent: true });

  it('serves a version again without decoding it, a newer one as soon as it is written, and shares nothing a caller can change', async () => {
    const file = join(dir, 'cache.db');
    const store = new SqliteReadModelStore(file, { queryCache: { bytes: 1 << 20, models: ['sessions'] } });
    await store.upsert('sessions', 'org-a', 's1', { id: 's1', n: 1, nested: { tools: ['a'] } });
    const [first] = await store.query<{ n: number; nested: { tools: string[] } }>('sessions', 'org-a');
    const [again] = await store.query<{ n: number }>('sessions', 'org-a');
    expect(again).toBe(first);
    expect(() => first!.nested.tools.push('b')).toThrow(TypeError);
    expect(() => ((first as { n: number }).n = 2)).toThrow(TypeError);
    // Written through another connection (the projector thread's): the ETag changed, so the query reads it anew.
    const other = new SqliteReadModelStore(file);
    await other.upsert('sessions', 'org-a', 's1', { id: 's1', n: 2, nested: { tools: ['a', 'b'] } });
    expect(await store.query('sessions', 'org-a')).toEqual([{ id: 's1', n: 2, nested: { tools: ['a', 'b'] } }]);
    // Another tenant's document of the same id is its own entry.
    await other.upsert('sessions', 'org-b', 's1', { id: 's1', n: 9 });
    expect(await store.query('sessions', 'org-b')).toEqual([{ id: 's1', n: 9 }]);
    expect(await store.query('sessions', 'org-a')).toEqual([{ id: 's1', n: 2, nested: { tools: ['a', 'b'] } }]);
    await other.close();
    await store.close();
  });

  it('keeps no more JSON than its budget, the least recently read going first', () => {
    const cache = new DecodedDocCache(8000);
    for (const key of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) cache.set(key, 'e1', { v: key }, 1000);
    expect(cache.get('a', 'e1')).toEqual({ v: 'a' });
    cache.set('i', 'e1', { v: 'i' }, 1000);
    // b was read least recently (a was read again): it went to make room.
    expect(cache.get('b', 'e1')).toBeUndefined();
    expect(cache.get('a', 'e1')).toEqual({ v: 'a' });
    expect(cache.get('a', 'e2')).toBeUndefined();
    expect(cache.size).toEqual({ documents: 8, bytes: 8000 });
    // Over an eighth of the budget: returned frozen, not kept.
    expect(Object.isFrozen(cache.set('big', 'e1', { v: 'big' }, 1001))).toBe(true);
    expect(cache.get('big', 'e1')).toBeUndefined();
  });
});

describe('SqliteEventLog.readType', () => {
  it('finds one type after a position, passing over blocks without it, and reads blocks from before the types column', async () => {
    const file = join(dir, 'typed.db');
    const log = new SqliteEventLog(file);
    const env = anEnvelope();
    const calls = (n: number, from: number) => Array.from({ length: n }, (_, i) => interaction(env, new Date(Date.UTC(2026, 0, 1, 0, 0, from + i)).toISOString()));
    await log.append(stored(calls(3, 0))); // positions 1-3
    await log.append(stored([sessionStarted(env, '2026-01-01T00:01:00.000Z', { sessionId: 'typed' }), ...calls(2, 10)])); // 4-6
    await log.append(stored(calls(4, 20))); // 7-10
    const started = (page: { events: Array<{ position: number; event: { type: string } }> }) => page.events.map(({ position, event }) => [position, event.type]);
    expect(started(await log.readType(0, 100, 'session.started'))).toEqual([[4, 'session.started']]);
    expect(await log.readType(0, 100, 'session.started')).toMatchObject({ through: 10, looked: 10 });
    // From inside a block; past the type; at most about max (whole blocks).
    expect(await log.readType(4, 100, 'session.started')).toMatchObject({ events: [], through: 10, looked: 6 });
    expect(await log.readType(0, 2, 'session.started')).toMatchObject({ events: [], through: 3, looked: 3 });
    expect(await log.readType(10, 100, 'session.started')).toEqual({ events: [], through: 10, looked: 0 });
    await log.close();
    // A block written before the column (types NULL) is decoded to be sure.
    const db = openSqliteDatabase(file);
    db.exec('UPDATE km_event_blocks SET types = NULL WHERE first = 4');
    db.close();
    const reopened = new SqliteEventLog(file);
    expect(started(await reopened.readType(0, 100, 'session.started'))).toEqual([[4, 'session.started']]);
    await reopened.close();
  });
});

describe('one SQLite file shared by the log and the read models', () => {
  it('holds both, and closing the adapters leaves the shared connection to its owner', async () => {
    const db = openSqliteDatabase(join(dir, 'shared.db'));
    const log = new SqliteEventLog(db);
    const store = new SqliteReadModelStore(db);
    await log.append(stored([interaction(anEnvelope(), '2026-01-01T00:00:00.000Z')]));
    await store.upsert('sessions', 'local', 's1', { id: 's1' });
    await log.close();
    await store.close();
    expect(db.open).toBe(true);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('journal_size_limit', { simple: true })).toBe(16 * 2 ** 20);
    expect(db.prepare('SELECT count(*) AS n FROM km_event_ids').get()).toEqual({ n: 1 });
    db.close();
  });

  it('lets two connections (two km processes) append to one file without losing or doubling events', async () => {
    const path = join(dir, 'two-writers.db');
    const first = new SqliteEventLog(path);
    const second = new SqliteEventLog(path);
    const envelope = anEnvelope();
    const events = stored(Array.from({ length: 20 }, (_, i) => interaction(envelope, `2026-01-01T00:00:${String(i).padStart(2, '0')}.000Z`)));
    const results = await Promise.all(events.map((event, i) => (i % 2 ? first : second).append([event, events[0]!])));
    const appended = results.reduce((sum, r) => sum + r.appended, 0);
    expect(appended).toBe(20);
    const page = await first.read(0, 100);
    expect(new Set(page.map((entry) => entry.event.id)).size).toBe(20);
    expect(page).toHaveLength(20);
    await first.close();
    await second.close();
  });
});

describe('SqliteEventLog migration of a km.db made before (orgId, id) identity', () => {
  it('keeps every old event at its position and then tells tenants apart', async () => {
    const path = join(dir, 'old-schema.db');
    const old = openSqliteDatabase(path);
    old.exec(`
      CREATE TABLE km_events (position INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL);
      CREATE TABLE km_checkpoints (projector TEXT PRIMARY KEY, position INTEGER NOT NULL);
    `);
    const [a, b] = stored([interaction(anEnvelope({ orgId: 'org-a' }), '2026-01-01T00:00:00.000Z'), interaction(anEnvelope({ orgId: 'org-a' }), '2026-01-01T00:00:01.000Z')]);
    const insert = old.prepare('INSERT INTO km_events (id, body) VALUES (?, ?)');
    insert.run(a!.id, JSON.stringify(a));
    insert.run(b!.id, JSON.stringify(b));
    old.prepare("DELETE FROM km_events WHERE id = ?").run(b!.id);
    old.close();

    const log = new SqliteEventLog(path);
    expect(await log.read(0, 10)).toEqual([{ position: 1, event: a }]);
    expect(await log.append([a!])).toEqual({ appended: 0, duplicates: 1 });
    expect(await log.append([{ ...a!, orgId: 'org-b' }])).toEqual({ appended: 1, duplicates: 0 });
    // AUTOINCREMENT survives: position 2 was used once, so no new event may take it (checkpoints stay valid).
    const after = await log.read(1, 10);
    expect(after.map((entry) => entry.event.orgId)).toEqual(['org-b']);
    expect(after[0]!.position).toBeGreaterThan(2);
    await log.close();
    const reopened = new SqliteEventLog(path);
    expect((await reopened.read(0, 10)).length).toBe(2);
    await reopened.close();
  });
});

describe('SqliteEventLog blocks (issue 11)', () => {
  const events = (n: number, orgId = 'org-a') =>
    stored(Array.from({ length: n }, (_, i) => interaction(anEnvelope({ orgId }), new Date(Date.parse('2026-01-01T00:00:00.000Z') + i * 1000).toISOString())));

  it('stores an append as one compressed block and reads any page of it, across block edges', async () => {
    const path = join(dir, 'blocks.db');
    const log = new SqliteEventLog(path);
    const first = events(7);
    const second = events(5);
    expect(await log.append([...first, first[0]!])).toEqual({ appended: 7, duplicates: 1 });
    expect(await log.append(second)).toEqual({ appended: 5, duplicates: 0 });
    const all = await log.read(0, 100);
    expect(all.map((entry) => entry.event)).toEqual([...first, ...second]);
    expect(all.map((entry) => entry.position)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    // Pages that start and end inside blocks, through a fresh connection (no decoded blocks kept).
    const other = new SqliteEventLog(path);
    for (const [after, max] of [[0, 3], [3, 6], [6, 1], [9, 2], [11, 5], [12, 5]] as const) {
      expect(await other.read(after, max)).toEqual(all.slice(after, after + max));
    }
    const db = openSqliteDatabase(path);
    const blocks = db.prepare<[], { count: number; bytes: number }>('SELECT count, LENGTH(body) AS bytes FROM km_event_blocks ORDER BY first').all();
    expect(blocks.map((block) => block.count)).toEqual([7, 5]);
    expect(blocks[0]!.bytes).toBeLessThan(JSON.stringify(first).length / 2);
    db.close();
    await log.close();
    await other.close();
  });

  it('reads what another connection left of a block retention split, not the block it had decoded', async () => {
    const path = join(dir, 'split.db');
    const reader = new SqliteEventLog(path);
    const sweeper = new SqliteEventLog(path);
    const all = events(6);
    await reader.append(all);
    expect((await reader.read(0, 100)).map((entry) => entry.position)).toEqual([1, 2, 3, 4, 5, 6]);
    // The block at position 1 becomes blocks at 1 (two events) and 4 (three): the first starts where it did.
    expect(await sweeper.removeEvents('org-a', new Set([all[2]!.id]))).toBe(1);
    const after = await reader.read(0, 100);
    expect(after.map((entry) => entry.position)).toEqual([1, 2, 4, 5, 6]);
    expect(after.map((entry) => entry.event.id)).toEqual([all[0], all[1], all[3], all[4], all[5]].map((event) => event!.id));
    await reader.close();
    await sweeper.close();
  });

  it('moves a row-per-event log into blocks, keeping positions, gaps, checkpoints and duplicates', async () => {
    const path = join(dir, 'rows.db');
    const old = openSqliteDatabase(path);
    old.exec(`
      CREATE TABLE km_events (position INTEGER PRIMARY KEY AUTOINCREMENT, org_id TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, UNIQUE (org_id, id));
      CREATE TABLE km_checkpoints (projector TEXT PRIMARY KEY, position INTEGER NOT NULL);
    `);
    const rows = events(600);
    const insert = old.prepare('INSERT INTO km_events (org_id, id, body) VALUES (?, ?, ?)');
    for (const event of rows) insert.run(event.orgId, event.id, JSON.stringify(event));
    old.prepare('DELETE FROM km_events WHERE position IN (3, 600)').run();
    old.prepare("INSERT INTO km_checkpoints VALUES ('sessions', 10)").run();
    old.close();

    const log = new SqliteEventLog(path);
    const kept = rows.filter((_, i) => i !== 2 && i !== 599);
    const page = await log.read(0, 1000);
    expect(page.map((entry) => entry.event)).toEqual(kept);
    expect(page[2]!.position).toBe(4);
    // A read from just before the gap: the block ending at 2 holds nothing past it, yet the page is full.
    expect((await log.read(2, 1)).map((entry) => entry.position)).toEqual([4]);
    expect((await log.read(2, 3)).map((entry) => entry.position)).toEqual([4, 5, 6]);
    expect(await log.getCheckpoint('sessions')).toBe(10);
    expect((await log.read(10, 1000))[0]!.event).toEqual(rows[10]);
    expect(await log.append([rows[0]!])).toEqual({ appended: 0, duplicates: 1 });
    await log.append(events(1, 'org-b'));
    // Position 600 was given out once: the next event comes after it.
    expect((await log.read(599, 10)).map((entry) => entry.position)).toEqual([601]);
    await log.close();
    const db = openSqliteDatabase(path);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'km_events'").get()).toBeUndefined();
    db.close();
  });
});

describe('SqliteReadModelStore documents beside their query fields (issue 11)', () => {
  it('stores large documents deflated (pages of hundreds of KB, not buckets of tens), and still finds and sorts them by their top-level fields', async () => {
    const db = openSqliteDatabase(join(dir, 'compressed.db'));
    const store = new SqliteReadModelStore(db, { indexes: [{ model: 'pages', fields: ['batch'] }] });
    const withRows = (batch: string, n: number, rows: number) => ({ id: batch, batch, n, open: n % 2 === 0, rows: Array.from({ length: rows }, (_, i) => ['row', i, `text ${i} `.repeat(5)]) });
    const big = (batch: string, n: number) => withRows(batch, n, 4000);
    expect(JSON.stringify(big('b1', 1)).length).toBeGreaterThan(200_000);
    const middle = withRows('b3', 3, 400);
    expect(JSON.stringify(middle).length).toBeGreaterThan(20_000);
    await store.upsert('pages', 'org-a', 'p1', big('b1', 1));
    await store.upsert('pages', 'org-a', 'p2', big('b2', 2));
    await store.upsert('pages', 'org-a', 'p3', middle);
    await store.upsert('pages', 'org-a', 'small', { id: 'small', batch: 'b1', n: 0, open: true });
    const rows = db.prepare<[], { id: string; kind: string; bytes: number }>("SELECT id, typeof(doc) AS kind, LENGTH(doc) AS bytes FROM km_read_models ORDER BY id").all();
    expect(rows.map((row) => [row.id, row.kind])).toEqual([['p1', 'blob'], ['p2', 'blob'], ['p3', 'text'], ['small', 'text']]);
    expect((await store.get('pages', 'org-a', 'p3'))!.doc).toEqual(middle);
    expect(rows[0]!.bytes).toBeLessThan(JSON.stringify(big('b1', 1)).length / 3);
    expect((await store.get('pages', 'org-a', 'p2'))!.doc).toEqual(big('b2', 2));
    expect(await store.query('pages', 'org-a', { where: { batch: 'b1' }, orderBy: 'n', direction: 'desc' })).toEqual([big('b1', 1), { id: 'small', batch: 'b1', n: 0, open: true }]);
    expect((await store.query<{ id: string }>('pages', 'org-a', { where: { open: true } })).map((doc) => doc.id)).toEqual(['b2', 'small']);
    db.close();
  });

  it('fills the fields of documents written before them, and replaces the indexes on the documents', async () => {
    const path = join(dir, 'before-fields.db');
    const old = openSqliteDatabase(path);
    old.exec(`
      CREATE TABLE km_read_models (model TEXT NOT NULL, pk TEXT NOT NULL, id TEXT NOT NULL, etag TEXT NOT NULL, doc TEXT NOT NULL, positions TEXT, PRIMARY KEY (model, pk, id));
      CREATE INDEX km_rm_risk_detected_ts ON km_read_models (pk, json_extract(doc, '$.detected'), json_extract(doc, '$.ts'), id) WHERE model = 'risk';
    `);
    const insert = old.prepare('INSERT INTO km_read_models (model, pk, id, etag, doc) VALUES (?, ?, ?, ?, ?)');
    const docs = [
      { id: 'f1', detected: true, ts: '2026-01-02', nested: { ts: 'x' } },
      { id: 'f2', detected: false, ts: '2026-01-03' },
      { id: 'f3', detected: true, ts: '2026-01-04', note: null },
    ];
    for (const doc of docs) insert.run('risk', 'org-a', doc.id, `etag-${doc.id}`, JSON.stringify(doc));
    old.close();

    const db = openSqliteDatabase(path);
    const store = new SqliteReadModelStore(db, { indexes: [{ model: 'risk', fields: ['detected', 'ts'] }] });
    const indexes = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'km_read_models' AND name NOT LIKE 'sqlite_%'").all();
    expect(indexes.map((index) => index.name)).toEqual(['km_rmf_risk_detected_ts']);
    expect(await store.query('risk', 'org-a', { where: { detected: true }, orderBy: 'ts', direction: 'desc' })).toEqual([docs[2], docs[0]]);
    await store.upsert('risk', 'org-a', 'f4', { id: 'f4', detected: true, ts: '2026-01-01' });
    expect((await store.query<{ id: string }>('risk', 'org-a', { where: { detected: true }, orderBy: 'ts' })).map((doc) => doc.id)).toEqual(['f4', 'f1', 'f3']);
    db.close();
  });
});

describe('SqliteReadModelStore over a km.db made before log positions (issue 11)', () => {
  it('rebuilds the table with a rowid, reads old documents, drops their id lists and the all-model indexes, and folds on from the log', async () => {
    const path = join(dir, 'old-read-models.db');
    const old = openSqliteDatabase(path);
    old.exec(`
      CREATE TABLE km_read_models (model TEXT NOT NULL, pk TEXT NOT NULL, id TEXT NOT NULL, etag TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (model, pk, id)) WITHOUT ROWID;
      CREATE INDEX km_read_models_sessions_firstSeenAt ON km_read_models (model, pk, json_extract(doc, '$.firstSeenAt'));
    `);
    const envelope = anEnvelope({ orgId: 'org-a', sessionId: 'session-old' });
    const first = stored([interaction(envelope, '2026-01-01T00:00:00.000Z')]);
    const legacy = { ...sessionsProjection.evolve(null, first[0]!, 'session-old'), applied: [first[0]!.id] };
    old.prepare('INSERT INTO km_read_models (model, pk, id, etag, doc) VALUES (?, ?, ?, ?, ?)').run('sessions', 'org-a', 'session-old', 'etag-1', JSON.stringify(legacy));
    old.close();

    const db = openSqliteDatabase(path);
    const store = new SqliteReadModelStore(db, { indexes: [{ model: 'sessions', fields: ['firstSeenAt'] }] });
    const indexes = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'km_read_models' AND name NOT LIKE 'sqlite_%'").all();
    expect(indexes.map((index) => index.name)).toEqual(['km_rmf_sessions_firstSeenAt']);
    const table = db.prepare<[], { sql: string }>("SELECT sql FROM sqlite_master WHERE name = 'km_read_models'").get()!;
    expect(table.sql).not.toMatch(/WITHOUT ROWID/i);
    expect(await store.get('sessions', 'org-a', 'session-old')).toEqual({ doc: legacy, etag: 'etag-1' });
    expect(await store.query('sessions', 'org-a', { orderBy: 'firstSeenAt' })).toEqual([legacy]);

    const log = new SqliteEventLog(db);
    await log.append(stored([interaction(envelope, '2026-01-01T00:00:05.000Z')]));
    await runProjectorOnce(sessionsProjection, log, store, 100);
    const after = (await store.get<SessionDoc>('sessions', 'org-a', 'session-old'))!;
    expect(after.doc).toMatchObject({ interactionCount: 2 });
    expect(after.doc).not.toHaveProperty('applied');
    expect(after.positions).toEqual({ log: 1 });
    db.close();
  });
});
