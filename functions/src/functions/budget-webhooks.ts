import { app } from '@azure/functions';
import { BUDGET_WEBHOOKS } from '../budget-webhooks';
import { cloudReadModelStore } from '../cloud-ports';
import { makeBudgetWebhookRetryTimer, makeBudgetWebhookTrigger } from '../handlers/budget-webhook-trigger';

/** Budget alerts in the cloud: its own consumer group, so a slow webhook never delays a projector. */
export const budgetWebhookTrigger = makeBudgetWebhookTrigger({ readModelStore: cloudReadModelStore });

/** Every minute (NCRONTAB, with seconds): a failed delivery's retries are at least 30 s and at most 5 minutes apart. */
export const BUDGET_WEBHOOK_RETRY_SCHEDULE = '0 * * * * *';

export const budgetWebhookRetryTimer = makeBudgetWebhookRetryTimer({ readModelStore: cloudReadModelStore });

app.eventHub(BUDGET_WEBHOOKS, {
  connection: 'EventHubConnection',
  eventHubName: '%KM_EVENTHUB_NAME%',
  consumerGroup: BUDGET_WEBHOOKS,
  cardinality: 'many',
  // Cosmos DB unavailable: keep retrying this batch instead of letting the host checkpoint past its alerts.
  retry: { strategy: 'exponentialBackoff', maxRetryCount: -1, minimumInterval: { seconds: 5 }, maximumInterval: { minutes: 5 } },
  handler: (messages, context) => budgetWebhookTrigger(messages as unknown[], context),
});

app.timer(`${BUDGET_WEBHOOKS}-retries`, { schedule: BUDGET_WEBHOOK_RETRY_SCHEDULE, handler: (timer, context) => budgetWebhookRetryTimer(timer, context) });
