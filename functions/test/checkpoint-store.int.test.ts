import { EventHubConsumerClient, EventHubProducerClient, type ReceivedEventData } from '@azure/event-hubs';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { ContainerClient } from '@azure/storage-blob';
import { startTestAzurite, type TestAzurite } from './support/azurite';
import { startTestEventHubsBroker, type TestEventHubsBroker } from './support/event-hubs-broker';

/**
 * Checkpoints in Blob Storage, as the Functions host keeps them for the projector triggers (AzureWebJobsStorage):
 * a consumer on a consumer group checkpoints what it handled, and the next consumer on that group resumes after it,
 * while another group still starts from the beginning.
 */
describe('Event Hubs checkpoints in Blob Storage (Azurite) with the test broker', () => {
  let azurite: TestAzurite;
  let broker: TestEventHubsBroker;
  let container: ContainerClient;
  beforeAll(async () => {
    [azurite, broker] = await Promise.all([startTestAzurite(), startTestEventHubsBroker({ partitionCount: 1 })]);
    container = new ContainerClient(azurite.blobConnectionString, 'checkpoints');
    await container.createIfNotExists();
  });
  afterAll(async () => {
    await Promise.all([azurite.close(), broker.close()]);
  });

  const send = async (bodies: unknown[]) => {
    const producer = new EventHubProducerClient(broker.connectionString(), 'hub');
    await producer.sendBatch(bodies.map((body) => ({ body })), { partitionKey: 'org-a' });
    await producer.close();
  };

  /** Subscribes with the checkpoint store until `count` events arrived; checkpoints after each batch. */
  async function consume(consumerGroup: string, count: number): Promise<unknown[]> {
    const consumer = new EventHubConsumerClient(consumerGroup, broker.connectionString(), 'hub', new BlobCheckpointStore(container));
    const bodies: unknown[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`got ${bodies.length} of ${count}`)), 15_000);
        const subscription = consumer.subscribe(
          {
            processEvents: async (events: ReceivedEventData[], context) => {
              if (events.length === 0) return;
              bodies.push(...events.map((event) => event.body));
              await context.updateCheckpoint(events[events.length - 1]!);
              if (bodies.length >= count) {
                clearTimeout(timer);
                void subscription.close().then(resolve, reject);
              }
            },
            processError: async () => undefined,
          },
          { startPosition: { sequenceNumber: -1, isInclusive: false }, maxWaitTimeInSeconds: 0.2 },
        );
      });
    } finally {
      await consumer.close();
    }
    return bodies;
  }

  it('resumes a consumer group after its checkpoint, per group', async () => {
    await send([{ n: 1 }, { n: 2 }]);
    expect(await consume('sessions', 2)).toEqual([{ n: 1 }, { n: 2 }]);
    const store = new BlobCheckpointStore(container);
    const namespace = '127.0.0.1';
    expect(await store.listCheckpoints(namespace, 'hub', 'sessions')).toEqual([
      expect.objectContaining({ consumerGroup: 'sessions', partitionId: '0', sequenceNumber: 1 }),
    ]);

    await send([{ n: 3 }]);
    expect(await consume('sessions', 1)).toEqual([{ n: 3 }]);
    expect(await consume('interactions', 3)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  });
});
