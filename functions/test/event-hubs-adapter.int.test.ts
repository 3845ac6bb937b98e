import { EventHubConsumerClient, EventHubProducerClient } from '@azure/event-hubs';
import type { StoredEvent } from '@km/shared';
import { EventHubsEventLog, EventHubsSendError } from '../src/adapters/event-hubs-event-log';
import { testEventLog } from './contracts/event-log.contract';
import { anEnvelope, interaction, stored } from './fixtures';
import { startTestEventHubsBroker, type TestEventHubsBroker } from './support/event-hubs-broker';

/** The real SDK, no retries to wait for: a refused send must surface at once in these tests. */
const noRetries = { retryOptions: { maxRetries: 0, timeoutInMs: 10_000 } };

describe('EventHubsEventLog through the real SDK and the test AMQP broker', () => {
  let broker: TestEventHubsBroker;
  beforeAll(async () => {
    broker = await startTestEventHubsBroker({ partitionCount: 4, maxMessageSize: 64 * 1024 });
  });
  afterAll(() => broker.close());

  // One hub per storage name: the events each test appended, in the order the broker received them.
  testEventLog(async (storage) => new EventHubsEventLog(new EventHubProducerClient(broker.connectionString(storage), storage, noRetries), { ownsProducer: true }), {
    appendOnly: { appended: async (storage) => broker.events(storage).map((event) => event.body as StoredEvent) },
  });

  const open = (hub: string) => new EventHubsEventLog(new EventHubProducerClient(broker.connectionString(), hub, noRetries), { ownsProducer: true });
  const manyEvents = (count: number, orgId: string) => {
    const envelope = anEnvelope({ orgId });
    return stored(
      Array.from({ length: count }, (_, i) =>
        interaction(envelope, new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), { requestPreview: 'x'.repeat(3000) }),
      ),
    );
  };

  it('splits an append into as many batches as the link size allows, keeping order, with orgId as partition key', async () => {
    const log = open('batching');
    const events = [...manyEvents(60, 'org-a'), ...manyEvents(5, 'org-b')];
    expect(await log.append(events)).toEqual({ appended: 65, duplicates: 0 });
    const received = broker.events('batching');
    expect(broker.transfers('batching')).toBeGreaterThan(2); // 60 x ~4 KB cannot fit one 64 KB message
    for (const orgId of ['org-a', 'org-b']) {
      const ofOrg = received.filter((event) => event.partitionKey === orgId);
      expect(ofOrg.map((event) => (event.body as StoredEvent).id)).toEqual(events.filter((e) => e.orgId === orgId).map((e) => e.id));
      expect(new Set(ofOrg.map((event) => event.partitionId)).size).toBe(1);
    }
    await log.close();
  });

  it('fails with a clear error when the hub refuses a batch, and sends the rest on a retry', async () => {
    const log = open('refused');
    const events = manyEvents(3, 'org-a');
    broker.failNextTransfers(1);
    const failure = await log.append(events).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(EventHubsSendError);
    expect((failure as Error).message).toMatch(/Event Hubs refused a batch \(3 event\(s\) not sent, 0 sent before\)/);
    expect(await log.append(events)).toEqual({ appended: 3, duplicates: 0 });
    expect(broker.events('refused')).toHaveLength(3);
    await log.close();
  });

  it('delivers what was appended to a consumer group receiver with sequence numbers and enqueued times', async () => {
    const log = open('consumed');
    const events = manyEvents(3, 'org-c');
    await log.append(events);
    const consumer = new EventHubConsumerClient('sessions', broker.connectionString(), 'consumed');
    const partitionId = broker.events('consumed')[0]!.partitionId;
    const received: Array<{ id: string; sequenceNumber: number; enqueued: Date }> = [];
    await new Promise<void>((resolve, reject) => {
      const subscription = consumer.subscribe(
        partitionId,
        {
          processEvents: async (batch) => {
            for (const event of batch) received.push({ id: (event.body as StoredEvent).id, sequenceNumber: event.sequenceNumber, enqueued: event.enqueuedTimeUtc });
            if (received.length >= 3) void subscription.close().then(resolve);
          },
          processError: async (error) => reject(error),
        },
        { startPosition: { sequenceNumber: -1, isInclusive: false }, maxWaitTimeInSeconds: 1 },
      );
    });
    await consumer.close();
    expect(received.map((event) => event.id)).toEqual(events.map((event) => event.id));
    expect(received.map((event) => event.sequenceNumber)).toEqual([0, 1, 2]);
    await log.close();
  });
});

/** A real namespace: what the broker does not model (auth, throttling, Azure's partition hashing, size limits). */
const realConnection = process.env.EVENTHUBS_CONNECTION_STRING;
if (!realConnection) {
  // eslint-disable-next-line no-console
  console.log('skipping the Event Hubs append contract against a real namespace: set EVENTHUBS_CONNECTION_STRING (with EntityPath, or EVENTHUBS_NAME)');
}
(realConnection ? describe : describe.skip)('EventHubsEventLog on a real Event Hubs namespace (EVENTHUBS_CONNECTION_STRING)', () => {
  it('appends a batch across partition keys', async () => {
    const hub = process.env.EVENTHUBS_NAME;
    const producer = hub ? new EventHubProducerClient(realConnection!, hub) : new EventHubProducerClient(realConnection!);
    const log = new EventHubsEventLog(producer, { ownsProducer: true });
    const events = [...stored([interaction(anEnvelope({ orgId: 'km-test-a' }), new Date().toISOString())]), ...stored([interaction(anEnvelope({ orgId: 'km-test-b' }), new Date().toISOString())])];
    expect(await log.append([...events, events[0]!])).toEqual({ appended: 2, duplicates: 1 });
    await log.close();
  });
});
