import type { BudgetThresholdCrossed } from '@km/shared';
import { describeError, type Logger } from './logger';
import { startSerialRunner, type Scheduler, type SerialRunner } from './host/serial-runner';
import { typedPage, type EventLog } from './ports';

/** The log consumer's name: its checkpoint sits next to the projectors'. */
export const BUDGET_WEBHOOKS = 'budget-webhooks';

/** Cents for real money, more digits for the fractions of a cent small budgets deal in. */
const usd = (value: number) => `$${value >= 1 ? value.toFixed(2) : value.toPrecision(2)}`;

/**
 * One body both Slack and Microsoft Teams accept: Slack incoming webhooks read `text`; Teams connectors read the
 * legacy MessageCard fields (`@type`, `summary`, `title`, `sections`) and also show `text`.
 */
export function budgetWebhookBody(event: BudgetThresholdCrossed) {
  const scope = event.scope === 'org' ? `org ${event.orgId}` : event.scope === 'team' ? `team ${event.teamId} (org ${event.orgId})` : `project ${event.projectId} (org ${event.orgId})`;
  const text = `km budget: ${scope} reached ${event.threshold}% of its $${event.monthlyUsd} monthly budget for ${event.period} (${usd(event.spentUsd)} spent).`;
  return {
    text,
    '@type': 'MessageCard',
    '@context': 'https://schema.org/extensions',
    summary: text,
    themeColor: event.threshold >= 100 ? 'D13438' : event.threshold >= 80 ? 'FFAA44' : '0078D7',
    title: `Budget ${event.threshold}% reached`,
    sections: [
      {
        facts: [
          { name: 'Scope', value: scope },
          { name: 'Period', value: event.period },
          { name: 'Spent (USD)', value: event.spentUsd.toFixed(4) },
          { name: 'Budget (USD)', value: String(event.monthlyUsd) },
        ],
      },
    ],
    km: { eventId: event.id, orgId: event.orgId, scope: event.scope, projectId: event.projectId, teamId: event.teamId ?? null, period: event.period, threshold: event.threshold },
  };
}

export interface DeliveryOptions {
  fetch?: typeof fetch;
  /** Attempts in all, the first included. */
  attempts?: number;
  /** Delay before the second attempt; doubled each time after. */
  baseDelayMs?: number;
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Aborts the delivery between or during attempts (the notifier stopping). */
  signal?: AbortSignal;
}

/** POSTs the body with retries and exponential backoff. A 4xx other than 408/429 is final: retrying cannot fix it. */
export async function deliverWebhook(
  url: string,
  body: unknown,
  options: DeliveryOptions = {},
): Promise<{ ok: boolean; attempts: number; error?: string; aborted?: boolean }> {
  const { fetch: doFetch = fetch, attempts = 4, baseDelayMs = 500, timeoutMs = 10_000, signal } = options;
  const sleep = options.sleep ?? ((ms: number) => abortableDelay(ms, signal));
  let error = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (signal?.aborted) return { ok: false, attempts: attempt - 1, error: 'stopped', aborted: true };
    try {
      const timeout = AbortSignal.timeout(timeoutMs);
      const res = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
      });
      if (res.ok) return { ok: true, attempts: attempt };
      error = `answered ${res.status}`;
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) return { ok: false, attempts: attempt, error };
    } catch (err) {
      error = (err as Error).message;
    }
    if (attempt < attempts) await sleep(baseDelayMs * 2 ** (attempt - 1));
  }
  if (signal?.aborted) return { ok: false, attempts, error: 'stopped', aborted: true };
  return { ok: false, attempts, error };
}

function abortableDelay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    // Stopped before the wait began (during the attempt): an abort event already fired never fires again.
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * A failed delivery in words an operator can act on: which budget and threshold, the webhook's host (its path is a
 * secret: a Slack or Teams webhook URL is its own credential), the attempts and the last error; it is not sent again.
 */
export function describeFailedWebhook(event: BudgetThresholdCrossed, result: { attempts: number; error?: string }): string {
  const scope = event.scope === 'org' ? `the org's budget` : event.scope === 'team' ? `team ${event.teamId}'s budget` : `project ${event.projectId}'s budget`;
  let host = 'an unreadable URL';
  try {
    host = new URL(event.webhookUrl ?? '').host;
  } catch {
    // said as it is
  }
  return `budget webhook to ${host} for ${scope} of org "${event.orgId}" (${event.threshold}% of $${event.monthlyUsd} in ${event.period}, event ${event.id}) failed after ${result.attempts} attempt(s): ${result.error ?? 'no answer'}; it is not sent again`;
}

export interface BudgetNotifierOptions extends DeliveryOptions {
  log: EventLog;
  logger: Logger;
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
 * a slow or failing webhook delays only other webhooks, never a projection. Failures are logged and skipped
 * (at least once delivery up to the checkpoint; the body carries the event id for receivers that dedupe).
 */
export function startBudgetNotifier(options: BudgetNotifierOptions): BudgetNotifier {
  const { log, logger, intervalMs = 1000, maxBatch = 500, maxBackoffMs = BUDGET_NOTIFIER_MAX_BACKOFF_MS } = options;
  // Stopping cuts a delivery short (km serve must exit promptly); its checkpoint stays, so the next start retries it.
  const stopping = new AbortController();

  const runOnce = async (stopped: () => boolean): Promise<number> => {
    const checkpoint = await log.getCheckpoint(BUDGET_WEBHOOKS);
    // Only the budget events, the others passed over (unread where the log can: readType).
    const page = await typedPage(log, checkpoint, maxBatch, 'budget.threshold_crossed');
    // The checkpoint moves after each delivery and at the end of the page, not after every event: a commit per
    // event was most of this consumer's cost, and the events between deliveries are skipped either way.
    for (const { position, event } of page.events) {
      if (stopped()) return 0;
      if (event.type === 'budget.threshold_crossed' && event.webhookUrl) {
        const result = await deliverWebhook(event.webhookUrl, budgetWebhookBody(event), { ...options, signal: stopping.signal });
        if (result.aborted) return 0;
        if (!result.ok) logger.warn(describeFailedWebhook(event, result));
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
    },
    // Once per outage, not once per try: the log cannot be read, and every retry would say the same.
    onFailure: (error, { consecutive }) => {
      if (consecutive > 1) return;
      logger.error(`budget notifier failed; retrying with backoff up to ${maxBackoffMs / 1000} s, logged again once it recovers: ${describeError(error)}`);
    },
    onRecovery: (failedRuns) => logger.info(`budget notifier recovered after ${failedRuns} failed run(s)`),
  });
}
