import type { CreateBatchOptions, EventData, EventDataBatch } from '@azure/event-hubs';
import type { StoredEvent } from '@km/shared';
import { EventTooLargeError, type AppendResult, type EventLog, type LogPosition } from '../ports';

export { EventTooLargeError };

/** What the log needs of an EventHubProducerClient (the real one satisfies it; tests pass fakes). */
export interface EventHubsProducer {
  createBatch(options?: CreateBatchOptions): Promise<EventDataBatch>;
  sendBatch(batch: EventDataBatch): Promise<void>;
  close(): Promise<void>;
}

/** One event is larger than an Event Hubs message may be (1 MB on Standard): no batch can ever carry it. */
/** Sending to Event Hubs failed; `sent` events of this append were already sent (a retry sends them again). */
export class EventHubsSendError extends Error {
  constructor(
    readonly sent: number,
    readonly unsent: number,
    cause: unknown,
  ) {
    super(
      `Event Hubs refused a batch (${unsent} event(s) not sent, ${sent} sent before): ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.name = 'EventHubsSendError';
  }
}

export const CLOUD_LOG_READ_UNSUPPORTED =
  'the Event Hubs event log is append-only here: in Azure the Functions host reads the hub (one Event Hubs trigger ' +
  'per projector, on its own consumer group) and keeps the checkpoints in Blob Storage. Use the SQLite or memory log ' +
  'for read/getCheckpoint/setCheckpoint.';

/**
 * The cloud EventLog: appends to Event Hubs with the tenant (orgId) as partition key, so one org's events stay in
 * order on one partition. Reading and checkpointing are the Functions host's job (the projector triggers), so
 * read/getCheckpoint/setCheckpoint throw CLOUD_LOG_READ_UNSUPPORTED instead of pretending.
 *
 * Idempotency: Event Hubs does not deduplicate. A repeated id within one append is sent once (and counted as a
 * duplicate); a repeat across appends (a client retry) is sent again, at a new sequence number, so `duplicates`
 * counts only the former. The projectors skip redeliveries of a message (by sequence number), and a retry appended
 * again at a later sequence number by the first entry recorded per (orgId, id) (first-sightings.ts).
 */
export class EventHubsEventLog implements EventLog {
  constructor(
    private readonly producer: EventHubsProducer,
    private readonly options: { ownsProducer?: boolean; onBatchSent?: (events: number, bytes: number) => void } = {},
  ) {}

  async append(events: StoredEvent[]): Promise<AppendResult> {
    const unique = new Map<string, StoredEvent>();
    for (const event of events) {
      const key = JSON.stringify([event.orgId, event.id]);
      if (!unique.has(key)) unique.set(key, event);
    }
    const byOrg = new Map<string, StoredEvent[]>();
    for (const event of unique.values()) {
      const group = byOrg.get(event.orgId);
      if (group) group.push(event);
      else byOrg.set(event.orgId, [event]);
    }
    let sent = 0;
    for (const [orgId, group] of byOrg) sent += await this.sendInBatches(orgId, group, sent, unique.size);
    return { appended: unique.size, duplicates: events.length - unique.size };
  }

  /** Fills batches up to the hub's size limit (tryAdd says when one is full) and sends each; returns the count. */
  private async sendInBatches(orgId: string, events: StoredEvent[], sentBefore: number, total: number): Promise<number> {
    let sent = 0;
    let batch = await this.producer.createBatch({ partitionKey: orgId });
    const send = async () => {
      try {
        await this.producer.sendBatch(batch);
      } catch (error) {
        throw new EventHubsSendError(sentBefore + sent, total - sentBefore - sent, error);
      }
      this.options.onBatchSent?.(batch.count, batch.sizeInBytes);
      sent += batch.count;
    };
    for (const event of events) {
      const data = toEventData(event);
      if (batch.tryAdd(data)) continue;
      if (batch.count === 0) throw new EventTooLargeError(event.id, Buffer.byteLength(JSON.stringify(event)));
      await send();
      batch = await this.producer.createBatch({ partitionKey: orgId });
      if (!batch.tryAdd(data)) throw new EventTooLargeError(event.id, Buffer.byteLength(JSON.stringify(event)));
    }
    if (batch.count > 0) await send();
    return sent;
  }

  async read(_after: LogPosition, _max: number): Promise<Array<{ position: LogPosition; event: StoredEvent }>> {
    throw new Error(CLOUD_LOG_READ_UNSUPPORTED);
  }

  async getCheckpoint(_projector: string): Promise<LogPosition> {
    throw new Error(CLOUD_LOG_READ_UNSUPPORTED);
  }

  async setCheckpoint(_projector: string, _position: LogPosition): Promise<void> {
    throw new Error(CLOUD_LOG_READ_UNSUPPORTED);
  }

  async close(): Promise<void> {
    if (this.options.ownsProducer) await this.producer.close();
  }
}

/** The event as JSON; only its type and tenant go into properties (never payloads), for routing and diagnostics. */
export function toEventData(event: StoredEvent): EventData {
  return {
    body: event,
    contentType: 'application/json',
    messageId: event.id,
    properties: { 'km-type': event.type, 'km-v': event.v },
  };
}
