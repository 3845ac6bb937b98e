import { randomUUID } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { ConcurrencyError, type DocWrite, type DocWriteOutcome, type FoldedPositions, type QueryOptions, type ReadModelStore, type StoredDoc } from '../ports';
import { assertValidQuery, scalarFields } from './read-model-query';
import { DecodedDocCache } from './decoded-doc-cache';
import { addColumnIfMissing, resolveDatabase, type SqliteDatabase, type SqliteStatement } from './sqlite-database';

type Key = [model: string, pk: string, id: string];

/** An index for one query shape: equality fields first, then the sort field, as the query handlers use them. */
export interface ReadModelIndex {
  model: string;
  fields: string[];
}

/**
 * Queries filter and sort on top-level scalar fields only, so those are kept beside the document in `fields` (a small
 * JSON object), and the document itself can be stored compressed. Field names are validated identifiers, so the JSON
 * path can be written into the SQL text, where indexes see it.
 */
const jsonField = (field: string) => `json_extract(fields, '$.${field}')`;
/** The same object made in SQL from a stored JSON document (for rows written before `fields`). */
const FIELDS_OF_DOC = "(SELECT json_group_object(key, value) FROM json_each(doc) WHERE type NOT IN ('object', 'array'))";

/**
 * Documents from this size on are stored deflated: the interaction pages (about 400 KB of JSON per ingest batch),
 * which would be most of km.db, shrink about ten times. Smaller ones stay JSON text: a 30-day query reads hundreds of
 * latency documents of 10-110 KB, and inflating them was a quarter of a project's first read over 1M events, while
 * keeping them as text costs about 130 MB of disk per million events (0.3x to 0.4x of the raw events; issue 11).
 */
