import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { LoggedEvent } from '@km/shared';
import type { AppendResult, EventLog, LogPosition, RetainingLog, TypedPage } from '../ports';
import { addColumnIfMissing, resolveDatabase, type SqliteDatabase, type SqliteStatement } from './sqlite-database';

/**
 * deflate level 3: on km's batches about 12x smaller than the JSON for ~4 us per event, where one row per event
 * stored the JSON as it came (the log was a third of km.db) and compressing each event alone gave only 2.4x at
 * 40-60 us (measured, issue 11).
 */
const DEFLATE_LEVEL = 3;
/** An event's (org, id) taken once, at its position: no change means a duplicate. Shared with the migration. */
const CLAIM_ID_SQL = 'INSERT OR IGNORE INTO km_event_ids (org_id, id, position) VALUES (?, ?, ?)';
const INSERT_BLOCK_SQL = 'INSERT INTO km_event_blocks (first, count, body, types) VALUES (?, ?, ?, ?)';
/** A block's distinct event types, space-separated (types are dotted words): readType passes over blocks without its type. */
const typesOf = (events: readonly LoggedEvent[]) => [...new Set(events.map((event) => event.type))].sort().join(' ');
/** The blocks from the one holding the first position asked for (the last one starting at or before it) onwards. */
const BLOCKS_FROM_SQL = 'FROM km_event_blocks WHERE first >= COALESCE((SELECT MAX(first) FROM km_event_blocks WHERE first <= ?), 0) ORDER BY first LIMIT ?';
/** Decoded blocks kept for the next read: the projector loop and the budget notifier read the same ones in turn. */
const BLOCKS_CACHED = 4;

interface Block {
  first: LogPosition;
  events: LoggedEvent[];
}

/**
 * The embedded EventLog. Each append is one block: the events it added, as one compressed JSON array, at
 * consecutive positions from `first`. km_event_ids holds each (org, id) once, which is what makes a repeated event a
 * duplicate. Positions come from km_event_sequence and only ever grow, so a projector checkpoint can never point at
 * a reused slot. The append runs in an IMMEDIATE transaction, so two km processes sharing the file never take the
 * same positions.
 */
export class SqliteEventLog implements EventLog, RetainingLog {
  private readonly db: SqliteDatabase;
  private readonly ownsDb: boolean;
  private readonly appendAll: (events: LoggedEvent[]) => number;
  private readonly selectFrom: SqliteStatement<[number, number], { first: number; count: number; body: Buffer }>;
  private readonly selectTypesFrom: SqliteStatement<[number, number], { first: number; count: number; types: string | null }>;
  private readonly selectBody: SqliteStatement<[number], { body: Buffer }>;
  private readonly selectLastReceivedAt: SqliteStatement<[], { last: number | null }>;
  private readonly selectLastBlock: SqliteStatement<[], { first: number; count: number; body: Buffer }>;
  private readonly selectCheckpoint: SqliteStatement<[string], { position: number }>;
  private readonly upsertCheckpoint: SqliteStatement<[string, number]>;
  private readonly cache = new Map<LogPosition, Block>();

