import { InvocationContext } from '@azure/functions';
import { costProjection, newEventId, riskProjection, type BudgetSet, type FindingStatusChanged } from '@km/shared';
import { MemoryEventLog } from '../src/adapters/memory-event-log';
import { MemoryReadModelStore } from '../src/adapters/memory-read-model-store';
import { makeProjectorTriggerHandler } from '../src/handlers/project-events';
import { noTelemetry } from '../src/telemetry';
import { anEnvelope, interaction, stored } from './fixtures';

/** The cloud's Event Hubs trigger must fold what the embedded loop folds: server-made events included. */
/** What the host passes with a batch of one partition: its id and each message's sequence number (its log position). */
const context = (sequenceNumbers: number[] = []) =>
  new InvocationContext({ invocationId: 'i', functionName: 'project', logHandler: () => undefined, triggerMetadata: { partitionContext: { partitionId: '0' }, sequenceNumberArray: sequenceNumbers } });
const asHubMessages = (events: object[]) => events.map((event) => JSON.parse(JSON.stringify(event)) as unknown);

describe('Event Hubs projector trigger', () => {
  it('given a budget.set and spend past 50 %, when projected, then the threshold event is appended to the hub once', async () => {
    const store = new MemoryReadModelStore();
    const hub = new MemoryEventLog();
    const handler = makeProjectorTriggerHandler({ projection: costProjection as never, readModelStore: async () => store, eventLog: async () => hub, telemetry: () => noTelemetry, now: () => new Date('2026-07-02T12:00:00.000Z') });
    const budget: BudgetSet = { id: newEventId(Date.parse('2026-07-01T00:00:00.000Z')), v: 1, ts: '2026-07-01T00:00:00.000Z', type: 'budget.set', orgId: 'org-a', scope: 'project', projectId: 'web', monthlyUsd: 1, webhookUrl: null };
    const spend = interaction(anEnvelope({ orgId: 'org-a', projectId: 'web' }), '2026-07-02T10:00:00.000Z', { costUsd: 0.6, tokensIn: 10, tokensOut: 1, model: 'gpt-4o' });
    const batch = asHubMessages([{ ...budget, receivedAt: budget.ts, batchId: 'api' }, ...stored([spend])]);
    await handler(batch, context([41, 42]));
    await handler(batch, context([41, 42])); // at-least-once: the host may deliver the batch again
    const appended = (await hub.read(0, 100)).map((entry) => entry.event);
    expect(appended).toEqual([expect.objectContaining({ type: 'budget.threshold_crossed', threshold: 50, projectId: 'web' })]);
  });

  it('folds an acknowledgement made through the API into the finding', async () => {
    const store = new MemoryReadModelStore();
    const handler = makeProjectorTriggerHandler({ projection: riskProjection as never, readModelStore: async () => store, eventLog: async () => new MemoryEventLog(), telemetry: () => noTelemetry, now: () => new Date() });
    const found = interaction(anEnvelope({ orgId: 'org-a' }), '2026-07-02T10:00:00.000Z', { findings: [{ ruleId: 'aws-access-key-id', severity: 'critical', path: '$.result.content[0].text' }] });
    const findingId = `${found.id}.0`;
    const ack: FindingStatusChanged = { id: newEventId(), v: 1, ts: '2026-07-02T11:00:00.000Z', type: 'risk.finding_status', orgId: 'org-a', findingId, status: 'acknowledged' };
    await handler(asHubMessages([...stored([found]), { ...ack, receivedAt: ack.ts, batchId: 'api' }]), context());
    expect((await store.get<{ status: string; ruleId: string }>(riskProjection.name, 'org-a', findingId))?.doc).toMatchObject({ status: 'acknowledged', ruleId: 'aws-access-key-id' });
  });

  it('folds a client retry appended again at a later sequence number once, in every projector, across replicas', async () => {
    const store = new MemoryReadModelStore();
    const handlerFor = () =>
      makeProjectorTriggerHandler({ projection: costProjection as never, readModelStore: async () => store, eventLog: async () => new MemoryEventLog(), telemetry: () => noTelemetry, now: () => new Date('2026-07-02T12:00:00.000Z') });
    const spend = interaction(anEnvelope({ orgId: 'org-a', projectId: 'web' }), '2026-07-02T10:00:00.000Z', { costUsd: 0.25, tokensIn: 10, tokensOut: 1, model: 'gpt-4o' });
    const other = interaction(anEnvelope({ orgId: 'org-a', projectId: 'web' }), '2026-07-02T10:01:00.000Z', { costUsd: 0.5, tokensIn: 10, tokensOut: 1, model: 'gpt-4o' });
    // The ingest answer was lost, so km sent the batch again: Event Hubs holds the event at 7 and at 90.
    await handlerFor()(asHubMessages(stored([spend])), context([7]));
    await handlerFor()(asHubMessages(stored([spend, other])), context([90, 91]));
    await handlerFor()(asHubMessages(stored([spend])), context([7])); // a redelivery of the first entry
    const day = await store.get<{ total: { costNanoUsd: number; interactions: number } }>(costProjection.name, 'org-a', 'day|2026-07-02');
    expect(day?.doc.total).toMatchObject({ costNanoUsd: 750_000_000, interactions: 2 }); // 0.25 + 0.5, not 0.25 twice + 0.5
  });
});
