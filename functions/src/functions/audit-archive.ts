import { app } from '@azure/functions';
import { cloudOrgEventArchive, cloudReadModelStore } from '../cloud-ports';
import { AUDIT_ARCHIVE, makeArchiveTriggerHandler } from '../handlers/archive-events';

/**
 * Every event into the audit archive in Cosmos DB (adapters/store-org-event-archive.ts), on its own consumer group
 * like the projectors, so the audit export and the retention sweep can read an org's events back, which Event Hubs
 * cannot do.
 */
export const auditArchiveTrigger = makeArchiveTriggerHandler({ readModelStore: cloudReadModelStore, archive: cloudOrgEventArchive });

app.eventHub(AUDIT_ARCHIVE, {
  connection: 'EventHubConnection',
  eventHubName: '%KM_EVENTHUB_NAME%',
  consumerGroup: AUDIT_ARCHIVE,
  cardinality: 'many',
  // Cosmos DB unavailable: keep retrying this batch; checkpointing past it would leave a hole in every chain.
  retry: { strategy: 'exponentialBackoff', maxRetryCount: -1, minimumInterval: { seconds: 5 }, maximumInterval: { minutes: 5 } },
  handler: (messages, context) => auditArchiveTrigger(messages as unknown[], context),
});