  constructor(database: SqliteDatabase | string) {
    const { db, owned } = resolveDatabase(database);
    this.db = db;
    this.ownsDb = owned;
    db.exec(`
      CREATE TABLE IF NOT EXISTS km_event_blocks (
        first INTEGER PRIMARY KEY,
        count INTEGER NOT NULL,
        body BLOB NOT NULL
      );
      CREATE TABLE IF NOT EXISTS km_event_ids (
        org_id TEXT NOT NULL,
        id TEXT NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (org_id, id)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS km_event_sequence (next INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS km_checkpoints (
        projector TEXT PRIMARY KEY,
        position INTEGER NOT NULL
      );
    `);
    // Blocks written before the types column have none (NULL): readType decodes those.
    addColumnIfMissing(db, 'km_event_blocks', 'types', 'TEXT');
    // The latest receivedAt ever appended (ms), for lastReceivedAt: NULL in files from before it.
    addColumnIfMissing(db, 'km_event_sequence', 'last_received_at', 'INTEGER');
    migrateRowPerEventLog(db);
    const nextPosition = db.prepare<[], { next: number }>('SELECT next FROM km_event_sequence');
    const setNext = db.prepare<[number, number | null]>('UPDATE km_event_sequence SET next = ?, last_received_at = MAX(COALESCE(last_received_at, 0), COALESCE(?, 0))');
    const claimId = db.prepare<[string, string, number]>(CLAIM_ID_SQL);
    const insertBlock = db.prepare<[number, number, Buffer, string]>(INSERT_BLOCK_SQL);
    const appendInTransaction = db.transaction((events: LoggedEvent[], encoded: Buffer) => {
      const first = nextPosition.get()!.next;
      const fresh: LoggedEvent[] = [];
      for (const event of events) if (claimId.run(event.orgId, event.id, first + fresh.length).changes > 0) fresh.push(event);
      if (fresh.length === 0) return 0;
      // Duplicates are rare (a batch shipped again): only then is the block encoded again, without them.
      insertBlock.run(first, fresh.length, fresh.length === events.length ? encoded : encodeBlock(fresh), typesOf(fresh));
      setNext.run(first + fresh.length, latestReceivedAt(fresh));
      return fresh.length;
    });
    // The block is encoded before the transaction: the write lock, which the projector's writes wait for, is held
    // only for the statements, not for stringifying and deflating the batch (issue 11).
    // IMMEDIATE takes the write lock up front: a deferred transaction that upgrades from read to write can fail
    // with SQLITE_BUSY at once, without waiting for busy_timeout, when another km process writes concurrently.
    this.appendAll = (events) => appendInTransaction.immediate(events, encodeBlock(events));
    this.selectFrom = db.prepare<[number, number], { first: number; count: number; body: Buffer }>(`SELECT first, count, body ${BLOCKS_FROM_SQL}`);
    this.selectTypesFrom = db.prepare<[number, number], { first: number; count: number; types: string | null }>(`SELECT first, count, types ${BLOCKS_FROM_SQL}`);
    this.selectBody = db.prepare<[number], { body: Buffer }>('SELECT body FROM km_event_blocks WHERE first = ?');
    this.selectLastReceivedAt = db.prepare<[], { last: number | null }>('SELECT last_received_at AS last FROM km_event_sequence');
    this.selectLastBlock = db.prepare<[], { first: number; count: number; body: Buffer }>('SELECT first, count, body FROM km_event_blocks ORDER BY first DESC LIMIT 1');
    this.selectCheckpoint = db.prepare<[string], { position: number }>('SELECT position FROM km_checkpoints WHERE projector = ?');
    this.upsertCheckpoint = db.prepare<[string, number]>(
      'INSERT INTO km_checkpoints (projector, position) VALUES (?, ?) ON CONFLICT (projector) DO UPDATE SET position = excluded.position',
    );
  }

  async append(events: LoggedEvent[]): Promise<AppendResult> {
    const appended = events.length === 0 ? 0 : this.appendAll(events);
    return { appended, duplicates: events.length - appended };
  }

  async read(after: LogPosition, max: number): Promise<Array<{ position: LogPosition; event: LoggedEvent }>> {
    const page: Array<{ position: LogPosition; event: LoggedEvent }> = [];
    // A block holds at least one event, so max blocks after the first always hold max events when the log has them;
    // the first may hold none past `after` (its end, or a gap of a migrated log), hence one block more.
    for (const row of this.selectFrom.iterate(after + 1, max + 1)) {
      const { events } = this.decoded(row.first, row.count, () => row.body);
      for (let i = Math.max(0, after + 1 - row.first); i < events.length && page.length < max; i++) {
        page.push({ position: row.first + i, event: events[i]! });
      }
      if (page.length === max) break;
    }
    return page;
  }

