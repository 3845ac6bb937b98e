import { BUDGET_WEBHOOKS } from '../budget-webhooks';
import { BudgetWebhookDeliveries, type RetrySchedule } from '../budget-webhook-deliveries';
import type { DeliveryOptions } from '../budget-webhooks';
import { describeError, type Logger } from '../logger';
import { typedPage, type EventLog, type ReadModelStore } from '../ports';
import { startSerialRunner, type Scheduler, type SerialRunner } from './serial-runner';

export interface BudgetNotifierOptions extends DeliveryOptions {
  log: EventLog;
  /** Where each delivery is recorded, so a failed one is retried, also after a restart. */
  store: ReadModelStore;
  logger: Logger;
  now?: () => Date;
  /** The retries of a failed delivery (default BUDGET_WEBHOOK_RETRIES). */
  retries?: RetrySchedule;
  intervalMs?: number;
  maxBatch?: number;
  /** The longest wait between runs while the log itself fails (a full disk, a store that is down). */
  maxBackoffMs?: number;
  scheduler?: Scheduler;
}

export type BudgetNotifier = SerialRunner;

export const BUDGET_NOTIFIER_MAX_BACKOFF_MS = 5 * 60_000;

/**
 * Calls the budget webhooks for budget.threshold_crossed events, as its own log consumer with its own checkpoint:
 * a slow or failing webhook delays only other webhooks, never a projection. A failed delivery is recorded and
 * retried by each run once due (BudgetWebhookDeliveries), so the checkpoint moves on without losing it.
 */
export function startBudgetNotifier(options: BudgetNotifierOptions): BudgetNotifier {
  const { log, store, logger, now, retries, intervalMs = 1000, maxBatch = 500, maxBackoffMs = BUDGET_NOTIFIER_MAX_BACKOFF_MS } = options;
  // Stopping cuts a delivery short (km serve must exit promptly); its checkpoint stays, so the next start retries it.
  const stopping = new AbortController();
  const deliveries = new BudgetWebhookDeliveries({ store, logger, ...(now ? { now } : {}), ...(retries ? { schedule: retries } : {}), delivery: options });

  const runOnce = async (stopped: () => boolean): Promise<number> => {
    const checkpoint = await log.getCheckpoint(BUDGET_WEBHOOKS);
    // Only the budget events, the others passed over (unread where the log can: readType).
    const page = await typedPage(log, checkpoint, maxBatch, 'budget.threshold_crossed');
    // The checkpoint moves after each delivery and at the end of the page, not after every event: a commit per
    // event was most of this consumer's cost, and the events between deliveries are skipped either way.
    for (const { position, event } of page.events) {
      if (stopped()) return 0;
      if (event.type === 'budget.threshold_crossed' && event.webhookUrl) {
        if ((await deliveries.deliver(event, stopping.signal)) === 'stopped') return 0;
        await log.setCheckpoint(BUDGET_WEBHOOKS, position);
      }
    }
    if (page.through !== checkpoint && !stopped()) await log.setCheckpoint(BUDGET_WEBHOOKS, page.through);
    return stopped() ? 0 : page.looked;
  };

  return startSerialRunner({
    intervalMs,
    maxBackoffMs,
    ...(options.scheduler ? { scheduler: options.scheduler } : {}),
    onStop: () => stopping.abort(),
    run: async (stopped) => {
      while (!stopped() && (await runOnce(stopped)) >= maxBatch);
      if (!stopped()) await deliveries.retryDue(stopping.signal);
    },
    // Once per outage, not once per try: the log cannot be read, and every retry would say the same.
    onFailure: (error, { consecutive }) => {
      if (consecutive > 1) return;
      logger.error(`budget notifier failed; retrying with backoff up to ${maxBackoffMs / 1000} s, logged again once it recovers: ${describeError(error)}`);
    },
    onRecovery: (failedRuns) => logger.info(`budget notifier recovered after ${failedRuns} failed run(s)`),
  });
}
