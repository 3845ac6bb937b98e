import { randomUUID } from 'node:crypto';
import { ConcurrencyError, type DocWrite, type DocWriteOutcome, type FoldedPositions, type QueryOptions, type ReadModelStore, type StoredDoc } from '../ports';
import { assertValidQuery } from './read-model-query';
import { resolveDatabase, type SqliteDatabase, type SqliteStatement } from './sqlite-database';

type Key = [model: string, pk: string, id: string];

/** An index for one query shape: equality fields first, then the sort field, as the query handlers use them. */
export interface ReadModelIndex {
  model: string;
  fields: string[];
}

/** Field names are validated identifiers, so the JSON path can be written into the SQL text, where indexes see it. */
const jsonField = (field: string) => `json_extract(doc, '$.${field}')`;

/**
 * A rowid table, not WITHOUT ROWID: documents are 1-20 KB, and SQLite's WITHOUT ROWID b-trees are for rows under about
 * 1/20 of a page; with them a write of a document cost about 1.7x the CPU (measured, issue 11).
 */
const TABLE_COLUMNS = `
  model TEXT NOT NULL,
  pk TEXT NOT NULL,
  id TEXT NOT NULL,
  etag TEXT NOT NULL,
  doc TEXT NOT NULL,
  positions TEXT,
  PRIMARY KEY (model, pk, id)`;

/** Model names that can be written into the SQL text as a literal, where partial indexes see them. */
const MODEL_LITERAL = /^[A-Za-z0-9_]+$/;

/**
 * The embedded ReadModelStore: one table of JSON documents keyed by (model, partition key, id). Every statement
 * names the partition key in its WHERE clause, so no query can return another tenant's documents.
 */
export class SqliteReadModelStore implements ReadModelStore {
  private readonly db: SqliteDatabase;
  private readonly ownsDb: boolean;
  private readonly selectOne: SqliteStatement<Key, { etag: string; doc: string; positions: string | null }>;
  private readonly writeUnconditionally: SqliteStatement<[...Key, string, string, string | null]>;
  private readonly insertIfAbsent: SqliteStatement<[...Key, string, string, string | null]>;
  private readonly updateIfEtag: SqliteStatement<[string, string, string | null, ...Key, string]>;
  private readonly writeAll: (model: string, writes: readonly DocWrite[]) => DocWriteOutcome[];
  /** Query shapes are few (one per query handler), so their prepared statements are kept. */
  private readonly queries = new Map<string, SqliteStatement<Array<string | number>, { doc: string }>>();

