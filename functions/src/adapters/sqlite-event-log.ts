import type { LoggedEvent } from '@km/shared';
import type { AppendResult, EventLog, LogPosition } from '../ports';
import { resolveDatabase, type SqliteDatabase, type SqliteStatement } from './sqlite-database';

/**
 * The embedded EventLog: one table whose INTEGER PRIMARY KEY is the log position. AUTOINCREMENT keeps positions
 * strictly increasing even if rows were ever deleted, so a projector checkpoint can never point at a reused slot.
 */
export class SqliteEventLog implements EventLog {
  private readonly db: SqliteDatabase;
  private readonly ownsDb: boolean;
  private readonly appendAll: (events: LoggedEvent[]) => number;
  private readonly selectAfter: SqliteStatement<[number, number], { position: number; body: string }>;
  private readonly selectCheckpoint: SqliteStatement<[string], { position: number }>;
  private readonly upsertCheckpoint: SqliteStatement<[string, number]>;

  constructor(database: SqliteDatabase | string) {
    const { db, owned } = resolveDatabase(database);
    this.db = db;
    this.ownsDb = owned;
    db.exec(`
      CREATE TABLE IF NOT EXISTS km_events (
        position INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id TEXT NOT NULL,
        id TEXT NOT NULL,
        body TEXT NOT NULL,
        UNIQUE (org_id, id)
      );
      CREATE TABLE IF NOT EXISTS km_checkpoints (
        projector TEXT PRIMARY KEY,
        position INTEGER NOT NULL
      );
    `);
    migrateToTenantIdentity(db);
    const insert = db.prepare('INSERT OR IGNORE INTO km_events (org_id, id, body) VALUES (?, ?, ?)');
    const appendInTransaction = db.transaction((events: LoggedEvent[]) => {
      let appended = 0;
      for (const event of events) appended += insert.run(event.orgId, event.id, JSON.stringify(event)).changes;
      return appended;
    });
    // IMMEDIATE takes the write lock up front: a deferred transaction that upgrades from read to write can fail
    // with SQLITE_BUSY at once, without waiting for busy_timeout, when another km process writes concurrently.
    this.appendAll = (events) => appendInTransaction.immediate(events);
    this.selectAfter = db.prepare<[number, number], { position: number; body: string }>(
      'SELECT position, body FROM km_events WHERE position > ? ORDER BY position LIMIT ?',
    );
    this.selectCheckpoint = db.prepare<[string], { position: number }>(
      'SELECT position FROM km_checkpoints WHERE projector = ?',
    );
    this.upsertCheckpoint = db.prepare<[string, number]>(
      'INSERT INTO km_checkpoints (projector, position) VALUES (?, ?) ON CONFLICT (projector) DO UPDATE SET position = excluded.position',
    );
  }

  async append(events: LoggedEvent[]): Promise<AppendResult> {
    const appended = this.appendAll(events);
    return { appended, duplicates: events.length - appended };
  }

  async read(after: LogPosition, max: number): Promise<Array<{ position: LogPosition; event: LoggedEvent }>> {
    return this.selectAfter
      .all(after, max)
      .map((row) => ({ position: row.position, event: JSON.parse(row.body) as LoggedEvent }));
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
}

/**
 * km.db files made before an event's identity was (orgId, id) have `id TEXT NOT NULL UNIQUE`, so one tenant's id
 * could shadow another's. SQLite cannot drop a column constraint, so the table is rebuilt once, in one transaction,
 * keeping every row at its position (checkpoints stay valid) and the AUTOINCREMENT counter (sqlite_sequence).
 */
function migrateToTenantIdentity(db: SqliteDatabase): void {
  const columns = db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('km_events')").all();
  if (columns.some((column) => column.name === 'org_id')) return;
  db.transaction(() => {
    db.exec(`
      CREATE TABLE km_events_by_tenant (
        position INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id TEXT NOT NULL,
        id TEXT NOT NULL,
        body TEXT NOT NULL,
        UNIQUE (org_id, id)
      );
      INSERT INTO km_events_by_tenant (position, org_id, id, body)
        SELECT position, COALESCE(json_extract(body, '$.orgId'), ''), id, body FROM km_events ORDER BY position;
      UPDATE sqlite_sequence SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'km_events'), 0))
        WHERE name = 'km_events_by_tenant';
      DROP TABLE km_events;
      ALTER TABLE km_events_by_tenant RENAME TO km_events;
    `);
  }).immediate();
}
