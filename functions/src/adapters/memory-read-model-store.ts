import { randomUUID } from 'node:crypto';
import { ConcurrencyError, upsertOne, type DocWrite, type DocWriteOutcome, type FoldedPositions, type QueryOptions, type ReadModelStore, type StoredDoc } from '../ports';
import { assertValidQuery, scalarFields } from './read-model-query';

interface Row {
  etag: string;
  /** JSON text: callers get copies, and values round-trip exactly as they do through SQLite or Cosmos. */
  body: string;
  /**
   * The top-level scalars, all a query filters and sorts on (as SQLite's fields column): a query parses only the
   * documents it returns, not every one of the model (the demo's risk routes query one kind at a time, issue 11).
   */
  fields: Record<string, unknown>;
  positions?: string;
}

/** The reference ReadModelStore: what the SQLite store does, in memory. Used by unit tests. */
export class MemoryReadModelStore implements ReadModelStore {
  /** model -> partition key -> id -> row. The partition is a separate level so no lookup can cross tenants. */
  private readonly models = new Map<string, Map<string, Map<string, Row>>>();

  async get<T>(model: string, partitionKey: string, id: string): Promise<StoredDoc<T> | null> {
    const row = this.partition(model, partitionKey)?.get(id);
    if (!row) return null;
    return { doc: JSON.parse(row.body) as T, etag: row.etag, ...(row.positions ? { positions: JSON.parse(row.positions) as FoldedPositions } : {}) };
  }

  async upsert<T>(model: string, partitionKey: string, id: string, doc: T, ifMatch?: string | null, positions?: FoldedPositions): Promise<string> {
    const partition = this.partition(model, partitionKey, true);
    const existing = partition.get(id);
    if (ifMatch === null && existing) throw new ConcurrencyError(model, id);
    if (typeof ifMatch === 'string' && existing?.etag !== ifMatch) throw new ConcurrencyError(model, id);
    const etag = randomUUID();
    partition.set(id, { etag, body: JSON.stringify(doc), fields: scalarFields(doc), ...(positions ? { positions: JSON.stringify(positions) } : {}) });
    return etag;
  }

  async upsertMany(model: string, writes: readonly DocWrite[]): Promise<DocWriteOutcome[]> {
    const outcomes: DocWriteOutcome[] = [];
    for (const write of writes) outcomes.push(await upsertOne(this, model, write));
    return outcomes;
  }

  async query<T>(model: string, partitionKey: string, options: QueryOptions = {}): Promise<T[]> {
    assertValidQuery(options);
    const where = Object.entries(options.where ?? {});
    let rows = [...(this.partition(model, partitionKey)?.entries() ?? [])]
      .map(([id, row]) => ({ id, row }))
      .filter(({ row }) => where.every(([field, value]) => row.fields[field] === value))
      .filter(({ row }) => withinBounds(row.fields[options.orderBy ?? ''], options.between));
    if (options.orderBy) {
      const field = options.orderBy;
      const sign = options.direction === 'desc' ? -1 : 1;
      // Ties go by id, in the same direction (as the SQLite store does to use its indexes).
      rows.sort((a, b) => sign * (compareSqlite(a.row.fields[field], b.row.fields[field]) || compareText(a.id, b.id)));
    } else {
      rows.sort((a, b) => compareText(a.id, b.id));
    }
    if (options.limit !== undefined) rows = rows.slice(0, options.limit);
    return rows.map(({ row }) => JSON.parse(row.body) as T);
  }

  async remove(model: string, partitionKey: string, id: string, ifMatch?: string): Promise<boolean> {
    const partition = this.partition(model, partitionKey);
    const existing = partition?.get(id);
    if (!existing) return false;
    if (ifMatch !== undefined && existing.etag !== ifMatch) throw new ConcurrencyError(model, id);
    partition!.delete(id);
    return true;
  }

  async close(): Promise<void> {}

  private partition(model: string, partitionKey: string): Map<string, Row> | undefined;
  private partition(model: string, partitionKey: string, create: true): Map<string, Row>;
  private partition(model: string, partitionKey: string, create = false): Map<string, Row> | undefined {
    let partitions = this.models.get(model);
    if (!partitions && create) this.models.set(model, (partitions = new Map()));
    let partition = partitions?.get(partitionKey);
    if (!partition && create) partitions!.set(partitionKey, (partition = new Map()));
    return partition;
  }
}

const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * SQLite's order for json_extract values: missing/null, then numbers (booleans are 0/1), then text.
 * Sorting by an object or array field is not supported.
 */
function compareSqlite(a: unknown, b: unknown): number {
  const rank = (v: unknown) => {
    if (v === undefined || v === null) return 0;
    if (typeof v === 'number' || typeof v === 'boolean') return 1;
    return typeof v === 'string' ? 2 : 3;
  };
  const byRank = rank(a) - rank(b);
  if (byRank !== 0) return byRank;
  if (rank(a) === 1) return Number(a) - Number(b);
  if (rank(a) === 2) return compareText(a as string, b as string);
  return 0;
}

/** Whether a value lies within query bounds (both included), compared as SQLite compares json_extract values. */
function withinBounds(value: unknown, between: QueryOptions['between']): boolean {
  if (!between) return true;
  if (value === undefined || value === null) return false;
  if (between.from !== undefined && compareSqlite(value, between.from) < 0) return false;
  if (between.to !== undefined && compareSqlite(value, between.to) > 0) return false;
  return true;
}