const COMPRESS_FROM_BYTES = 128 * 1024;
const DEFLATE_LEVEL = 1;

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
  fields TEXT,
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
  private readonly selectOne: SqliteStatement<Key, { etag: string; doc: StoredBody; positions: string | null }>;
  private readonly writeUnconditionally: SqliteStatement<[...Key, string, StoredBody, string | null, string]>;
  private readonly insertIfAbsent: SqliteStatement<[...Key, string, StoredBody, string | null, string]>;
  private readonly updateIfEtag: SqliteStatement<[string, StoredBody, string | null, string, ...Key, string]>;
  private readonly writeAll: (model: string, writes: readonly DocWrite[]) => DocWriteOutcome[];
  /** Query shapes are few (one per query handler), so their prepared statements are kept. */
  private readonly queries = new Map<string, SqliteStatement<Array<string | number>, { doc: StoredBody }>>();
  private readonly versionQueries = new Map<string, SqliteStatement<Array<string | number>, { rowid: number; id: string; etag: string }>>();
  private readonly selectByRowid: SqliteStatement<[number], { etag: string; doc: StoredBody }>;
  private readonly cache: { docs: DecodedDocCache; models: ReadonlySet<string> } | null;
  private readonly inReadTransaction: <T>(fn: () => T) => T;

  /**
   * queryCache: keep the documents queries decode (see DecodedDocCache), for these models, up to this much JSON.
   * For a store that answers queries (km serve's), not one that folds: folds read with get, never cached.
   */
  constructor(database: SqliteDatabase | string, options: { indexes?: readonly ReadModelIndex[]; queryCache?: { bytes: number; models: readonly string[] } } = {}) {
    const { db, owned } = resolveDatabase(database);
    this.db = db;
    this.ownsDb = owned;
    db.exec(`CREATE TABLE IF NOT EXISTS km_read_models (${TABLE_COLUMNS})`);
    // km.db files from before projectors recorded log positions: empty (null) for old rows.
    addColumnIfMissing(db, 'km_read_models', 'positions', 'TEXT');
    migrateToRowidTable(db);
    addFieldsColumn(db);
    for (const index of options.indexes ?? []) createIndex(db, index);
    this.selectOne = db.prepare('SELECT etag, doc, positions FROM km_read_models WHERE model = ? AND pk = ? AND id = ?');
    this.selectByRowid = db.prepare('SELECT etag, doc FROM km_read_models WHERE rowid = ?');
    this.cache = options.queryCache ? { docs: new DecodedDocCache(options.queryCache.bytes), models: new Set(options.queryCache.models) } : null;
    // One snapshot for a query's versions and the documents then read by rowid (another connection may write between).
    const readTransaction = db.transaction((fn: () => unknown) => fn());
    this.inReadTransaction = <T>(fn: () => T) => readTransaction(fn) as T;
    this.writeUnconditionally = db.prepare(
      `INSERT INTO km_read_models (model, pk, id, etag, doc, positions, fields) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (model, pk, id) DO UPDATE SET etag = excluded.etag, doc = excluded.doc, positions = excluded.positions, fields = excluded.fields`,
    );
    this.insertIfAbsent = db.prepare(
      'INSERT INTO km_read_models (model, pk, id, etag, doc, positions, fields) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    );
    this.updateIfEtag = db.prepare(
      'UPDATE km_read_models SET etag = ?, doc = ?, positions = ?, fields = ? WHERE model = ? AND pk = ? AND id = ? AND etag = ?',
    );
    const writeInTransaction = db.transaction((model: string, rows: readonly EncodedWrite[]) =>
      rows.map((row): DocWriteOutcome => (this.writeEncoded(model, row) ? { etag: row.etag } : { conflict: true })),
    );
    // Encoded before the transaction: the write lock, which km serve's ingest waits for, is held only for the
    // statements, not for stringifying and deflating a page's documents (issue 11).
    // IMMEDIATE, as the log's append: take the write lock up front rather than fail upgrading a read lock.
    this.writeAll = (model, writes) => writeInTransaction.immediate(model, writes.map(encodeWrite));
  }

  async get<T>(model: string, partitionKey: string, id: string): Promise<StoredDoc<T> | null> {
    const row = this.selectOne.get(model, partitionKey, id);
    if (!row) return null;
    return { doc: decodeDoc<T>(row.doc), etag: row.etag, ...(row.positions ? { positions: JSON.parse(row.positions) as FoldedPositions } : {}) };
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

  /** The new ETag, or null on a conflict. */
  private write(model: string, partitionKey: string, id: string, doc: unknown, ifMatch: string | null | undefined, positions: FoldedPositions | undefined): string | null {
    const row = encodeWrite({ partitionKey, id, doc, ifMatch, positions });
    return this.writeEncoded(model, row) ? row.etag : null;
  }

  /** false on a conflict. Each statement is atomic: the condition and the write cannot be split. */
  private writeEncoded(model: string, row: EncodedWrite): boolean {
    const { partitionKey, id, etag, body, folded, fields, ifMatch } = row;
    if (ifMatch === undefined) this.writeUnconditionally.run(model, partitionKey, id, etag, body, folded, fields);
    else if (ifMatch === null) return this.insertIfAbsent.run(model, partitionKey, id, etag, body, folded, fields).changes > 0;
    else return this.updateIfEtag.run(etag, body, folded, fields, model, partitionKey, id, ifMatch).changes > 0;
    return true;
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
    if (options.orderBy && options.between?.from !== undefined) {
      clauses.push(`${jsonField(options.orderBy)} >= ?`);
      params.push(options.between.from);
    }
    if (options.orderBy && options.between?.to !== undefined) {
      clauses.push(`${jsonField(options.orderBy)} <= ?`);
      params.push(options.between.to);
    }
    let sql = `FROM km_read_models WHERE ${clauses.join(' AND ')}`;
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
    if (this.cache?.models.has(model)) return this.queryThroughCache<T>(this.cache.docs, model, partitionKey, sql, params);
    let statement = this.queries.get(sql);
    if (!statement) this.queries.set(sql, (statement = this.db.prepare(`SELECT doc ${sql}`)));
    return statement.all(...params).map((row) => decodeDoc<T>(row.doc));
  }

  /** The query's ids and ETags first; then each document from the cache if that version is there, else read and kept. */
  private queryThroughCache<T>(cache: DecodedDocCache, model: string, partitionKey: string, sql: string, params: Array<string | number>): T[] {
    let versions = this.versionQueries.get(sql);
    if (!versions) this.versionQueries.set(sql, (versions = this.db.prepare(`SELECT rowid, id, etag ${sql}`)));
    const statement = versions;
    return this.inReadTransaction(() =>
      statement.all(...params).map(({ rowid, id, etag }) => {
        const key = `${model}\u0000${partitionKey}\u0000${id}`;
        const cached = cache.get(key, etag);
        if (cached !== undefined) return cached as T;
        const row = this.selectByRowid.get(rowid)!;
        const json = jsonOf(row.doc);
        return cache.set(key, row.etag, JSON.parse(json) as T, json.length);
      }),
    );
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
  // km_rmf_: on `fields`; the km_rm_ indexes of older files were on the document and are dropped (addFieldsColumn).
  const name = `km_rmf_${index.model}_${index.fields.join('_')}`;
  // id last: queries break ties by id, so the index yields rows in the full ORDER BY and LIMIT stops early.
  db.exec(`CREATE INDEX IF NOT EXISTS ${name} ON km_read_models (pk, ${index.fields.map(jsonField).join(', ')}, id) WHERE model = '${index.model}'`);
}

/**
 * km.db files made before issue 11 hold the documents in a WITHOUT ROWID table with an expression index per query
 * shape over every model. The table is rebuilt once, in one transaction; dropping the old one drops those indexes,
 * and the partial ones are made after.
 */
function migrateToRowidTable(db: SqliteDatabase): void {
  const withoutRowid = () => {
    const table = db.prepare<[], { sql: string }>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'km_read_models'").get();
    return table !== undefined && /WITHOUT\s+ROWID/i.test(table.sql);
  };
  if (!withoutRowid()) return;
  db.transaction(() => {
    // Again under the write lock: another km process may have done it meanwhile.
    if (!withoutRowid()) return;
    db.exec(`
      CREATE TABLE km_read_models_rowid (${TABLE_COLUMNS});
      INSERT INTO km_read_models_rowid (model, pk, id, etag, doc, positions, fields) SELECT model, pk, id, etag, doc, positions, ${FIELDS_OF_DOC} FROM km_read_models;
      DROP TABLE km_read_models;
      ALTER TABLE km_read_models_rowid RENAME TO km_read_models;
    `);
  }).immediate();
}

/**
 * km.db files from before `fields`: the column is added and filled from each document in one transaction, and the
 * old indexes on the document's JSON are dropped (createIndex makes their successors on `fields`).
 */
function addFieldsColumn(db: SqliteDatabase): void {
  const hasFields = () => db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('km_read_models')").all().some((column) => column.name === 'fields');
  if (hasFields()) return;
  db.transaction(() => {
    // Again under the write lock: another km process may have done it meanwhile.
    if (hasFields()) return;
    db.exec('ALTER TABLE km_read_models ADD COLUMN fields TEXT');
    db.exec(`UPDATE km_read_models SET fields = ${FIELDS_OF_DOC}`);
    const old = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'km_read_models' AND name LIKE 'km\\_rm\\_%' ESCAPE '\\'").all();
    for (const { name } of old) db.exec(`DROP INDEX ${name}`);
  }).immediate();
}

/** What a row's doc column holds: JSON text, or deflated JSON from COMPRESS_FROM_BYTES on. */
type StoredBody = string | Buffer;

/** A write as its row's columns, with the ETag it will get: everything a write computes, made before its statement. */
interface EncodedWrite {
  partitionKey: string;
  id: string;
  etag: string;
  body: StoredBody;
  folded: string | null;
  fields: string;
  ifMatch: string | null | undefined;
}

function encodeWrite(write: DocWrite): EncodedWrite {
  return {
    partitionKey: write.partitionKey,
    id: write.id,
    etag: randomUUID(),
    body: encodeDoc(write.doc),
    folded: write.positions ? JSON.stringify(write.positions) : null,
    fields: JSON.stringify(scalarFields(write.doc)),
    ifMatch: write.ifMatch,
  };
}

function encodeDoc(doc: unknown): StoredBody {
  const json = JSON.stringify(doc);
  return json.length < COMPRESS_FROM_BYTES ? json : deflateRawSync(json, { level: DEFLATE_LEVEL });
}

const jsonOf = (body: StoredBody): string => (typeof body === 'string' ? body : inflateRawSync(body).toString('utf8'));

function decodeDoc<T>(body: StoredBody): T {
  return JSON.parse(jsonOf(body)) as T;
}
