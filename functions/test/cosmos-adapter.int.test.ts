import { CosmosClient } from '@azure/cosmos';
import { randomUUID } from 'node:crypto';
import { sessionDayId } from '@km/shared';
import { buildQuery, COSMOS_ID_MAX_BYTES, cosmosId, CosmosReadModelStore } from '../src/adapters/cosmos-read-model-store';
import { firstSightings } from '../src/first-sightings';
import type { PositionedEvent } from '../src/projector';
import { testReadModelStore } from './contracts/read-model-store.contract';
import { startTestCosmos, type TestCosmos } from './support/cosmos-server';

// Azure (and the test server) refuse an ORDER BY on two properties without a composite index: one per sort field.
const indexes = [
  { model: 'sessions', fields: ['startedAt'] },
  { model: 'sessions', fields: ['calls'] },
  { model: 'sessions', fields: ['projectId', 'startedAt'] },
];

describe('CosmosReadModelStore on @vercel/cosmosdb-server (TLS, 127.0.0.1)', () => {
  let cosmos: TestCosmos;
  beforeAll(async () => {
    cosmos = await startTestCosmos();
  });
  afterAll(() => cosmos.close());

  // One database per storage name: reopening the same name sees the same documents (persistent).
  testReadModelStore(
    async (storage) =>
      new CosmosReadModelStore({ client: cosmos.client(), databaseId: `km-${storage}`, createIfMissing: true, indexes, ownsClient: true }),
    { persistent: true },
  );

  it('stores an id with characters Cosmos refuses in ids, and reads it back by the same id', async () => {
    const store = new CosmosReadModelStore({ client: cosmos.client(), databaseId: 'km-ids', createIfMissing: true, ownsClient: true });
    const id = 'a/b\\c?d#e%2F';
    await store.upsert('sessions', 'org-a', id, { id });
    expect(await store.get('sessions', 'org-a', id)).toMatchObject({ doc: { id } });
    expect(await store.get('sessions', 'org-a', 'a%2Fb')).toBeNull();
    await store.close();
  });

  it('keeps the first log entry of an event id, so every projector drops the same retry', async () => {
    const store = new CosmosReadModelStore({ client: cosmos.client(), databaseId: 'km-firsts', createIfMissing: true, ownsClient: true });
    const event = (orgId: string, id: string) => ({ orgId, id }) as unknown as PositionedEvent['event'];
    const at = (orgId: string, id: string, position: number): PositionedEvent => ({ event: event(orgId, id), partition: '0', position });
    const first = [at('org-a', 'e1', 7), at('org-b', 'e1', 8)];
    expect(await firstSightings(store, first)).toEqual(first); // the same id in two tenants is two events
    expect(await firstSightings(store, first)).toEqual(first); // another projector, or a redelivery of the same entries
    const retry = at('org-a', 'e1', 90);
    const fresh = at('org-a', 'e2', 91);
    expect(await firstSightings(store, [retry, fresh])).toEqual([fresh]);
    await store.close();
  });

  it('checks the tenant on the item too: a query whose partitionKey option the server ignores still cannot leak', async () => {
    const store = new CosmosReadModelStore({ client: cosmos.client(), databaseId: 'km-leak', createIfMissing: true, ownsClient: true });
    await store.upsert('sessions', 'org-a', 's1', { id: 's1' });
    await store.upsert('sessions', 'org-b', 's2', { id: 's2' });
    expect(await store.query('sessions', 'org-b')).toEqual([{ id: 's2' }]);
    await store.close();
  });
});

describe('Cosmos query text', () => {
  it('always filters by the tenant, parameterises every value, and breaks ties by id', () => {
    expect(buildQuery('org-a', { where: { projectId: "x' OR 1=1" }, orderBy: 'startedAt', direction: 'desc', limit: 5 })).toEqual({
      query:
        'SELECT TOP @limit c.orgId, c.doc FROM c WHERE c.orgId = @orgId AND c.doc.projectId = @p0 ORDER BY c.doc.startedAt DESC, c.id DESC',
      parameters: [
        { name: '@orgId', value: 'org-a' },
        { name: '@p0', value: "x' OR 1=1" },
        { name: '@limit', value: 5 },
      ],
    });
  });

  it('encodes only what Cosmos forbids in ids', () => {
    expect(cosmosId('session-1@host:x')).toBe('session-1@host:x');
    expect(cosmosId('a/b')).toBe('a%2Fb');
  });

  it('fits an id of names from events into the 1,023 bytes Cosmos takes, one item per id', () => {
    // A session day of a session, project and user of 200 characters each, percent-encoded: 5.4 KB before.
    const euro = '€'.repeat(200);
    const long = sessionDayId({ sessionId: euro, projectId: euro, userId: euro }, Date.parse('2026-11-25T00:00:00.000Z'));
    const other = sessionDayId({ sessionId: euro, projectId: euro, userId: `${euro.slice(1)}x` }, Date.parse('2026-11-25T00:00:00.000Z'));
    for (const id of [long, other, '/'.repeat(400), 'é'.repeat(600)]) {
      expect(Buffer.byteLength(cosmosId(id), 'utf8')).toBeLessThanOrEqual(COSMOS_ID_MAX_BYTES);
      expect(cosmosId(id)).not.toMatch(/[/\\?#]/);
      expect(cosmosId(id)).toBe(cosmosId(id));
    }
    expect(Buffer.byteLength(long, 'utf8')).toBeGreaterThan(COSMOS_ID_MAX_BYTES);
    expect(cosmosId(long)).not.toBe(cosmosId(other));
    // An id that fits is as before, and none of those can look like a hashed one ('%' is always encoded).
    expect(cosmosId('x'.repeat(1023))).toBe('x'.repeat(1023));
    expect(cosmosId('a%~b')).toBe('a%25~b');
  });
});

/** Real Cosmos DB: what the test server does not model (composite-index ORDER BY, partitionKey scoping, TTL). */
const realEndpoint = process.env.COSMOS_ENDPOINT;
const describeReal = realEndpoint ? describe : describe.skip;
if (!realEndpoint) {
  // eslint-disable-next-line no-console
  console.log('skipping the Cosmos contract against real Azure: set COSMOS_ENDPOINT (and COSMOS_KEY, or sign in for DefaultAzureCredential)');
}
describeReal('CosmosReadModelStore on real Azure Cosmos DB (COSMOS_ENDPOINT)', () => {
  const run = randomUUID().slice(0, 8);
  const databases: string[] = [];
  const client = () => {
    if (process.env.COSMOS_KEY) return new CosmosClient({ endpoint: realEndpoint!, key: process.env.COSMOS_KEY });
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { DefaultAzureCredential } = require('@azure/identity') as typeof import('@azure/identity');
    return new CosmosClient({ endpoint: realEndpoint!, aadCredentials: new DefaultAzureCredential() });
  };
  afterAll(async () => {
    const admin = client();
    for (const id of databases) await admin.database(id).delete().catch(() => undefined);
    admin.dispose();
  });
  testReadModelStore(async (storage) => {
    const databaseId = `km-test-${run}-${storage}`;
    if (!databases.includes(databaseId)) databases.push(databaseId);
    return new CosmosReadModelStore({ client: client(), databaseId, createIfMissing: true, indexes, ownsClient: true });
  }, { persistent: true });
});