  /**
   * The events of one type after `after`, looking through at most about `max` events (whole blocks): a block whose
   * types column lacks it is passed over without being read or decoded (blocks from before the column are decoded).
   * The budget notifier looks for its rare events this way, where decoding every ingested block was a tenth of km
   * serve's main thread at full ingest (issue 11).
   */
  async readType(after: LogPosition, max: number, type: string): Promise<TypedPage> {
    const events: TypedPage['events'] = [];
    let through = after;
    let looked = 0;
    const rows = this.selectTypesFrom.all(after + 1, max + 1);
    for (const row of rows) {
      const last = row.first + row.count - 1;
      if (last <= after) continue;
      if (row.types === null || row.types.split(' ').includes(type)) {
        const block = this.decoded(row.first, row.count, () => this.selectBody.get(row.first)!.body);
        block.events.forEach((event, i) => {
          if (row.first + i > after && event.type === type) events.push({ position: row.first + i, event });
        });
      }
      looked += last - Math.max(row.first, after + 1) + 1;
      through = last;
      if (looked >= max) break;
    }
    return { events, through, looked };
  }

  /**
   * Retention: each block holding one of the events is replaced by the runs of events it keeps, each a block at
   * its first event's own position, so every kept event keeps its position (read() passes over the gaps) and a
   * projector checkpoint still means what it meant. One IMMEDIATE transaction: all of it or none.
   */
  async removeEvents(orgId: string, ids: ReadonlySet<string>): Promise<number> {
    if (ids.size === 0) return 0;
    const positionOf = this.db.prepare<[string, string], { position: number }>('SELECT position FROM km_event_ids WHERE org_id = ? AND id = ?');
    const blockAt = this.db.prepare<[number], { first: number; count: number; body: Buffer }>('SELECT first, count, body FROM km_event_blocks WHERE first <= ? ORDER BY first DESC LIMIT 1');
    const dropBlock = this.db.prepare<[number]>('DELETE FROM km_event_blocks WHERE first = ?');
    const insertBlock = this.db.prepare<[number, number, Buffer, string]>(INSERT_BLOCK_SQL);
    const remove = this.db.transaction(() => {
      const blocks = new Map<number, { first: number; count: number; body: Buffer }>();
      for (const id of ids) {
        const at = positionOf.get(orgId, id)?.position;
        if (at === undefined) continue;
        const block = blockAt.get(at);
        if (block && at < block.first + block.count) blocks.set(block.first, block);
      }
      let removed = 0;
      for (const block of blocks.values()) {
        const events = decodeBlock(block.body, block.count);
        dropBlock.run(block.first);
        let run: { first: number; events: LoggedEvent[] } | null = null;
        const flush = () => {
          if (run) insertBlock.run(run.first, run.events.length, encodeBlock(run.events), typesOf(run.events));
          run = null;
        };
        events.forEach((event, index) => {
          if (event.orgId === orgId && ids.has(event.id)) {
            removed++;
            flush();
            return;
          }
          run ??= { first: block.first + index, events: [] };
          run.events.push(event);
        });
        flush();
      }
      return removed;
    });
    const removed = remove.immediate();
    this.cache.clear();
    return removed;
  }

  /** Another connection changed blocks (a retention sweep): what this one decoded may no longer be what is stored. */
  forgetDecodedBlocks(): void {
    this.cache.clear();
  }

  /**
   * The latest receivedAt ever appended, kept with the sequence: the last block's alone could be retention's leftover
   * or server events stamped by a clock set back. A file from before the column has the last block's.
   */
  lastReceivedAt(): number | null {
    const kept = this.selectLastReceivedAt.get()?.last;
    if (kept) return kept;
    const row = this.selectLastBlock.get();
    return row ? latestReceivedAt(this.decoded(row.first, row.count, () => row.body).events) : null;
  }

  async getCheckpoint(projector: string): Promise<LogPosition> {
    return this.selectCheckpoint.get(projector)?.position ?? 0;
  }

  async setCheckpoint(projector: string, position: LogPosition): Promise<void> {
    this.upsertCheckpoint.run(projector, position);
  }

  async close(): Promise<void> {
    if (this.ownsDb && this.db.open) this.db.close();
  }

