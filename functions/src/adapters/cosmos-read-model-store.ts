import { createHash } from 'node:crypto';
import type { Container, CosmosClient, Database, ItemDefinition, SqlParameter } from '@azure/cosmos';
import { ConcurrencyError, upsertOne, type DocWrite, type DocWriteOutcome, type FoldedPositions, type QueryOptions, type ReadModelStore, type StoredDoc } from '../ports';
import { assertValidQuery } from './read-model-query';

/**
 * What a Cosmos item holds. The document is kept whole under `doc`, beside the key: a read model's own `id` or `orgId`
 * field can never clash with the item's key or with Cosmos's system fields (_etag, _ts, ...), and a caller gets back
 * exactly what it wrote. The container's partition key path is /orgId: the tenant the port names on every call.
 */
interface CosmosItem<T> extends ItemDefinition {
  id: string;
  orgId: string;
  doc: T;
  /** The log positions the document has folded (FoldedPositions), beside the document like the key. */
  positions?: FoldedPositions;
}

/** Writes of one upsertMany in flight at once: enough to hide the round trip, few enough not to be throttled. */
const WRITE_CONCURRENCY = 16;

export interface CosmosReadModelStoreOptions {
  client: CosmosClient;
  databaseId: string;
  /**
   * Local development and tests only: create the database and each model's container on first use. In Azure the
   * Bicep creates them, and the app's managed identity (Cosmos data-plane RBAC) may not create them anyway.
   */
  createIfMissing?: boolean;
  /** Composite indexes for createIfMissing: the query shapes (equality fields, then the sort field) of the models. */
  indexes?: ReadonlyArray<{ model: string; fields: string[] }>;
  /** Whether close() disposes the client (true when the store made it). */
  ownsClient?: boolean;
}

const MODEL_NAME = /^[A-Za-z][A-Za-z0-9-]{0,254}$/;

/**
 * The cloud ReadModelStore: one Cosmos DB container per read model, partition key /orgId. Designed on what every
 * Cosmos-compatible server has: point reads, ETag-conditional replace (412), create (409), and parameterised
 * queries with WHERE / ORDER BY / TOP (no GROUP BY, OFFSET or DISTINCT).
 */
export class CosmosReadModelStore implements ReadModelStore {
  private database: Promise<Database> | null = null;
  private readonly containers = new Map<string, Promise<Container>>();

  constructor(private readonly options: CosmosReadModelStoreOptions) {}

  async get<T>(model: string, partitionKey: string, id: string): Promise<StoredDoc<T> | null> {
    const container = await this.container(model);
    try {
      const response = await container.item(cosmosId(id), partitionKey).read<CosmosItem<T>>();
      const item = response.resource;
      // Defence in depth: a point read names the partition, but the tenant is checked on the item too.
      if (response.statusCode === 404 || !item || item.orgId !== partitionKey) return null;
      return { doc: item.doc, etag: item._etag!, ...(item.positions ? { positions: item.positions } : {}) };
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw error;
    }
  }

  async upsert<T>(model: string, partitionKey: string, id: string, doc: T, ifMatch?: string | null, positions?: FoldedPositions): Promise<string> {
    const container = await this.container(model);
    const item: CosmosItem<T> = { id: cosmosId(id), orgId: partitionKey, doc, ...(positions ? { positions } : {}) };
    try {
      if (ifMatch === undefined) return etagOf((await container.items.upsert(item)).etag, model, id);
      // "Must not exist": create answers 409 when somebody created the document first.
      if (ifMatch === null) return etagOf((await container.items.create(item)).etag, model, id);
      const response = await container
        .item(item.id, partitionKey)
        .replace(item, { accessCondition: { type: 'IfMatch', condition: ifMatch } });
      return etagOf(response.etag, model, id);
    } catch (error) {
      const status = statusOf(error);
      // 409: exists already; 412: the ETag moved on; 404: an ETag for a document that is gone (or never was).
      if (status === 409 || status === 412 || status === 404) throw new ConcurrencyError(model, id);
      throw error;
    }
  }