  constructor(database: SqliteDatabase | string, options: { indexes?: readonly ReadModelIndex[] } = {}) {
    const { db, owned } = resolveDatabase(database);
    this.db = db;
    this.ownsDb = owned;
    db.exec(`CREATE TABLE IF NOT EXISTS km_read_models (${TABLE_COLUMNS})`);
    addPositionsColumn(db);
    migrateToRowidTable(db);
    for (const index of options.indexes ?? []) createIndex(db, index);
    this.selectOne = db.prepare('SELECT etag, doc, positions FROM km_read_models WHERE model = ? AND pk = ? AND id = ?');
    this.writeUnconditionally = db.prepare(
      `INSERT INTO km_read_models (model, pk, id, etag, doc, positions) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (model, pk, id) DO UPDATE SET etag = excluded.etag, doc = excluded.doc, positions = excluded.positions`,
    );
    this.insertIfAbsent = db.prepare(
      'INSERT INTO km_read_models (model, pk, id, etag, doc, positions) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    );
    this.updateIfEtag = db.prepare(
      'UPDATE km_read_models SET etag = ?, doc = ?, positions = ? WHERE model = ? AND pk = ? AND id = ? AND etag = ?',
    );
    const writeInTransaction = db.transaction((model: string, writes: readonly DocWrite[]) =>
      writes.map((write): DocWriteOutcome => {
        const etag = this.write(model, write.partitionKey, write.id, write.doc, write.ifMatch, write.positions);
        return etag === null ? { conflict: true } : { etag };
      }),
    );
    // IMMEDIATE, as the log's append: take the write lock up front rather than fail upgrading a read lock.
    this.writeAll = (model, writes) => writeInTransaction.immediate(model, writes);
  }

  async get<T>(model: string, partitionKey: string, id: string): Promise<StoredDoc<T> | null> {
    const row = this.selectOne.get(model, partitionKey, id);
    if (!row) return null;
    return { doc: JSON.parse(row.doc) as T, etag: row.etag, ...(row.positions ? { positions: JSON.parse(row.positions) as FoldedPositions } : {}) };
  }

  async upsert<T>(model: string, partitionKey: string, id: string, doc: T, ifMatch?: string | null, positions?: FoldedPositions): Promise<string> {
    const etag = this.write(model, partitionKey, id, doc, ifMatch, positions);
    if (etag === null) throw new ConcurrencyError(model, id);
    return etag;
  }

  /** One transaction for the whole batch: a commit per document would cost about twice the time. */
  async upsertMany(model: string, writes: readonly DocWrite[]): Promise<DocWriteOutcome[]> {
    return this.writeAll(model, writes);
  }

  /** The new ETag, or null on a conflict. Each statement is atomic: the condition and the write cannot be split. */
  private write(model: string, partitionKey: string, id: string, doc: unknown, ifMatch: string | null | undefined, positions: FoldedPositions | undefined): string | null {
    const etag = randomUUID();
    const body = JSON.stringify(doc);
    const folded = positions ? JSON.stringify(positions) : null;
    if (ifMatch === undefined) this.writeUnconditionally.run(model, partitionKey, id, etag, body, folded);
    else if (ifMatch === null) {
      if (this.insertIfAbsent.run(model, partitionKey, id, etag, body, folded).changes === 0) return null;
    } else if (this.updateIfEtag.run(etag, body, folded, model, partitionKey, id, ifMatch).changes === 0) return null;
    return etag;
  }

  async query<T>(model: string, partitionKey: string, options: QueryOptions = {}): Promise<T[]> {
    assertValidQuery(options);
    // A literal model name lets SQLite use that model's partial indexes (a bound parameter would not).
    const literal = MODEL_LITERAL.test(model);
    const clauses = [literal ? `model = '${model}'` : 'model = ?', 'pk = ?'];
    const params: Array<string | number> = literal ? [partitionKey] : [model, partitionKey];
    for (const [field, value] of Object.entries(options.where ?? {})) {
      clauses.push(`${jsonField(field)} = ?`);
      // better-sqlite3 cannot bind booleans; json_extract yields 1/0 for JSON true/false.
      params.push(typeof value === 'boolean' ? Number(value) : value);
    }
    let sql = `SELECT doc FROM km_read_models WHERE ${clauses.join(' AND ')}`;
    if (options.orderBy) {
      // Ties go by id in the same direction: then an index on (model, pk, field) yields rows in order, and LIMIT stops early.
      const direction = options.direction === 'desc' ? 'DESC' : 'ASC';
      sql += ` ORDER BY ${jsonField(options.orderBy)} ${direction}, id ${direction}`;
    } else {
      sql += ' ORDER BY id ASC';
    }
    if (options.limit !== undefined) {
      sql += ' LIMIT ?';
      params.push(options.limit);
    }
    let statement = this.queries.get(sql);
    if (!statement) this.queries.set(sql, (statement = this.db.prepare(sql)));
    return statement.all(...params).map((row) => JSON.parse(row.doc) as T);
  }

  async close(): Promise<void> {
    if (this.ownsDb && this.db.open) this.db.close();
  }
}

/**
 * Without an index, a query parses the JSON of every document in the tenant's partition. Each index is partial, on
 * its model only: a write then evaluates the json_extract expressions of its own model's indexes, not those of every
 * model (six expressions over every 4 KB latency bucket made the store's writes 2-4x slower, issue 11).
 */
function createIndex(db: SqliteDatabase, index: ReadModelIndex): void {
  assertValidQuery({ where: Object.fromEntries(index.fields.map((field) => [field, ''])) });
  if (!MODEL_LITERAL.test(index.model)) throw new Error(`read model name "${index.model}" cannot name an index`);
  const name = `km_rm_${index.model}_${index.fields.join('_')}`;
  // id last: queries break ties by id, so the index yields rows in the full ORDER BY and LIMIT stops early.
  db.exec(`CREATE INDEX IF NOT EXISTS ${name} ON km_read_models (pk, ${index.fields.map(jsonField).join(', ')}, id) WHERE model = '${index.model}'`);
}

/**
 * km.db files made before issue 11 hold the documents in a WITHOUT ROWID table with an expression index per query
 * shape over every model. The table is rebuilt once, in one transaction; dropping the old one drops those indexes,
 * and the partial ones are made after.
 */
function migrateToRowidTable(db: SqliteDatabase): void {
  const table = db.prepare<[], { sql: string }>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'km_read_models'").get();
  if (!table || !/WITHOUT\s+ROWID/i.test(table.sql)) return;
  db.transaction(() => {
    db.exec(`
      CREATE TABLE km_read_models_rowid (${TABLE_COLUMNS});
      INSERT INTO km_read_models_rowid (model, pk, id, etag, doc, positions) SELECT model, pk, id, etag, doc, positions FROM km_read_models;
      DROP TABLE km_read_models;
      ALTER TABLE km_read_models_rowid RENAME TO km_read_models;
    `);
  }).immediate();
}

/** km.db files from before projectors recorded log positions: the column is added, empty (null) for old rows. */
function addPositionsColumn(db: SqliteDatabase): void {
  const columns = db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('km_read_models')").all();
  if (!columns.some((column) => column.name === 'positions')) db.exec('ALTER TABLE km_read_models ADD COLUMN positions TEXT');
}
