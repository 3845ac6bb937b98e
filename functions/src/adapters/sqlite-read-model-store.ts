import { randomUUID } from 'node:crypto';
import { ConcurrencyError, type QueryOptions, type ReadModelStore, type StoredDoc } from '../ports';
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
 * The embedded ReadModelStore: one table of JSON documents keyed by (model, partition key, id). Every statement
 * names the partition key in its WHERE clause, so no query can return another tenant's documents.
 */
export class SqliteReadModelStore implements ReadModelStore {
  private readonly db: SqliteDatabase;
  private readonly ownsDb: boolean;
  private readonly selectOne: SqliteStatement<Key, { etag: string; doc: string }>;
  private readonly writeUnconditionally: SqliteStatement<[...Key, string, string]>;
  private readonly insertIfAbsent: SqliteStatement<[...Key, string, string]>;
  private readonly updateIfEtag: SqliteStatement<[string, string, ...Key, string]>;
  /** Query shapes are few (one per query handler), so their prepared statements are kept. */
  private readonly queries = new Map<string, SqliteStatement<Array<string | number>, { doc: string }>>();

  constructor(database: SqliteDatabase | string, options: { indexes?: readonly ReadModelIndex[] } = {}) {
    const { db, owned } = resolveDatabase(database);
    this.db = db;
    this.ownsDb = owned;
    db.exec(`
      CREATE TABLE IF NOT EXISTS km_read_models (
        model TEXT NOT NULL,
        pk TEXT NOT NULL,
        id TEXT NOT NULL,
        etag TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (model, pk, id)
      ) WITHOUT ROWID;
    `);
    for (const index of options.indexes ?? []) createIndex(db, index);
    this.selectOne = db.prepare('SELECT etag, doc FROM km_read_models WHERE model = ? AND pk = ? AND id = ?');
    this.writeUnconditionally = db.prepare(
      `INSERT INTO km_read_models (model, pk, id, etag, doc) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (model, pk, id) DO UPDATE SET etag = excluded.etag, doc = excluded.doc`,
    );
    this.insertIfAbsent = db.prepare(
      'INSERT INTO km_read_models (model, pk, id, etag, doc) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    );
    this.updateIfEtag = db.prepare(
      'UPDATE km_read_models SET etag = ?, doc = ? WHERE model = ? AND pk = ? AND id = ? AND etag = ?',
    );
  }

  async get<T>(model: string, partitionKey: string, id: string): Promise<StoredDoc<T> | null> {
    const row = this.selectOne.get(model, partitionKey, id);
    return row ? { doc: JSON.parse(row.doc) as T, etag: row.etag } : null;
  }

  async upsert<T>(model: string, partitionKey: string, id: string, doc: T, ifMatch?: string | null): Promise<string> {
    const etag = randomUUID();
    const body = JSON.stringify(doc);
    // Each statement is atomic on its own: the condition and the write cannot be split by another writer.
    if (ifMatch === undefined) {
      this.writeUnconditionally.run(model, partitionKey, id, etag, body);
    } else if (ifMatch === null) {
      if (this.insertIfAbsent.run(model, partitionKey, id, etag, body).changes === 0) throw new ConcurrencyError(model, id);
    } else if (this.updateIfEtag.run(etag, body, model, partitionKey, id, ifMatch).changes === 0) {
      throw new ConcurrencyError(model, id);
    }
    return etag;
  }

  async query<T>(model: string, partitionKey: string, options: QueryOptions = {}): Promise<T[]> {
    assertValidQuery(options);
    const clauses = ['model = ?', 'pk = ?'];
    const params: Array<string | number> = [model, partitionKey];
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
 * Without an index, a query parses the JSON of every document in the tenant's partition. The index names the model
 * as a column, not as a partial-index condition, because queries bind the model as a parameter.
 */
function createIndex(db: SqliteDatabase, index: ReadModelIndex): void {
  assertValidQuery({ where: Object.fromEntries(index.fields.map((field) => [field, ''])) });
  if (!/^[A-Za-z0-9_]+$/.test(index.model)) throw new Error(`read model name "${index.model}" cannot name an index`);
  const name = `km_read_models_${index.model}_${index.fields.join('_')}`;
  db.exec(`CREATE INDEX IF NOT EXISTS ${name} ON km_read_models (model, pk, ${index.fields.map(jsonField).join(', ')})`);
}