  /** One ETag write per document (Cosmos has no cross-partition transaction), a few in flight at once. */
  async upsertMany(model: string, writes: readonly DocWrite[]): Promise<DocWriteOutcome[]> {
    const outcomes: DocWriteOutcome[] = new Array(writes.length);
    let next = 0;
    const worker = async () => {
      while (next < writes.length) {
        const at = next++;
        outcomes[at] = await upsertOne(this, model, writes[at]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, writes.length) }, worker));
    return outcomes;
  }

  async query<T>(model: string, partitionKey: string, options: QueryOptions = {}): Promise<T[]> {
    assertValidQuery(options);
    if (options.limit === 0) return [];
    const container = await this.container(model);
    const { query, parameters } = buildQuery(partitionKey, options);
    // The partitionKey option keeps the query in one partition on Azure; the WHERE clause is what guarantees the
    // tenant, also where the option is ignored (Cosmos-compatible test servers).
    const { resources } = await container.items.query<CosmosItem<T>>({ query, parameters }, { partitionKey }).fetchAll();
    return resources.filter((item) => item.orgId === partitionKey).map((item) => item.doc);
  }

  async remove(model: string, partitionKey: string, id: string, ifMatch?: string): Promise<boolean> {
    const container = await this.container(model);
    try {
      await container.item(cosmosId(id), partitionKey).delete(ifMatch === undefined ? {} : { accessCondition: { type: 'IfMatch', condition: ifMatch } });
      return true;
    } catch (error) {
      const status = statusOf(error);
      if (status === 404) return false;
      if (status === 412) throw new ConcurrencyError(model, id);
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.options.ownsClient) this.options.client.dispose();
  }

  private container(model: string): Promise<Container> {
    if (!MODEL_NAME.test(model)) throw new Error(`read model name "${model}" is not a valid Cosmos container name`);
    let container = this.containers.get(model);
    if (!container) {
      container = this.openContainer(model);
      this.containers.set(model, container);
      container.catch(() => this.containers.delete(model)); // a failed open is retried by the next call
    }
    return container;
  }

  private async openContainer(model: string): Promise<Container> {
    const { client, databaseId, createIfMissing } = this.options;
    if (!createIfMissing) return client.database(databaseId).container(model);
    this.database ??= client.databases.createIfNotExists({ id: databaseId }).then((response) => response.database);
    const database = await this.database.catch((error) => {
      this.database = null;
      throw error;
    });
    const compositeIndexes = (this.options.indexes ?? [])
      .filter((index) => index.model === model)
      .flatMap((index) => compositeIndexesFor(index.fields));
    const { container } = await database.containers.createIfNotExists({
      id: model,
      partitionKey: { paths: ['/orgId'] },
      ...(compositeIndexes.length > 0 ? { indexingPolicy: { compositeIndexes } } : {}),
    });
    return container;
  }
}

export type CompositeIndex = Array<{ path: string; order: 'ascending' | 'descending' }>;

/**
 * The composite indexes a query shape needs: ORDER BY on two properties (the sort field, then id as the tie-break)
 * is refused without one. Azure would serve the reverse order from one index, the test server only from an exact
 * match, so both directions are declared. infra/bicep declares the same paths for the deployed containers.
 */
export function compositeIndexesFor(fields: readonly string[]): CompositeIndex[] {
  const sortField = fields[fields.length - 1]!;
  return (['ascending', 'descending'] as const).map((order) => [
    { path: `/doc/${sortField}`, order },
    { path: '/id', order },
  ]);
}

/** `SELECT [TOP n] c.orgId, c.doc FROM c WHERE c.orgId = @orgId AND c.doc.f = @p0 ... ORDER BY c.doc.f, c.id`. */
export function buildQuery(partitionKey: string, options: QueryOptions): { query: string; parameters: SqlParameter[] } {
  const parameters: SqlParameter[] = [{ name: '@orgId', value: partitionKey }];
  const conditions = ['c.orgId = @orgId'];
  Object.entries(options.where ?? {}).forEach(([field, value], i) => {
    conditions.push(`c.doc.${field} = @p${i}`);
    parameters.push({ name: `@p${i}`, value });
  });
  if (options.orderBy && options.between?.from !== undefined) {
    conditions.push(`c.doc.${options.orderBy} >= @from`);
    parameters.push({ name: '@from', value: options.between.from });
  }
  if (options.orderBy && options.between?.to !== undefined) {
    conditions.push(`c.doc.${options.orderBy} <= @to`);
    parameters.push({ name: '@to', value: options.between.to });
  }
  let top = '';
  if (options.limit !== undefined) {
    top = 'TOP @limit ';
    parameters.push({ name: '@limit', value: options.limit });
  }
  const direction = options.direction === 'desc' ? 'DESC' : 'ASC';
  // Ties go by id in the same direction, as the SQLite and memory stores do.
  const order = options.orderBy ? ` ORDER BY c.doc.${options.orderBy} ${direction}, c.id ${direction}` : ' ORDER BY c.id ASC';
  return { query: `SELECT ${top}c.orgId, c.doc FROM c WHERE ${conditions.join(' AND ')}${order}`, parameters };
}

/** Cosmos DB's limit on an item's id, in UTF-8 bytes. */
export const COSMOS_ID_MAX_BYTES = 1023;
/** What a hashed id keeps of the encoded one, for a person reading the container (200 chars: at most 800 bytes). */
const HASHED_ID_PREFIX_CHARS = 200;

/**
 * Cosmos ids may not contain / \ ? # ; those (and %, to stay unambiguous) are percent-encoded. An id longer than
 * Cosmos takes (a session day names a session, a project and a user, each up to 200 characters from events) becomes
 * its start and `%~` with the sha256 of the whole: '%' is always encoded above, so no short id can look like it. The
 * document keeps its own id; only the item's key changes.
 */
export function cosmosId(id: string): string {
  if (id.length === 0) throw new Error('a read-model document id cannot be empty');
  const encoded = id.replace(/[/\\?#%]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  if (Buffer.byteLength(encoded, 'utf8') <= COSMOS_ID_MAX_BYTES) return encoded;
  return `${Array.from(encoded).slice(0, HASHED_ID_PREFIX_CHARS).join('')}%~${createHash('sha256').update(id).digest('hex')}`;
}

function etagOf(etag: string | undefined, model: string, id: string): string {
  if (!etag) throw new Error(`Cosmos DB returned no ETag for ${model}/${id}`);
  return etag;
}

function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}
