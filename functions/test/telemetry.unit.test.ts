import { InvocationContext } from '@azure/functions';
import { sessionsProjection } from '@km/shared';
import { MemoryEventLog } from '../src/adapters/memory-event-log';
import { MemoryReadModelStore } from '../src/adapters/memory-read-model-store';
import { makeProjectorTriggerHandler } from '../src/handlers/project-events';
import { startTelemetry, telemetryOn, type MetricsClient } from '../src/telemetry';
import { aSessionOfEvents, anEnvelope, stored } from './fixtures';

const recorder = () => {
  const metrics: Array<{ name: string; value: number; properties?: Record<string, string> }> = [];
  const client: MetricsClient = { trackMetric: (metric) => void metrics.push(metric) };
  return { client, metrics };
};

describe('telemetry', () => {
  it('records nothing and loads nothing without APPLICATIONINSIGHTS_CONNECTION_STRING', () => {
    const telemetry = startTelemetry({});
    expect(() => telemetry.eventsIngested(3)).not.toThrow();
    expect(Object.keys(require.cache).some((path) => path.includes(`${'node_modules'}/applicationinsights/`))).toBe(false);
  });

  it('given a trigger batch, when projected, then events, writes and the lag of the oldest event are metrics without payloads', async () => {
    const { client, metrics } = recorder();
    const events = stored(aSessionOfEvents(anEnvelope({ orgId: 'org-a', sessionId: 's-1' }), '2026-07-01T10:00:00.000Z', 1));
    const handler = makeProjectorTriggerHandler({
      projection: sessionsProjection as never,
      readModelStore: async () => new MemoryReadModelStore(),
      eventLog: async () => new MemoryEventLog(),
      telemetry: () => telemetryOn(client),
      now: () => new Date('2026-07-01T10:00:10.000Z'),
    });
    const context = new InvocationContext({
      invocationId: 'i',
      functionName: 'project-sessions',
      logHandler: () => undefined,
      triggerMetadata: { enqueuedTimeUtcArray: ['2026-07-01T10:00:04.000Z', '2026-07-01T10:00:07.000Z', '2026-07-01T10:00:08.000Z'] },
    });
    await handler(events, context);
    expect(metrics).toEqual([
      { name: 'km.projector.events', value: 3, properties: { projector: 'sessions' } },
      { name: 'km.projector.documents_written', value: 1, properties: { projector: 'sessions' } },
      { name: 'km.projector.lag_ms', value: 6000, properties: { projector: 'sessions' } },
    ]);
  });
});
