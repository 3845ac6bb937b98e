import { EventHubConsumerClient, type ReceivedEventData } from '@azure/event-hubs';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { hashApiKey } from '../src/adapters/api-key-authenticator';
import { readModels } from '../src/read-models';
import { aSessionOfEvents, anEnvelope } from './fixtures';
import { anInvocationContext } from './http-fixtures';
import type { RecordedEventHubFunction, RecordedHttpFunction } from './azure-registrations';
import type { TestEventHubsBroker } from './support/event-hubs-broker';
import { startAzureApp, type AzureApp } from './support/azure-app';

const HUB = 'km-events';
const API_KEY = 'km_test_e2e_key';

/**
 * The registered Functions on KM_STORAGE=azure, end to end across both cloud adapters: ingest appends to the test
 * Event Hubs broker through the real SDK; each projector trigger gets the events a consumer on its own consumer group
 * received (as the host would hand them over, with triggerMetadata); the folds land in Cosmos (cosmosdb-server);
 * the query Functions read them back.
 */
describe('the Functions app on KM_STORAGE=azure (Event Hubs broker + cosmosdb-server)', () => {
  let app: AzureApp;
  let broker: TestEventHubsBroker;
  let http: RecordedHttpFunction[] = [];
  let triggers: RecordedEventHubFunction[] = [];

  beforeAll(async () => {
    app = await startAzureApp(HUB, 'km-e2e', { KM_API_KEY_HASHES: `${hashApiKey(API_KEY)}:org-e2e` });
    ({ broker, http, triggers } = app);
  });

  afterAll(() => app.close());

  const call = async (name: string, init: ConstructorParameters<typeof HttpRequest>[0]) =>
    (await http.find((fn) => fn.name === name)!.handler(new HttpRequest(init), anInvocationContext(name))) as HttpResponseInit;
  const auth = { authorization: `Bearer ${API_KEY}` };

  /** Everything on the hub, as a consumer on `consumerGroup` receives it (all partitions, from the start). */
  async function receiveAll(consumerGroup: string, expected: number): Promise<ReceivedEventData[]> {
    const consumer = new EventHubConsumerClient(consumerGroup, broker.connectionString(), HUB);
    const received: ReceivedEventData[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`received ${received.length} of ${expected} events`)), 15_000);
        const subscription = consumer.subscribe(
          {
            processEvents: async (batch) => {
              received.push(...batch);
              if (received.length >= expected) {
                clearTimeout(timer);
                void subscription.close().then(resolve, reject);
              }
            },
            processError: async () => undefined, // the broker does not model everything the SDK probes
          },
          { startPosition: { sequenceNumber: -1, isInclusive: false }, maxWaitTimeInSeconds: 0.2 },
        );
      });
    } finally {
      await consumer.close();
    }
    return received;
  }

  /** The trigger as the host calls it: bodies in an array, per-event metadata in parallel arrays. */
  const invokeTrigger = async (trigger: RecordedEventHubFunction, events: ReceivedEventData[]) => {
    const context = new InvocationContext({
      invocationId: 'trigger-1',
      functionName: trigger.name,
      logHandler: () => undefined,
      triggerMetadata: {
        sequenceNumberArray: events.map((event) => event.sequenceNumber),
        enqueuedTimeUtcArray: events.map((event) => event.enqueuedTimeUtc.toISOString()),
        propertiesArray: events.map((event) => event.properties ?? {}),
      },
    });
    await trigger.handler(events.map((event) => event.body), context);
  };

  it('registers one many-cardinality trigger per read model, one for budget webhooks and one for the audit archive, each on its own consumer group', () => {
    const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
    const expected = [
      ...readModels.map((model) => ({ name: `project-${model.name}`, group: model.name })),
      { name: 'budget-webhooks', group: 'budget-webhooks' },
      { name: 'audit-archive', group: 'audit-archive' },
    ];
    expect(triggers.map(({ name, connection, eventHubName, consumerGroup, cardinality }) => ({ name, connection, eventHubName, consumerGroup, cardinality })).sort(byName)).toEqual(
      expected
        .map(({ name, group }) => ({ name, connection: 'EventHubConnection', eventHubName: '%KM_EVENTHUB_NAME%', consumerGroup: group, cardinality: 'many' }))
        .sort(byName),
    );
  });

  it('ingest -> Event Hubs -> projector triggers -> Cosmos -> query Functions, and a replayed batch changes nothing', async () => {
    const events = aSessionOfEvents(anEnvelope({ orgId: 'org-e2e', sessionId: 'cloud-session' }), '2026-07-01T10:00:00.000Z', 2);
    const ingest = await call('ingest', { method: 'POST', url: 'http://localhost/api/ingest', headers: { ...auth, 'content-type': 'application/json' }, body: { string: JSON.stringify({ events }) } });
    expect(ingest).toMatchObject({ status: 202, jsonBody: { accepted: 4, duplicates: 0 } });
    expect(broker.events(HUB).map((event) => event.partitionKey)).toEqual(['org-e2e', 'org-e2e', 'org-e2e', 'org-e2e']);

    for (const trigger of triggers) {
      const received = await receiveAll(trigger.consumerGroup!, events.length);
      await invokeTrigger(trigger, received);
      await invokeTrigger(trigger, received); // at-least-once: the host may deliver a batch again
    }

    const interactions = await call('query-session-interactions', {
      method: 'GET',
      url: 'http://localhost/api/sessions/cloud-session/interactions',
      headers: auth,
      params: { id: 'cloud-session' },
    });
    expect(interactions).toMatchObject({ status: 200, jsonBody: { sessionId: 'cloud-session', interactions: [{ requestId: '1' }, { requestId: '2' }] } });
    const sessions = await call('query-sessions', { method: 'GET', url: 'http://localhost/api/sessions', headers: auth });
    expect(sessions).toMatchObject({ status: 200 });
    expect(JSON.stringify(sessions.jsonBody)).toContain('cloud-session');
    const otherTenant = await call('query-sessions', { method: 'GET', url: 'http://localhost/api/sessions', headers: { authorization: 'Bearer nope' } });
    expect(otherTenant.status).toBe(401);
  });

  it('answers GET /api/audit with a 501 naming the setting when the app has no signing key (none is set here)', async () => {
    const audit = await call('audit', { method: 'GET', url: 'http://localhost/api/audit', headers: auth });
    expect(audit).toMatchObject({ status: 501, jsonBody: { error: expect.stringContaining('KM_AUDIT_SIGNING_KEY is not set') } });
  });

  it('skips an event that does not parse, logging where without its content, and folds the rest', async () => {
    const trigger = triggers.find((fn) => fn.consumerGroup === 'sessions')!;
    const [started] = aSessionOfEvents(anEnvelope({ orgId: 'org-e2e', sessionId: 'partly-bad' }), '2026-07-02T10:00:00.000Z', 0);
    const logged: string[] = [];
    const context = new InvocationContext({
      invocationId: 'trigger-2',
      functionName: trigger.name,
      logHandler: (level, ...args) => logged.push(`${level} ${args.join(' ')}`),
      triggerMetadata: { sequenceNumberArray: [7, 8], enqueuedTimeUtcArray: [new Date().toISOString(), new Date().toISOString()] },
    });
    const secret = { ...started!, id: 'not-an-id', requestPreview: 'sk-secret' };
    await trigger.handler([JSON.stringify(secret), { ...started!, receivedAt: '2026-07-02T10:00:01.000Z', batchId: 'b' }], context);
    expect(logged.join('\n')).toMatch(/skipped event 0 \(sequence number 7\)/);
    expect(logged.join('\n')).not.toContain('sk-secret');
    const session = await call('query-session', { method: 'GET', url: 'http://localhost/api/sessions/partly-bad', headers: auth, params: { id: 'partly-bad' } });
    expect(session.status).toBe(200);
  });
});
