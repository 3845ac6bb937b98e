import type { BudgetThresholdCrossed } from '@km/shared';
import { budgetWebhookBody, deliverWebhook, describeFailedWebhook, describeWebhook, type DeliveryOptions } from './budget-webhooks';
import type { Logger } from './logger';
import { ConcurrencyError, type ReadModelStore } from './ports';

/** Where each threshold's delivery is recorded (a Cosmos container of its own, with a TTL: infra/bicep/modules/cosmos.bicep). */
export const BUDGET_WEBHOOKS_MODEL = 'budgetWebhooks';
/**
 * Every org's deliveries in one partition, so the retry pass finds the due ones without knowing the orgs; `#` cannot
 * start an org id. They are few: three thresholds a budget a month.
 */
const PARTITION = '#deliveries';
/** The retry pass's one query: the pending deliveries, soonest due first. */
export const BUDGET_WEBHOOK_INDEXES: ReadonlyArray<{ model: string; fields: string[] }> = [{ model: BUDGET_WEBHOOKS_MODEL, fields: ['state', 'nextAttemptAt'] }];

export interface RetrySchedule {
  /** The wait after the first failed burst of attempts; doubled after each failed retry, up to maxDelayMs. */
  firstDelayMs: number;
  maxDelayMs: number;
  /** How long after its first failure a delivery is still retried; then it is given up, and the log says so. */
  giveUpAfterMs: number;
}

export const BUDGET_WEBHOOK_RETRIES: RetrySchedule = { firstDelayMs: 30_000, maxDelayMs: 5 * 60_000, giveUpAfterMs: 24 * 60 * 60_000 };

/**
 * How long a delivery being attempted is its attempter's: longer than a burst of attempts can take (4 timeouts of
 * 10 s and the waits between). One that crashed mid-attempt is retried once it has passed.
 */
const CLAIM_MS = 2 * 60_000;
/** Due deliveries attempted per pass; the rest wait for the next pass. */
const RETRIES_PER_PASS = 50;

interface DeliveryDoc {
  event: BudgetThresholdCrossed;
  /** delivered and gave-up are final: the record stays so a replay of the event is not sent again. */
  state: 'pending' | 'delivered' | 'gave-up';
  /** POSTs made so far. */
  attempts: number;
  /** Failed tries after the first burst: the backoff's exponent. */
  retries: number;
  firstFailedAt: string | null;
  /** When a pending delivery may be tried (again): the retry's time, or the end of an attempter's claim. */
  nextAttemptAt: string;
  lastError: string | null;
}

export type DeliveryOutcome = 'delivered' | 'pending' | 'gave-up' | 'known' | 'stopped';

export interface BudgetWebhookDeliveriesOptions {
  store: ReadModelStore;
  logger: Logger;
  now?: () => Date;
  schedule?: RetrySchedule;
  /** How each attempt is made (fetch, timeouts, the first burst's attempts and waits). */
  delivery?: DeliveryOptions;
}

/**
 * Each threshold's webhook, delivered at least once: the delivery is recorded before it is attempted, so a
 * failed one is retried with backoff (across restarts: the record is in the store) until it succeeds or is given up
 * a day after its first failure, and a delivered one is never sent again, however often its event is read. The
 * record is claimed with its ETag before each attempt, so two notifiers (two Functions instances, a replay) never
 * send it at once.
 */
export class BudgetWebhookDeliveries {
  private readonly store: ReadModelStore;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly schedule: RetrySchedule;
  private readonly delivery: DeliveryOptions;

  constructor(options: BudgetWebhookDeliveriesOptions) {
    this.store = options.store;
    this.logger = options.logger;
    this.now = options.now ?? (() => new Date());
    this.schedule = options.schedule ?? BUDGET_WEBHOOK_RETRIES;
    this.delivery = options.delivery ?? {};
  }

  /** A threshold event read from the log: delivered now unless a record says it was seen before ('known'). */
  async deliver(event: BudgetThresholdCrossed, signal?: AbortSignal): Promise<DeliveryOutcome> {
    if (!event.webhookUrl) return 'known';
    const claimed: DeliveryDoc = { event, state: 'pending', attempts: 0, retries: 0, firstFailedAt: null, nextAttemptAt: this.at(CLAIM_MS), lastError: null };
    let etag: string;
    try {
      etag = await this.store.upsert(BUDGET_WEBHOOKS_MODEL, PARTITION, deliveryId(event), claimed, null);
    } catch (error) {
      if (error instanceof ConcurrencyError) return 'known';
      throw error;
    }
    return this.attempt(claimed, etag, this.delivery.attempts, signal);
  }

