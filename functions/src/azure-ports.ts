import { CosmosClient, type CosmosClientOptions } from '@azure/cosmos';
import { EventHubProducerClient } from '@azure/event-hubs';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import type { Agent } from 'node:https';
import { CosmosReadModelStore } from './adapters/cosmos-read-model-store';
import { EventHubsEventLog } from './adapters/event-hubs-event-log';
import { AUDIT_ARCHIVE_INDEXES } from './adapters/store-org-event-archive';
import type { AzureSettings } from './azure-settings';
import type { AppendResult, EventLog, ReadModelStore } from './ports';
import { readModelIndexes } from './read-models';
import { BUDGET_WEBHOOK_INDEXES } from './budget-webhook-deliveries';
import type { Telemetry } from './telemetry';

/** Test seams only: the self-signed Cosmos-compatible test server, and no waiting on SDK retries. */
export interface AzureClientOverrides {
  cosmosAgent?: Agent;
  eventHubsRetries?: number;
  credential?: TokenCredential;
}

export interface AzurePorts {
  eventLog: EventLog;
  readModelStore: ReadModelStore;
  close(): Promise<void>;
}

/**
 * The cloud adapters from settings: managed identity in Azure (DefaultAzureCredential), keys only in local
 * development (KM_AZURE_AUTH=keys, which also lets the store create its database and containers).
 */
export function openAzurePorts(settings: AzureSettings, telemetry: Telemetry, overrides: AzureClientOverrides = {}): AzurePorts {
  let credential: TokenCredential | null = overrides.credential ?? null;
  const identity = () => (credential ??= new DefaultAzureCredential());
  const retryOptions = overrides.eventHubsRetries === undefined ? {} : { retryOptions: { maxRetries: overrides.eventHubsRetries } };
  const producer = settings.eventHubs.connectionString
    ? new EventHubProducerClient(settings.eventHubs.connectionString, settings.eventHubName, retryOptions)
    : new EventHubProducerClient(settings.eventHubs.fullyQualifiedNamespace!, settings.eventHubName, identity(), retryOptions);
  const cosmosOptions: CosmosClientOptions = {
    endpoint: settings.cosmos.endpoint,
    ...(settings.cosmos.key ? { key: settings.cosmos.key } : { aadCredentials: identity() }),
    ...(overrides.cosmosAgent ? { agent: overrides.cosmosAgent, connectionPolicy: { enableEndpointDiscovery: false } } : {}),
  };
  const eventLog = new EventHubsEventLog(producer, { ownsProducer: true, onBatchSent: (events, bytes) => telemetry.eventsSent(events, bytes) });
  const readModelStore = new CosmosReadModelStore({
    client: new CosmosClient(cosmosOptions),
    databaseId: settings.cosmos.databaseId,
    createIfMissing: settings.auth === 'keys',
    indexes: [...readModelIndexes, ...AUDIT_ARCHIVE_INDEXES, ...BUDGET_WEBHOOK_INDEXES],
    ownsClient: true,
  });
  return {
    eventLog: countingEventLog(eventLog, telemetry),
    readModelStore,
    async close() {
      await Promise.allSettled([eventLog.close(), readModelStore.close()]);
    },
  };
}

/** The log as ingest sees it, counting what was accepted (km.events.ingested). */
function countingEventLog(log: EventLog, telemetry: Telemetry): EventLog {
  return {
    append: async (events): Promise<AppendResult> => {
      const result = await log.append(events);
      telemetry.eventsIngested(result.appended);
      return result;
    },
    read: (after, max) => log.read(after, max),
    getCheckpoint: (projector) => log.getCheckpoint(projector),
    setCheckpoint: (projector, position) => log.setCheckpoint(projector, position),
    close: () => log.close(),
  };
}
