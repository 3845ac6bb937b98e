import type { AddressInfo, Server } from 'node:net';
import { createHash } from 'node:crypto';
// eslint-disable-next-line @typescript-eslint/no-require-imports
import rhea = require('rhea');

/** An event as the broker holds it: what the SDK sent, where it landed, and the annotations Event Hubs adds. */
export interface BrokeredEvent {
  hub: string;
  partitionId: string;
  partitionKey: string | undefined;
  sequenceNumber: number;
  offset: string;
  enqueuedTimeUtc: Date;
  /** The AMQP message as the producer sent it (body as rhea decodes it: a data Section for SDK events). */
  message: rhea.Message;
  /** The body parsed as the SDK encodes objects (JSON in a data section). */
  body: unknown;
}

export interface TestEventHubsBroker {
  port: number;
  /** A connection string for the real @azure/event-hubs SDK (plain AMQP, SAS accepted without checking). */
  connectionString(hub?: string): string;
  events(hub: string): BrokeredEvent[];
  /** Transfers received on each hub: one per sendBatch, whatever the batch held. */
  transfers(hub: string): number;
  /** Makes the next `count` transfers to any hub fail with the given AMQP error condition. */
  failNextTransfers(count: number, condition?: string): void;
  close(): Promise<void>;
}

const BATCH_FORMAT = 0x80013700;

/**
 * A small AMQP 1.0 broker that the real Event Hubs SDK talks to, for tests only (LOCAL-AZURE.md: no emulator here).
 * It models: SASL ANONYMOUS/PLAIN, $cbs put-token (every token accepted), $management READ of hub and partition
 * properties, sends to the hub (partition chosen from x-opt-partition-key by a stable hash, else round robin) or to a
 * partition, batched transfers, and receivers on <hub>/ConsumerGroups/<cg>/Partitions/<id> with sequence numbers,
 * offsets and enqueued times, starting after an offset / sequence number filter (else from the beginning).
 * It does NOT model: authorisation, consumer groups as separate entities (any name works, all see the same events),
 * owner levels (epoch receivers), enqueued-time start positions, retention, throttling, Azure's partition-key hash,
 * idempotent publishing, or geo-replication.
 */
