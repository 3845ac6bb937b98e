/**
 * Application Insights, only when APPLICATIONINSIGHTS_CONNECTION_STRING is set (applicationinsights v3 accepts a
 * setup without one and then throws on every track call). Requests and dependencies (HTTP, Event Hubs, Cosmos) are
 * collected by its OpenTelemetry instrumentations; these are our custom metrics. Nothing here carries a payload:
 * counts, durations and the projector's name only.
 */
export interface Telemetry {
  eventsIngested(count: number): void;
  eventsSent(events: number, bytes: number): void;
  projected(projector: string, result: { events: number; written: number; invalid: number }): void;
  /** How long the oldest event of a trigger batch waited in the hub: now - its enqueuedTimeUtc. */
  projectorLag(projector: string, milliseconds: number): void;
}

/** The slice of applicationinsights' TelemetryClient used here (tests pass a recorder). */
export interface MetricsClient {
  trackMetric(metric: { name: string; value: number; properties?: Record<string, string> }): void;
}

export const noTelemetry: Telemetry = {
  eventsIngested() {},
  eventsSent() {},
  projected() {},
  projectorLag() {},
};

export function telemetryOn(client: MetricsClient): Telemetry {
  return {
    eventsIngested: (count) => client.trackMetric({ name: 'km.events.ingested', value: count }),
    eventsSent: (events, bytes) => {
      client.trackMetric({ name: 'km.eventhubs.events_sent', value: events });
      client.trackMetric({ name: 'km.eventhubs.bytes_sent', value: bytes });
    },
    projected: (projector, result) => {
      client.trackMetric({ name: 'km.projector.events', value: result.events, properties: { projector } });
      client.trackMetric({ name: 'km.projector.documents_written', value: result.written, properties: { projector } });
      if (result.invalid > 0) client.trackMetric({ name: 'km.projector.invalid_events', value: result.invalid, properties: { projector } });
    },
    projectorLag: (projector, milliseconds) =>
      client.trackMetric({ name: 'km.projector.lag_ms', value: milliseconds, properties: { projector } }),
  };
}

let started: Telemetry | null = null;

/** Starts Application Insights once per worker when the connection string is set; otherwise records nothing. */
export function startTelemetry(env: NodeJS.ProcessEnv = process.env): Telemetry {
  if (started) return started;
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim();
  if (!connectionString) return (started = noTelemetry);
  // Loaded only when used: it brings OpenTelemetry and patches modules on start.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const appInsights = require('applicationinsights') as typeof import('applicationinsights');
  appInsights
    .setup(connectionString)
    .setAutoCollectRequests(true)
    .setAutoCollectDependencies(true)
    .setAutoCollectExceptions(true)
    .setAutoCollectConsole(false)
    .setSendLiveMetrics(false)
    .start();
  return (started = telemetryOn(appInsights.defaultClient));
}
