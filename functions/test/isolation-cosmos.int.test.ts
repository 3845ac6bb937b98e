import { ApiKeyAuthenticator, hashApiKey } from '../src/adapters/api-key-authenticator';
import { CosmosReadModelStore } from '../src/adapters/cosmos-read-model-store';
import { MemoryEventLog } from '../src/adapters/memory-event-log';
import { auditSigner, newAuditKeyPem } from '../src/audit/audit-chain';
import { AUDIT_ARCHIVE_INDEXES, StoreOrgEventArchive } from '../src/adapters/store-org-event-archive';
import { fromEmbeddedLog, runProjectorOnce } from '../src/projector';
import { storedKeyLookup } from '../src/keys/key-directory';
import { readModelIndexes, readModels } from '../src/read-models';
import { httpRoutes } from '../src/routes';
import { askHandlers } from './contracts/api.contract';
import { testTenantIsolation } from './contracts/isolation.contract';
import { startTestCosmos } from './support/cosmos-server';

/**
 * The route table's handlers as the Functions host calls them, on the Cosmos adapter over @vercel/cosmosdb-server,
 * which ignores the partitionKey option: what keeps the tenants apart there is the WHERE clause and the item checks.
 */
testTenantIsolation('the Functions handlers over the Cosmos-compatible server', async () => {
  const cosmos = await startTestCosmos();
  const readModelStore = new CosmosReadModelStore({ client: cosmos.client(), databaseId: 'km-isolation', createIfMissing: true, indexes: [...readModelIndexes, ...AUDIT_ARCHIVE_INDEXES], ownsClient: true });
  const eventLog = new MemoryEventLog();
  // The audit route reads the cloud's archive, in the same Cosmos database: the memory log's positions stand in for
  // sequence numbers of one partition.
  const archive = new StoreOrgEventArchive(readModelStore);
  const [ownerKeyA, ownerKeyB] = ['km_test_owner_of_org_a', 'km_test_owner_of_org_b'];
  let batches = 0;
  const routes = httpRoutes({
    eventLog,
    readModelStore,
    authenticator: new ApiKeyAuthenticator(
      [
        { keyHash: hashApiKey(ownerKeyA), orgId: 'org-a' },
        { keyHash: hashApiKey(ownerKeyB), orgId: 'org-b' },
      ],
      { lookupKey: storedKeyLookup(readModelStore) },
    ),
    now: () => new Date(),
    newBatchId: () => `batch-${++batches}`,
    auditSigner: auditSigner(newAuditKeyPem()),
    orgEvents: archive,
  });
  return {
    ownerKeyA,
    ownerKeyB,
    ask: (key, route, params = {}, body) => askHandlers(routes, key, route, params, body),
    async projected(ready) {
      for (const model of readModels) while ((await runProjectorOnce(model, eventLog, readModelStore, 500)) > 0);
      await archive.archive(fromEmbeddedLog(await eventLog.read(0, 100_000)));
      if (!(await ready())) throw new Error('the projectors did not fold the seeded events');
    },
    async close() {
      await readModelStore.close();
      await cosmos.close();
    },
  };
});
