import { app } from '@azure/functions';
import { cloudEventLog, cloudReadModelStore, cloudTelemetry } from '../cloud-ports';
import { makeProjectorTriggerHandler, type ProjectorTriggerHandler } from '../handlers/project-events';
import { readModels } from '../read-models';

/**
 * One Event Hubs trigger per read model (read-models.ts), each on its own consumer group named after the read model,
 * so a slow or failing projector never holds the others back. One file for all of them rather than one per model:
 * a read model added to the list gets its trigger without a new file (infra/bicep declares the consumer groups; a
 * test checks both lists agree). Checkpoints are the host's (host.json); a failed batch is retried by the retry
 * policy, and replays are absorbed by the idempotent folds.
 */
export const projectorTriggers: Record<string, ProjectorTriggerHandler> = {};

for (const projection of readModels) {
  const name = `project-${projection.name}`;
  const handler = makeProjectorTriggerHandler({
    projection,
    readModelStore: cloudReadModelStore,
    eventLog: cloudEventLog,
    telemetry: cloudTelemetry,
    now: () => new Date(),
  });
  projectorTriggers[projection.name] = handler;
  app.eventHub(name, {
    connection: 'EventHubConnection',
    eventHubName: '%KM_EVENTHUB_NAME%',
    consumerGroup: projection.name,
    cardinality: 'many',
    // Cosmos DB unavailable: keep retrying this batch instead of letting the host checkpoint past it.
    retry: { strategy: 'exponentialBackoff', maxRetryCount: -1, minimumInterval: { seconds: 5 }, maximumInterval: { minutes: 5 } },
    handler: (messages, context) => handler(messages as unknown[], context),
  });
}