  /** Retries the pending deliveries that are due, one attempt each; returns how many it tried. */
  async retryDue(signal?: AbortSignal): Promise<number> {
    const due = await this.store.query<DeliveryDoc>(BUDGET_WEBHOOKS_MODEL, PARTITION, {
      where: { state: 'pending' },
      orderBy: 'nextAttemptAt',
      between: { to: this.at(0) },
      limit: RETRIES_PER_PASS,
    });
    let tried = 0;
    for (const { event } of due) {
      if (signal?.aborted) break;
      const stored = await this.store.get<DeliveryDoc>(BUDGET_WEBHOOKS_MODEL, PARTITION, deliveryId(event));
      if (!stored || stored.doc.state !== 'pending' || stored.doc.nextAttemptAt > this.at(0)) continue;
      const claimed = { ...stored.doc, nextAttemptAt: this.at(CLAIM_MS) };
      const etag = await this.write(claimed, stored.etag);
      if (etag === null) continue; // another notifier claimed it first
      tried++;
      if ((await this.attempt(claimed, etag, 1, signal)) === 'stopped') break;
    }
    return tried;
  }

  private async attempt(doc: DeliveryDoc, etag: string, attempts: number | undefined, signal: AbortSignal | undefined): Promise<DeliveryOutcome> {
    const { event } = doc;
    const result = await deliverWebhook(event.webhookUrl!, budgetWebhookBody(event), { ...this.delivery, ...(attempts ? { attempts } : {}), ...(signal ? { signal } : {}) });
    if (result.aborted) {
      // Stopping (km serve exiting): the claim is given back, so the next start tries it at once.
      await this.write({ ...doc, nextAttemptAt: this.at(0) }, etag);
      return 'stopped';
    }
    const sent = { ...doc, attempts: doc.attempts + result.attempts };
    if (result.ok) {
      await this.write({ ...sent, state: 'delivered', nextAttemptAt: this.at(0) }, etag);
      if (doc.firstFailedAt) this.logger.info(`${describeWebhook(event)} delivered at attempt ${sent.attempts}, after failing since ${doc.firstFailedAt}`);
      return 'delivered';
    }
    const failed = { ...sent, firstFailedAt: doc.firstFailedAt ?? this.at(0), lastError: result.error ?? 'no answer' };
    const deadline = new Date(Date.parse(failed.firstFailedAt) + this.schedule.giveUpAfterMs).toISOString();
    if (result.final || this.at(0) >= deadline) {
      await this.write({ ...failed, state: 'gave-up', nextAttemptAt: this.at(0) }, etag);
      const why = result.final ? 'retrying cannot fix that' : `retried since ${failed.firstFailedAt}, for ${this.schedule.giveUpAfterMs / 3600_000} h`;
      this.logger.error(describeFailedWebhook(event, { attempts: failed.attempts, error: failed.lastError }, `${why}: gave up, it is not sent again`));
      return 'gave-up';
    }
    const delayMs = Math.min(this.schedule.maxDelayMs, this.schedule.firstDelayMs * 2 ** doc.retries);
    await this.write({ ...failed, retries: doc.retries + 1, nextAttemptAt: this.at(delayMs) }, etag);
    if (!doc.firstFailedAt) {
      const then = `retrying with backoff (at most ${this.schedule.maxDelayMs / 60_000} min apart) until ${deadline}`;
      this.logger.warn(describeFailedWebhook(event, { attempts: failed.attempts, error: failed.lastError }, then));
    }
    return 'pending';
  }

  /** Writes the record if it is still as read (etag); null when another notifier changed it meanwhile. */
  private async write(doc: DeliveryDoc, etag: string): Promise<string | null> {
    try {
      return await this.store.upsert(BUDGET_WEBHOOKS_MODEL, PARTITION, deliveryId(doc.event), doc, etag);
    } catch (error) {
      if (error instanceof ConcurrencyError) return null;
      throw error;
    }
  }

  private at(fromNowMs: number): string {
    return new Date(this.now().getTime() + fromNowMs).toISOString();
  }
}

/** The threshold event's id is derived from (org, scope, period, threshold): one delivery per threshold crossed. */
const deliveryId = (event: BudgetThresholdCrossed) => `${event.orgId}|${event.id}`;
