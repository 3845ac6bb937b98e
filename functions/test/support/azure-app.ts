import { Agent } from 'node:https';
import { loadFunctionsAppWithTriggers, type RecordedEventHubFunction, type RecordedHttpFunction, type RecordedTimerFunction } from '../azure-registrations';
import { startTestCosmos, TEST_COSMOS_KEY, type TestCosmos } from './cosmos-server';
import { startTestEventHubsBroker, type TestEventHubsBroker } from './event-hubs-broker';

export interface AzureApp {
  broker: TestEventHubsBroker;
  cosmos: TestCosmos;
  http: RecordedHttpFunction[];
  triggers: RecordedEventHubFunction[];
  timers: RecordedTimerFunction[];
  /** Closes the app's clients and both servers, and puts the environment back. */
  close(): Promise<void>;
}

/**
 * The Functions app on KM_STORAGE=azure as the host would load it, against the test Event Hubs broker and the
 * Cosmos-compatible server: both started, the app's settings in the environment (`settings` added to them), every
 * registration recorded. Call it from beforeAll; close() from afterAll.
 */
export async function startAzureApp(hub: string, database: string, settings: Record<string, string>): Promise<AzureApp> {
  const saved = { ...process.env };
  const agent = new Agent({ rejectUnauthorized: false, keepAlive: true });
  const [broker, cosmos] = await Promise.all([startTestEventHubsBroker({ partitionCount: 2 }), startTestCosmos()]);
  Object.assign(process.env, {
    KM_STORAGE: 'azure',
    KM_AZURE_AUTH: 'keys',
    EventHubConnection: broker.connectionString(),
    KM_EVENTHUB_NAME: hub,
    KM_COSMOS_ENDPOINT: cosmos.endpoint,
    KM_COSMOS_DATABASE: database,
    KM_COSMOS_KEY: TEST_COSMOS_KEY,
    ...settings,
  });
  delete process.env.APPLICATIONINSIGHTS_CONNECTION_STRING;
  let loaded!: ReturnType<typeof loadFunctionsAppWithTriggers>;
  let closeCloudPorts!: () => Promise<void>;
  jest.isolateModules(() => {
    loaded = loadFunctionsAppWithTriggers();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const cloudPorts = require('../../src/cloud-ports') as typeof import('../../src/cloud-ports');
    cloudPorts.setAzureClientOverridesForTests({ cosmosAgent: agent, eventHubsRetries: 0 });
    closeCloudPorts = cloudPorts.closeCloudPorts;
  });
  return {
    broker,
    cosmos,
    http: loaded.http,
    triggers: loaded.eventHub,
    timers: loaded.timer,
    async close() {
      await closeCloudPorts();
      agent.destroy();
      await Promise.all([broker.close(), cosmos.close()]);
      process.env = saved;
      jest.restoreAllMocks();
    },
  };
}
