import { ApiKeyAuthenticator, hashApiKey } from '../src/adapters/api-key-authenticator';
import { MemoryEventLog } from '../src/adapters/memory-event-log';
import { auditSigner, newAuditKeyPem } from '../src/audit/audit-chain';
import { orgEventsOfLog } from '../src/adapters/log-org-events';
import { MemoryReadModelStore } from '../src/adapters/memory-read-model-store';
import { runProjectorOnce } from '../src/projector';
import { readModels } from '../src/read-models';
import { httpRoutes } from '../src/routes';
import { askHandlers, testApiContract } from './contracts/api.contract';

const KEY = 'key-of-org-a';

/** The route table's handlers as the Functions host calls them (Azure's HttpRequest), on the in-memory adapters. */
testApiContract('the Functions handlers', async () => {
  const eventLog = new MemoryEventLog();
  const readModelStore = new MemoryReadModelStore();
  let batches = 0;
  const routes = httpRoutes({
    eventLog,
    readModelStore,
    authenticator: new ApiKeyAuthenticator([{ keyHash: hashApiKey(KEY), orgId: 'org-a' }]),
    now: () => new Date(),
    newBatchId: () => `batch-${++batches}`,
    auditSigner: auditSigner(newAuditKeyPem()),
    orgEvents: orgEventsOfLog(eventLog),
  });
  return {
    orgId: 'org-a',
    ask: (route, params, body) => askHandlers(routes, KEY, route, params, body),
    async projected(ready) {
      for (const model of readModels) while ((await runProjectorOnce(model, eventLog, readModelStore, 500)) > 0);
      if (!(await ready())) throw new Error('the projectors did not fold the seeded events');
    },
    async close() {},
  };
});