  /**
   * A decoded block is reused by position while its row holds as many events: retention (removeEvents, maybe on
   * another connection) replaces a block by the runs it keeps, and the first of them starts where the block did.
   */
  private decoded(first: number, count: number, body: () => Buffer): Block {
    const cached = this.cache.get(first);
    if (cached && cached.events.length === count) return cached;
    // The body asked for only now: readType reads it only for a block not decoded already.
    const block = { first, events: decodeBlock(body(), count) };
    this.cache.set(first, block);
    if (this.cache.size > BLOCKS_CACHED) this.cache.delete(this.cache.keys().next().value!);
    return block;
  }
}

/** The latest receivedAt of the events (ms), null when none has one: ISO times in Z compare as text, parsed once. */
function latestReceivedAt(events: readonly LoggedEvent[]): number | null {
  let latest = '';
  for (const event of events) if (typeof event.receivedAt === 'string' && event.receivedAt > latest) latest = event.receivedAt;
  const ms = Date.parse(latest);
  return Number.isFinite(ms) ? ms : null;
}

function encodeBlock(events: readonly LoggedEvent[]): Buffer {
  return deflateRawSync(JSON.stringify(events), { level: DEFLATE_LEVEL });
}

function decodeBlock(body: Buffer, count: number): LoggedEvent[] {
  const events = JSON.parse(inflateRawSync(body).toString('utf8')) as LoggedEvent[];
  if (!Array.isArray(events) || events.length !== count) throw new Error(`event log block holds ${Array.isArray(events) ? events.length : 'no'} events, expected ${count}: km.db is damaged`);
  return events;
}

/**
 * km.db files from before blocks keep one row per event in km_events (oldest of all: with `id TEXT UNIQUE` and no
 * org_id). Their events move into blocks once, in one transaction, each run of consecutive positions as blocks of
 * up to 500, so every event keeps its position and checkpoints stay valid. The sequence continues after the highest
 * position ever given out (AUTOINCREMENT's counter), never reusing one.
 */
function migrateRowPerEventLog(db: SqliteDatabase): void {
  const hasTable = (name: string) => db.prepare<[string], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
  const isSequenced = () => db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM km_event_sequence').get()!.n > 0;
  if (isSequenced() && !hasTable('km_events')) return;
  db.transaction(() => {
    // Again under the write lock: another km process may have done it meanwhile.
    const sequenced = isSequenced();
    const legacy = hasTable('km_events');
    if (sequenced && !legacy) return;
    let next = 1;
    if (legacy) {
      const hasOrg = db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('km_events')").all().some((column) => column.name === 'org_id');
      // In chunks: better-sqlite3 cannot write while a statement iterates.
      const chunk = db.prepare<[number], { position: number; body: string }>('SELECT position, body FROM km_events WHERE position > ? ORDER BY position LIMIT 5000');
      const claimId = db.prepare<[string, string, number]>(CLAIM_ID_SQL);
      const insertBlock = db.prepare<[number, number, Buffer, string]>(INSERT_BLOCK_SQL);
      let run: { first: number; events: LoggedEvent[] } | null = null;
      const flush = () => {
        if (run && run.events.length > 0) insertBlock.run(run.first, run.events.length, encodeBlock(run.events), typesOf(run.events));
        run = null;
      };
      const add = (row: { position: number; body: string }) => {
        const event = JSON.parse(row.body) as LoggedEvent;
        // Before (orgId, id) identity the org was only in the body.
        if (!hasOrg) event.orgId ??= '';
        claimId.run(event.orgId, event.id, row.position);
        if (!run || run.first + run.events.length !== row.position || run.events.length === 500) {
          flush();
          run = { first: row.position, events: [] };
        }
        run.events.push(event);
        next = Math.max(next, row.position + 1);
      };
      for (let rows = chunk.all(0); rows.length > 0; rows = chunk.all(rows[rows.length - 1]!.position)) rows.forEach(add);
      flush();
      const counter = hasTable('sqlite_sequence') ? db.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'km_events'").get() : undefined;
      if (counter) next = Math.max(next, counter.seq + 1);
      db.exec('DROP TABLE km_events');
    }
    if (sequenced) db.prepare('UPDATE km_event_sequence SET next = MAX(next, ?)').run(next);
    else db.prepare('INSERT INTO km_event_sequence (next) VALUES (?)').run(next);
  }).immediate();
}
