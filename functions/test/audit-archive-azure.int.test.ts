import { InvocationContext } from '@azure/functions';
import { apiRoutes, type ApiRouteName, type LoggedEvent, type StoredEvent } from '@km/shared';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashApiKey } from '../src/adapters/api-key-authenticator';
import { CosmosReadModelStore } from '../src/adapters/cosmos-read-model-store';
import { AUDIT_ARCHIVE_INDEXES, AUDIT_ARCHIVE_MODEL, StoreOrgEventArchive } from '../src/adapters/store-org-event-archive';
import { auditSigner, newAuditKeyPem, verifyExport, type AuditRecord } from '../src/audit/audit-chain';
import { auditCheckpoint } from '../src/audit/org-chain';
import { openEmbeddedStack } from '../src/host/embedded-stack';
import { readModelIndexes } from '../src/read-models';
import { httpRoutes } from '../src/routes';
import { retentionOf, setRetention, sweepRetention } from '../src/retention/retention';
import { BEFORE_FIRST } from '../src/ports';
import type { RecordedEventHubFunction, RecordedHttpFunction, RecordedTimerFunction } from './azure-registrations';
import { askHandlers, type ApiAnswer } from './contracts/api.contract';
import { aSessionOfEvents, anEnvelope, interaction, stored } from './fixtures';
import { startTestCosmos, type TestCosmos } from './support/cosmos-server';
import type { TestEventHubsBroker } from './support/event-hubs-broker';
import { startAzureApp, type AzureApp } from './support/azure-app';

const HUB = 'km-events';
const DATABASE = 'km-audit';
const KEY_A = 'km_test_owner_of_org_audit_a';
const KEY_B = 'km_test_owner_of_org_audit_b';
const oldAt = '2026-01-05T10:00:00.000Z';
const oldReceivedAt = '2026-01-05T10:01:00.000Z';
const route = (name: ApiRouteName) => apiRoutes.find((candidate) => candidate.name === name)!;

/** An Event Hubs trigger batch as the host hands it over: parsed bodies, per-event metadata in parallel arrays. */
function aTriggerBatch(partitionId: string, deliveries: ReadonlyArray<{ seq: number; event: StoredEvent }>, logged: string[] = []) {
  const context = new InvocationContext({
    invocationId: `archive-${partitionId}-${deliveries[0]?.seq}`,
    functionName: 'audit-archive',
    logHandler: (level, ...args) => logged.push(`${level} ${args.join(' ')}`),
    triggerMetadata: {
      partitionContext: { partitionId, eventHubName: HUB, consumerGroup: 'audit-archive' },
      sequenceNumberArray: deliveries.map(({ seq }) => seq),
      enqueuedTimeUtcArray: deliveries.map(({ event }) => event.receivedAt),
      propertiesArray: deliveries.map(({ event }) => ({ 'km-type': event.type, 'km-v': event.v })),
    },
  });
  return { messages: deliveries.map(({ event }) => JSON.parse(JSON.stringify(event)) as unknown), context };
}

const recordsOf = (answer: ApiAnswer) => (answer.body as Array<Record<string, unknown>>).filter((line): line is AuditRecord & Record<string, unknown> => typeof line.seq === 'number' && 'prevHash' in line);
const linesOf = (answer: ApiAnswer) => (answer.body as unknown[]).map((line) => JSON.stringify(line));

/** What the archive container holds for an org, read past the adapter (as Cosmos DB has it). */
async function archiveItems(cosmos: TestCosmos, orgId: string): Promise<Array<{ id: string; orgId: string; doc: { seqs: number[]; last: number; body: string } }>> {
  const client = cosmos.client();
  try {
    const { resources } = await client
      .database(DATABASE)
      .container(AUDIT_ARCHIVE_MODEL)
      .items.query({ query: 'SELECT * FROM c WHERE c.orgId = @orgId', parameters: [{ name: '@orgId', value: orgId }] })
      .fetchAll();
    return resources.filter((item) => item.orgId === orgId);
  } finally {
    client.dispose();
  }
}

