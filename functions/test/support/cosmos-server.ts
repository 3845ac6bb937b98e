import { CosmosClient } from '@azure/cosmos';
import { createHttpsServer } from '@vercel/cosmosdb-server';
import { Agent } from 'node:https';
import type { AddressInfo } from 'node:net';

/** The key @vercel/cosmosdb-server accepts (any base64 does); never a real account's. */
export const TEST_COSMOS_KEY = 'dGVzdA==';

export interface TestCosmos {
  endpoint: string;
  /** A client for the server; its self-signed certificate is accepted by this client only. */
  client(): CosmosClient;
  close(): Promise<void>;
}

/** A Cosmos-compatible HTTPS server on 127.0.0.1 and a free port, in this process (LOCAL-AZURE.md). */
export async function startTestCosmos(): Promise<TestCosmos> {
  const server = createHttpsServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const agents: Agent[] = [];
  return {
    endpoint,
    client() {
      const agent = new Agent({ rejectUnauthorized: false, keepAlive: true });
      agents.push(agent);
      return new CosmosClient({ endpoint, key: TEST_COSMOS_KEY, agent, connectionPolicy: { enableEndpointDiscovery: false } });
    },
    async close() {
      agents.forEach((agent) => agent.destroy());
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
