import { chmodSync } from 'node:fs';
import Database from 'better-sqlite3';

export type SqliteDatabase = Database.Database;
export type SqliteStatement<Params extends unknown[], Row = unknown> = Database.Statement<Params, Row>;

const WAL_SIZE_LIMIT_BYTES = 16 * 2 ** 20;

/**
 * Opens a SQLite file the way every embedded adapter needs it: WAL so readers never block the writer,
 * synchronous=NORMAL (durable at checkpoints, fast enough for ~300k rows/s), and a busy timeout because
 * several km processes may share one KM_HOME and briefly contend for the write lock.
 */
export function openSqliteDatabase(path: string): SqliteDatabase {
  const db = new Database(path);
  // Private like the rest of KM_HOME (the WAL and shm files SQLite creates take the same mode).
  if (path !== ':memory:') chmodSync(path, 0o600);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  // After a checkpoint the WAL file is cut back to this size, instead of keeping the largest size a burst grew it to.
  db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
  return db;
}

/**
 * Adapters accept either a path (they own the connection and close it) or an open Database shared with
 * other adapters (the caller closes it), so the log and the read models can live in one file.
 */
export function resolveDatabase(target: SqliteDatabase | string): { db: SqliteDatabase; owned: boolean } {
  return typeof target === 'string' ? { db: openSqliteDatabase(target), owned: true } : { db: target, owned: false };
}

/**
 * Adds a nullable column to a table of a km.db from before it (old rows get NULL). Checked again under the write
 * lock: another km process sharing the file may have added it meanwhile. Names are this module's callers' own
 * constants, never input.
 */
export function addColumnIfMissing(db: SqliteDatabase, table: string, column: string, type: string): void {
  const has = () => db.prepare<[string], { name: string }>('SELECT name FROM pragma_table_info(?)').all(table).some((row) => row.name === column);
  if (has()) return;
  db.transaction(() => {
    if (!has()) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
  }).immediate();
}