/**
 * The audit trail on KM_STORAGE=azure: Event Hubs-shaped batches (sequence numbers, redeliveries, a client's retry
 * appended again) go to the registered audit-archive trigger, which pages them into Cosmos DB (cosmosdb-server,
 * whose partitionKey option is ignored); GET /api/audit answers from there a chain that the verifier km audit verify
 * uses accepts, with the hashes the embedded host makes of the same events; the hourly retention timer cuts it.
 */
describe('the audit archive and export on KM_STORAGE=azure (cosmosdb-server)', () => {
  let app: AzureApp;
  let broker: TestEventHubsBroker;
  let cosmos: TestCosmos;
  let http: RecordedHttpFunction[] = [];
  let triggers: RecordedEventHubFunction[] = [];
  let timers: RecordedTimerFunction[] = [];
  const mine = anEnvelope({ orgId: 'org-a', projectId: 'web' });
  const oldEvents = stored([...aSessionOfEvents(mine, oldAt, 2), interaction(mine, oldAt, { requestId: '9', requestPreview: '{"path":"/etc","n":1}' })], 'old', oldReceivedAt);
  const recentAt = new Date(Date.now() - 3600_000).toISOString();
  const newEvents = stored(aSessionOfEvents(anEnvelope({ orgId: 'org-a', projectId: 'web' }), recentAt, 2), 'new', new Date(Date.now() - 3000_000).toISOString());
  const theirs = stored(aSessionOfEvents(anEnvelope({ orgId: 'org-b' }), oldAt, 3), 'theirs', oldReceivedAt);
  /** org-a's events as the hub numbered them on its partition; then a client's retry of the first, appended again. */
  const orgA = [...oldEvents, ...newEvents].map((event, seq) => ({ seq, event }));
  const retried = { seq: orgA.length, event: oldEvents[0]! };
  /** org-b on another partition: the same sequence numbers mean other events there. */
  const orgB = theirs.map((event, seq) => ({ seq, event }));

  beforeAll(async () => {
    app = await startAzureApp(HUB, DATABASE, {
      KM_API_KEY_HASHES: `${hashApiKey(KEY_A)}:org-a,${hashApiKey(KEY_B)}:org-b`,
      // What the platform hands the app once it has resolved the Key Vault reference: the PEM itself.
      KM_AUDIT_SIGNING_KEY: newAuditKeyPem(),
    });
    ({ broker, cosmos, http, triggers, timers } = app);
  });

  afterAll(() => app.close());

  const archiveTrigger = () => triggers.find((fn) => fn.name === 'audit-archive')!;
  const deliver = async (partitionId: string, deliveries: ReadonlyArray<{ seq: number; event: StoredEvent }>, logged?: string[]) => {
    const { messages, context } = aTriggerBatch(partitionId, deliveries, logged);
    await archiveTrigger().handler(messages, context);
  };
  const ask = (name: ApiRouteName, key = KEY_A, params: Record<string, string> = {}, body?: unknown) => askHandlers(http, key, route(name), params, body);

  it('registers the archive trigger on its own consumer group and an hourly retention timer', () => {
    expect(archiveTrigger()).toMatchObject({ connection: 'EventHubConnection', eventHubName: '%KM_EVENTHUB_NAME%', consumerGroup: 'audit-archive', cardinality: 'many', retry: { maxRetryCount: -1 } });
    expect(timers.find(({ name }) => name === 'retention-sweep')).toMatchObject({ schedule: '0 0 * * * *' });
  });

  it('archives each org in sequence order, once, through redeliveries and a retry, and exports the chain the embedded host makes', async () => {
    const logged: string[] = [];
    await deliver('0', orgA.slice(0, 4));
    await deliver('1', orgB.slice(0, 3));
    await deliver('0', orgA.slice(2, 7)); // redelivered from seq 2: the host had not checkpointed
    await deliver('0', [...orgA.slice(7), retried], logged);
    await deliver('0', [...orgA.slice(7), retried]); // the same batch again
    await deliver('1', [...orgB, { seq: orgB.length, event: { ...theirs[0]!, id: 'not-an-id' } }], logged);
    expect(logged.join('\n')).toMatch(/skipped event \d+ \(sequence number 5\)/);

    // Compact: one page per org holds every event once, in sequence order; nothing per event.
    const pagesA = await archiveItems(cosmos, 'org-a');
    expect(pagesA.map((item) => item.doc.seqs)).toEqual([orgA.map(({ seq }) => seq)]);
    expect((await archiveItems(cosmos, 'org-b')).map((item) => item.doc.seqs)).toEqual([orgB.map(({ seq }) => seq)]);
    expect(pagesA[0]!.doc.body).not.toContain('/etc'); // compressed text, not the events' JSON

    const exported = await ask('audit');
    expect(exported.status).toBe(200);
    const records = recordsOf(exported);
    expect(records.map((record) => (record.event as { id: string }).id)).toEqual(orgA.map(({ event }) => event.id));
    expect(records.every((record) => (record.event as { orgId: string }).orgId === 'org-a')).toBe(true);
    expect(await verifyExport(linesOf(exported), 'org-a')).toMatchObject({ ok: true, records: orgA.length, firstSeq: 1, lastSeq: orgA.length });

    // The embedded host, given the same events (its log refuses the retry at append), makes the same chain.
    const home = mkdtempSync(join(tmpdir(), 'km-audit-embedded-'));
    const stack = openEmbeddedStack({ home, logger: { info() {}, warn() {}, error() {} }, projectorWorkerFile: null, additionalApiKeys: [{ keyHash: hashApiKey(KEY_A), orgId: 'org-a' }] });
    try {
      await stack.deps.eventLog.append(orgA.map(({ event }) => event));
      expect(await stack.deps.eventLog.append([retried.event])).toEqual({ appended: 0, duplicates: 1 });
      const embedded = await askHandlers(httpRoutes(stack.deps), KEY_A, route('audit'), {});
      expect(recordsOf(embedded).map(({ seq, prevHash, hash }) => ({ seq, prevHash, hash }))).toEqual(records.map(({ seq, prevHash, hash }) => ({ seq, prevHash, hash })));
    } finally {
      await stack.close();
      rmSync(home, { recursive: true, force: true });
    }

    // org-b sees its own chain only, and never org-a's records.
    const theirsExported = await ask('audit', KEY_B);
    expect(recordsOf(theirsExported).map((record) => (record.event as { id: string }).id)).toEqual(theirs.map((event) => event.id));
    expect(await verifyExport(linesOf(theirsExported), 'org-b')).toMatchObject({ ok: true, records: theirs.length });
    expect(JSON.stringify(theirsExported.body)).not.toContain('org-a');

    const csv = await ask('audit', KEY_A, { format: 'csv' });
    expect(csv.status).toBe(200);
  });

  it('sweeps on the hourly timer: the expired events leave the archive, the checkpoint comes first and the export still verifies', async () => {
    const before = recordsOf(await ask('audit'));
    const published = before[before.length - 1]!;
    expect((await ask('setRetention', KEY_A, {}, { rawEventDays: 30, previewDays: 7 })).status).toBe(200);
    // The retention.set event went to the hub; it reaches the archive next on org-a's partition.
    const set = broker.events(HUB).find((event) => (event.body as { type?: string }).type === 'retention.set')!;
    await deliver('0', [{ seq: retried.seq + 1, event: set.body as StoredEvent }]);

    const logged: string[] = [];
    const context = new InvocationContext({ invocationId: 'sweep-1', functionName: 'retention-sweep', logHandler: (level, ...args) => logged.push(`${level} ${args.join(' ')}`) });
    await timers.find(({ name }) => name === 'retention-sweep')!.handler({ isPastDue: false, scheduleStatus: { last: '', next: '', lastUpdated: '' } }, context);
    expect(logged.join('\n')).toContain(`${oldEvents.length} event(s) removed`);

    const gone = new Set(oldEvents.map((event) => event.id));
    const pages = await archiveItems(cosmos, 'org-a');
    expect(pages.flatMap((item) => item.doc.seqs)).toEqual([...newEvents.map((_, i) => oldEvents.length + i), retried.seq + 1]);
    expect((await archiveItems(cosmos, 'org-b')).flatMap((item) => item.doc.seqs)).toEqual(orgB.map(({ seq }) => seq));
    expect((await ask('retention')).body).toMatchObject({ lastSweep: { eventsRemoved: oldEvents.length, checkpoint: { seq: oldEvents.length, hash: before[oldEvents.length - 1]!.hash } } });

    const after = await ask('audit');
    const lines = after.body as Array<Record<string, unknown>>;
    expect(lines[0]).toMatchObject({ checkpoint: true, orgId: 'org-a', seq: oldEvents.length, hash: before[oldEvents.length - 1]!.hash });
    expect(recordsOf(after).some((record) => gone.has((record.event as { id: string }).id))).toBe(false);
    // The head published before the cut still holds after it, and the chain goes on with the retention.set record.
    expect(await verifyExport(linesOf(after), 'org-a', { seq: published.seq, hash: published.hash })).toMatchObject({ ok: true, checkpointSeq: oldEvents.length, firstSeq: oldEvents.length + 1, lastSeq: orgA.length + 1 });
    // org-b had no retention: its chain is whole.
    expect(await verifyExport(linesOf(await ask('audit', KEY_B)), 'org-b')).toMatchObject({ ok: true, records: theirs.length, checkpointSeq: null });

    // A redelivery of what was cut is not archived again: the page keeps its high-water mark.
    await deliver('0', orgA.slice(0, 2));
    expect((await archiveItems(cosmos, 'org-a')).flatMap((item) => item.doc.seqs)).toEqual(pages.flatMap((item) => item.doc.seqs));
  });
});

