import { app } from '@azure/functions';
import { BUDGET_WEBHOOKS } from '../budget-webhooks';
import { makeBudgetWebhookTrigger } from '../handlers/budget-webhook-trigger';

/** Budget alerts in the cloud: its own consumer group, so a slow webhook never delays a projector. */
export const budgetWebhookTrigger = makeBudgetWebhookTrigger();

app.eventHub(BUDGET_WEBHOOKS, {
  connection: 'EventHubConnection',
  eventHubName: '%KM_EVENTHUB_NAME%',
  consumerGroup: BUDGET_WEBHOOKS,
  cardinality: 'many',
  handler: (messages, context) => budgetWebhookTrigger(messages as unknown[], context),
});
