import type { CreateBatchOptions, EventData, EventDataBatch } from '@azure/event-hubs';
import { EventHubsEventLog, EventHubsSendError, EventTooLargeError, type EventHubsProducer } from '../src/adapters/event-hubs-event-log';
import { anEnvelope, interaction, stored } from './fixtures';

/** A producer whose batches hold at most `maxBytes` of JSON bodies, recording what was sent. */
function aFakeProducer(maxBytes: number, failOnSend: number[] = []) {
  const sent: Array<{ partitionKey: string | undefined; ids: string[] }> = [];
  let sends = 0;
  const producer: EventHubsProducer = {
    async createBatch(options: CreateBatchOptions = {}) {
      const items: EventData[] = [];
      let size = 0;
      return {
        get count() {
          return items.length;
        },
        get sizeInBytes() {
          return size;
        },
        tryAdd(event: EventData) {
          const bytes = Buffer.byteLength(JSON.stringify(event.body));
          if (size + bytes > maxBytes) return false;
          items.push(event);
          size += bytes;
          return true;
        },
        partitionKey: options.partitionKey,
        items,
      } as unknown as EventDataBatch;
    },
    async sendBatch(batch) {
      if (failOnSend.includes(++sends)) throw new Error('server busy');
      const { partitionKey, items } = batch as unknown as { partitionKey: string; items: EventData[] };
      sent.push({ partitionKey, ids: items.map((item) => (item.body as { id: string }).id) });
    },
    close: jest.fn(async () => undefined),
  };
  return { producer, sent };
}

const eventsOf = (orgId: string, count: number) =>
  stored(Array.from({ length: count }, (_, i) => interaction(anEnvelope({ orgId }), `2026-01-01T00:00:0${i}.000Z`)));

describe('EventHubsEventLog batching (unit)', () => {
  const size = Buffer.byteLength(JSON.stringify(eventsOf('org-a', 1)[0]));

  it('given events of two orgs, sends one batch per org with the org as partition key, in order', async () => {
    const { producer, sent } = aFakeProducer(10 * size);
    const a = eventsOf('org-a', 2);
    const b = eventsOf('org-b', 1);
    expect(await new EventHubsEventLog(producer).append([a[0]!, b[0]!, a[1]!])).toEqual({ appended: 3, duplicates: 0 });
    expect(sent).toEqual([
      { partitionKey: 'org-a', ids: [a[0]!.id, a[1]!.id] },
      { partitionKey: 'org-b', ids: [b[0]!.id] },
    ]);
  });

  it('starts a new batch when tryAdd says the batch is full', async () => {
    const { producer, sent } = aFakeProducer(2 * size + 10);
    const events = eventsOf('org-a', 5);
    await new EventHubsEventLog(producer).append(events);
    expect(sent.map((batch) => batch.ids.length)).toEqual([2, 2, 1]);
    expect(sent.flatMap((batch) => batch.ids)).toEqual(events.map((event) => event.id));
  });

  it('sends a repeated id once and counts the repeats', async () => {
    const { producer, sent } = aFakeProducer(10 * size);
    const [event] = eventsOf('org-a', 1);
    expect(await new EventHubsEventLog(producer).append([event!, event!])).toEqual({ appended: 1, duplicates: 1 });
    expect(sent).toHaveLength(1);
  });

  it('refuses an event no batch can carry, naming it', async () => {
    const { producer } = aFakeProducer(size - 1);
    const [event] = eventsOf('org-a', 1);
    await expect(new EventHubsEventLog(producer).append([event!])).rejects.toThrow(new EventTooLargeError(event!.id, size));
  });

  it('says how much was sent before a refused batch', async () => {
    const { producer } = aFakeProducer(2 * size + 10, [2]);
    const error = await new EventHubsEventLog(producer).append(eventsOf('org-a', 5)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EventHubsSendError);
    expect(error).toMatchObject({ sent: 2, unsent: 3, message: expect.stringContaining('server busy') });
  });

  it('closes the producer only when it owns it', async () => {
    const { producer } = aFakeProducer(size);
    await new EventHubsEventLog(producer).close();
    expect(producer.close).not.toHaveBeenCalled();
    await new EventHubsEventLog(producer, { ownsProducer: true }).close();
    expect(producer.close).toHaveBeenCalledTimes(1);
  });
});