export async function startTestEventHubsBroker(options: { partitionCount?: number; maxMessageSize?: number } = {}): Promise<TestEventHubsBroker> {
  const partitionCount = options.partitionCount ?? 2;
  const maxMessageSize = options.maxMessageSize ?? 1024 * 1024;
  const partitions = new Map<string, BrokeredEvent[][]>(); // hub -> partition -> events
  const transferCounts = new Map<string, number>();
  // Request/response ($cbs, $management): the client's reply receiver is named after its reply-to address.
  const replyLinks = new Map<string, rhea.Sender>();
  const consumers: Array<{ hub: string; partitionId: string; sender: rhea.Sender; next: number }> = [];
  let roundRobin = 0;
  let arrivals = 0;
  const arrival = new WeakMap<BrokeredEvent, number>();
  let failures = { count: 0, condition: 'com.microsoft:server-busy' };

  const hubPartitions = (hub: string) => {
    let list = partitions.get(hub);
    if (!list) partitions.set(hub, (list = Array.from({ length: partitionCount }, () => [])));
    return list;
  };

  const container = rhea.create_container({ id: 'km-test-broker' });
  container.sasl_server_mechanisms.enable_anonymous();
  container.sasl_server_mechanisms.enable_plain(() => true);

  container.on('receiver_open', (context) => {
    const receiver = context.receiver!;
    const address = (receiver.remote as { attach?: { target?: { address?: string } } }).attach?.target?.address ?? '';
    receiver.set_target({ address });
    (receiver.local as { attach: { max_message_size?: number } }).attach.max_message_size = maxMessageSize;
  });

  container.on('sender_open', (context) => {
    const sender = context.sender!;
    const source = (sender.remote as { attach?: { source?: { address?: string; filter?: Record<string, unknown> } } }).attach?.source;
    const address = source?.address ?? '';
    sender.set_source({ address });
    const consumer = /^([^/]+)\/ConsumerGroups\/[^/]+\/Partitions\/(\d+)$/.exec(address);
    if (consumer) {
      const [, hub, partitionId] = consumer as unknown as [string, string, string];
      const entry = { hub, partitionId, sender, next: startIndex(source?.filter) };
      consumers.push(entry);
      deliver(entry);
    } else {
      replyLinks.set(sender.name, sender);
    }
  });

  container.on('sendable', (context) => {
    const entry = consumers.find((candidate) => candidate.sender === context.sender);
    if (entry) deliver(entry);
  });

  const forget = (context: rhea.EventContext) => {
    for (let i = consumers.length - 1; i >= 0; i--) {
      if (consumers[i]!.sender.connection === context.connection || consumers[i]!.sender === context.sender) consumers.splice(i, 1);
    }
    for (const [address, link] of replyLinks) if (link.connection === context.connection || link === context.sender) replyLinks.delete(address);
  };
  container.on('sender_close', forget);
  container.on('disconnected', forget);
  container.on('connection_close', forget);

  container.on('message', (context) => {
    const message = context.message!;
    const address = (context.receiver!.remote as { attach?: { target?: { address?: string } } }).attach?.target?.address ?? '';
    if (address === '$cbs') return reply(message, 202, undefined);
    if (address === '$management') return reply(message, 200, management(message));
    const match = /^([^/]+)(?:\/Partitions\/(\d+))?$/.exec(address);
    if (!match) return context.delivery!.reject({ condition: 'amqp:not-found', description: `no entity ${address}` });
    if (failures.count > 0) {
      failures.count--;
      return context.delivery!.reject({ condition: failures.condition, description: 'test broker: injected failure' });
    }
    const hub = match[1]!;
    transferCounts.set(hub, (transferCounts.get(hub) ?? 0) + 1);
    const format = (context.delivery as unknown as { format?: number }).format;
    // rhea hands a transfer of a non-default format over undecoded: the batch envelope, whose data sections are
    // the encoded events.
    const inner: rhea.Message[] =
      format === BATCH_FORMAT
        ? sectionContents(rhea.message.decode(message as unknown as Buffer).body).map((bytes) => rhea.message.decode(bytes))
        : [message];
    for (const event of inner) store(hub, match[2], event);
  });

  function store(hub: string, explicitPartition: string | undefined, message: rhea.Message): void {
    const partitionKey = message.message_annotations?.['x-opt-partition-key'] as string | undefined;
    const partitionId =
      explicitPartition ??
      (partitionKey !== undefined
        ? String(createHash('sha256').update(partitionKey).digest().readUInt32BE(0) % partitionCount)
        : String(roundRobin++ % partitionCount));
    const list = hubPartitions(hub)[Number(partitionId)];
    if (!list) throw new Error(`partition ${partitionId} of ${hub} does not exist`);
    const sequenceNumber = list.length;
    const brokered: BrokeredEvent = {
      hub,
      partitionId,
      partitionKey,
      sequenceNumber,
      offset: String(sequenceNumber),
      enqueuedTimeUtc: new Date(),
      message,
      body: decodeBody(message.body),
    };
    arrival.set(brokered, arrivals++);
    list.push(brokered);
    for (const consumer of consumers) if (consumer.hub === hub && consumer.partitionId === partitionId) deliver(consumer);
  }

  function deliver(consumer: { hub: string; partitionId: string; sender: rhea.Sender; next: number }): void {
    const list = hubPartitions(consumer.hub)[Number(consumer.partitionId)] ?? [];
    while (consumer.next < list.length && consumer.sender.sendable()) {
      const event = list[consumer.next++]!;
      consumer.sender.send({
        ...event.message,
        message_annotations: {
          ...(event.message.message_annotations ?? {}),
          'x-opt-sequence-number': rhea.types.wrap_long(event.sequenceNumber),
          'x-opt-offset': event.offset,
          'x-opt-enqueued-time': event.enqueuedTimeUtc,
        },
      } as rhea.Message);
    }
  }

  function startIndex(filter: Record<string, unknown> | undefined): number {
    const text = JSON.stringify(filter ?? {});
    const position = /x-opt-(offset|sequence-number)\s*(>=?)\s*'?(-?\d+)'?/.exec(text);
    if (!position) return 0;
    const value = Number(position[3]);
    return value < 0 ? 0 : position[2] === '>' ? value + 1 : value;
  }

  function management(request: rhea.Message): Record<string, unknown> {
    const properties = request.application_properties ?? {};
    const hub = String(properties.name);
    const list = hubPartitions(hub);
    if (properties.type === 'com.microsoft:partition') {
      const events = list[Number(properties.partition)] ?? [];
      const last = events[events.length - 1];
      return {
        name: hub,
        partition: String(properties.partition),
        begin_sequence_number: rhea.types.wrap_long(0),
        last_enqueued_sequence_number: rhea.types.wrap_long(last ? last.sequenceNumber : -1),
        last_enqueued_offset: last ? last.offset : '-1',
        last_enqueued_time_utc: last ? last.enqueuedTimeUtc : new Date(0),
        is_partition_empty: !last,
      };
    }
    return { name: hub, created_at: new Date(0), partition_ids: list.map((_, i) => String(i)) };
  }

  function reply(request: rhea.Message, status: number, body: unknown): void {
    const link = request.reply_to ? replyLinks.get(request.reply_to) : undefined;
    link?.send({
      correlation_id: request.message_id,
      to: request.reply_to,
      application_properties: { 'status-code': status, 'status-description': 'OK', statusCode: status },
      body,
    } as rhea.Message);
  }

  const server = container.listen({ port: 0, host: '127.0.0.1' }) as unknown as Server;
  await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())));
  const port = (server.address() as AddressInfo).port;
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  return {
    port,
    connectionString: (hub) =>
      `Endpoint=sb://127.0.0.1:${port};SharedAccessKeyName=test;SharedAccessKey=dGVzdA==;UseDevelopmentEmulator=true` +
      (hub ? `;EntityPath=${hub}` : ''),
    events: (hub) => hubPartitions(hub).flat().sort((a, b) => arrival.get(a)! - arrival.get(b)!),
    transfers: (hub) => transferCounts.get(hub) ?? 0,
    failNextTransfers(count, condition = 'com.microsoft:server-busy') {
      failures = { count, condition };
    },
    async close() {
      sockets.forEach((socket) => socket.destroy());
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function sectionContents(body: unknown): Buffer[] {
  const section = body as { multiple?: boolean; content?: unknown } | undefined;
  if (!section || section.content === undefined) return [];
  return (section.multiple ? (section.content as Buffer[]) : [section.content as Buffer]).map((bytes) => Buffer.from(bytes));
}

function decodeBody(body: unknown): unknown {
  const [bytes] = sectionContents(body);
  if (!bytes) return body;
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return bytes;
  }
}