/** The archive adapter with small pages over the Cosmos-compatible server: pages, order, tenants, retention. */
describe('StoreOrgEventArchive with pages of 3 on cosmosdb-server', () => {
  let cosmos: TestCosmos;
  let store: CosmosReadModelStore;
  let archive: StoreOrgEventArchive;
  beforeAll(async () => {
    cosmos = await startTestCosmos();
    store = new CosmosReadModelStore({ client: cosmos.client(), databaseId: DATABASE, createIfMissing: true, indexes: [...readModelIndexes, ...AUDIT_ARCHIVE_INDEXES], ownsClient: true });
    archive = new StoreOrgEventArchive(store, { pageEvents: 3 });
  });
  afterAll(async () => {
    await store.close();
    await cosmos.close();
  });

  const eventsOf = (orgId: string, count: number, receivedAt: string) => stored(aSessionOfEvents(anEnvelope({ orgId }), oldAt, count - 2), orgId, receivedAt);
  const at = (partition: string, events: readonly LoggedEvent[], from = 0) => events.map((event, i) => ({ event, partition, position: from + i }));

  it('writes one page per three events, once, and reads an org back in order from any position', async () => {
    const a = eventsOf('org-a', 10, oldReceivedAt);
    const b = eventsOf('org-b', 4, oldReceivedAt);
    expect(await archive.archive([...at('0', a).slice(0, 5), ...at('1', b)])).toBe(9);
    expect(await archive.archive(at('0', a).slice(3))).toBe(5); // 3 and 4 again: skipped
    expect(await archive.archive(at('0', a))).toBe(0);
    const pages = await archiveItems(cosmos, 'org-a');
    expect(pages.map((page) => page.doc.seqs).sort((x, y) => x[0]! - y[0]!)).toEqual([[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]);
    expect((await archive.readOrg('org-a', BEFORE_FIRST, 100)).map(({ position, event }) => [position, event.id])).toEqual(a.map((event, i) => [i, event.id]));
    expect((await archive.readOrg('org-a', 4, 2)).map(({ position }) => position)).toEqual([5, 6]);
    expect((await archive.readOrg('org-b', BEFORE_FIRST, 100)).map(({ event }) => event.id)).toEqual(b.map((event) => event.id));
  });

  it('retention removes the expired run: emptied pages deleted, a page cut in two rewritten, the last page kept for its high-water mark', async () => {
    const a = (await archive.readOrg('org-a', BEFORE_FIRST, 100)).map(({ event }) => event);
    expect(await archive.removeEvents('org-a', new Set(a.slice(0, 7).map((event) => event.id)))).toBe(7);
    expect((await archiveItems(cosmos, 'org-a')).map((page) => page.doc.seqs).sort((x, y) => x[0]! - y[0]!)).toEqual([[7, 8], [9]]);
    expect((await archive.readOrg('org-a', BEFORE_FIRST, 100)).map(({ position }) => position)).toEqual([7, 8, 9]);
    expect(await archive.removeEvents('org-a', new Set(a.slice(7).map((event) => event.id)))).toBe(3);
    expect((await archiveItems(cosmos, 'org-a')).map((page) => ({ seqs: page.doc.seqs, last: page.doc.last }))).toEqual([{ seqs: [], last: 9 }]);
    expect(await archive.archive(at('0', a).slice(8))).toBe(0);
    expect((await archive.readOrg('org-b', BEFORE_FIRST, 100))).toHaveLength(4);
  });

  it('sweepRetention over the archive cuts whole pages, checkpoint first, and the audit route then starts from it', async () => {
    const orgId = 'org-sweep';
    const old = eventsOf(orgId, 7, oldReceivedAt);
    const recent = eventsOf(orgId, 4, new Date().toISOString());
    await archive.archive(at('0', [...old, ...recent]));
    const routes = httpRoutes({
      eventLog: { append: async () => ({ appended: 0, duplicates: 0 }) } as never,
      readModelStore: store,
      authenticator: { authenticate: async () => ({ orgId, role: 'owner', actor: 'key:test' }) },
      now: () => new Date(),
      newBatchId: () => 'batch',
      auditSigner: auditSigner(newAuditKeyPem()),
      orgEvents: archive,
    });
    const before = recordsOf(await askHandlers(routes, 'any', route('audit'), {}));
    await setRetention({ store, append: async () => undefined, now: () => new Date(), newBatchId: () => 'b' }, orgId, { rawEventDays: 30, previewDays: null }, 'key:test');
    await sweepRetention(archive, store, new Date());
    expect(await auditCheckpoint(store, orgId)).toMatchObject({ seq: old.length, hash: before[old.length - 1]!.hash, position: old.length - 1 });
    expect((await retentionOf(store, orgId)).lastSweep).toMatchObject({ eventsRemoved: old.length });
    // Seven old events were pages [0,1,2] [3,4,5] [6,7,8]: two deleted, the third keeps 7 and 8.
    expect((await archiveItems(cosmos, orgId)).map((page) => page.doc.seqs).sort((x, y) => x[0]! - y[0]!)).toEqual([[7, 8], [9, 10]]);
    const after = await askHandlers(routes, 'any', route('audit'), {});
    expect((after.body as unknown[])[0]).toMatchObject({ checkpoint: true, seq: old.length });
    expect(recordsOf(after).map(({ seq, hash }) => ({ seq, hash }))).toEqual(before.slice(old.length).map(({ seq, hash }) => ({ seq, hash })));
    expect(await verifyExport(linesOf(after), orgId)).toMatchObject({ ok: true, checkpointSeq: old.length, firstSeq: old.length + 1 });
  });
});
