import type { InvocationContext, Timer } from '@azure/functions';
import { BudgetWebhookDeliveries, type RetrySchedule } from '../budget-webhook-deliveries';
import type { DeliveryOptions } from '../budget-webhooks';
import type { Logger } from '../logger';
import type { ReadModelStore } from '../ports';
import { parseStoredEvent } from './stored-event';

export type BudgetWebhookTrigger = (messages: unknown[], context: InvocationContext) => Promise<void>;
export type BudgetWebhookRetryTimer = (timer: Timer, context: InvocationContext) => Promise<void>;

export interface BudgetWebhookTriggerOptions {
  /** Where deliveries are recorded (built on first use, as the projector triggers' store). */
  readModelStore: () => Promise<ReadModelStore>;
  now?: () => Date;
  retries?: RetrySchedule;
  delivery?: DeliveryOptions;
}

const contextLogger = (context: InvocationContext): Logger => ({ info: (m) => context.log(m), warn: (m) => context.warn(m), error: (m) => context.error(m) });

const deliveriesFor = async (options: BudgetWebhookTriggerOptions, context: InvocationContext) =>
  new BudgetWebhookDeliveries({
    store: await options.readModelStore(),
    logger: contextLogger(context),
    ...(options.now ? { now: options.now } : {}),
    ...(options.retries ? { schedule: options.retries } : {}),
    ...(options.delivery ? { delivery: options.delivery } : {}),
  });

/**
 * The cloud's budget notifier: an Event Hubs trigger on its own consumer group that calls the webhook of each
 * budget.threshold_crossed the cost projectors appended, as the embedded notifier does: each delivery is recorded,
 * a failed one retried by the retry timer below, a delivered one never sent again when the host hands the batch over
 * again. A store that cannot record is thrown, so the host retries the batch (its retry policy) rather than lose it.
 */
export function makeBudgetWebhookTrigger(options: BudgetWebhookTriggerOptions): BudgetWebhookTrigger {
  return async (messages, context) => {
    const deliveries = await deliveriesFor(options, context);
    for (const message of messages) {
      const parsed = parseStoredEvent(message);
      if (!parsed.ok || parsed.event.type !== 'budget.threshold_crossed' || !parsed.event.webhookUrl) continue;
      await deliveries.deliver(parsed.event);
    }
  };
}

/** The failed deliveries' retries in the cloud: every minute, those that are due (a timer runs on one instance at a time). */
export function makeBudgetWebhookRetryTimer(options: BudgetWebhookTriggerOptions): BudgetWebhookRetryTimer {
  return async (_timer, context) => {
    await (await deliveriesFor(options, context)).retryDue();
  };
}
