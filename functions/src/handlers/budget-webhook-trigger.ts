import type { InvocationContext } from '@azure/functions';
import { budgetWebhookBody, deliverWebhook, describeFailedWebhook, type DeliveryOptions } from '../budget-webhooks';
import { parseStoredEvent } from './stored-event';

export type BudgetWebhookTrigger = (messages: unknown[], context: InvocationContext) => Promise<void>;

/**
 * The cloud's budget notifier: an Event Hubs trigger on its own consumer group that calls the webhook of each
 * budget.threshold_crossed the cost projectors appended. Like the embedded notifier, a failing webhook is logged
 * and skipped, never retried forever, and never holds up a projection (delivery is at least once: receivers can
 * dedupe on the threshold event's id, which is derived and stable).
 */
export function makeBudgetWebhookTrigger(options: DeliveryOptions = {}): BudgetWebhookTrigger {
  return async (messages, context) => {
    for (const message of messages) {
      const parsed = parseStoredEvent(message);
      if (!parsed.ok || parsed.event.type !== 'budget.threshold_crossed' || !parsed.event.webhookUrl) continue;
      const event = parsed.event;
      const result = await deliverWebhook(event.webhookUrl!, budgetWebhookBody(event), options);
      if (!result.ok) context.warn(describeFailedWebhook(event, result));
    }
  };
}
