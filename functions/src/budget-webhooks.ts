import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { urlHasCredentials, type BudgetThresholdCrossed } from '@km/shared';
import { privateHostOf, privateWebhooksAllowed, publicOnlyLookup } from './webhook-destination';

/** The log consumer's name: its checkpoint sits next to the projectors'. */
export const BUDGET_WEBHOOKS = 'budget-webhooks';

/**
 * Cents for real money, three significant digits for the fractions of a cent small budgets deal in, rounded down:
 * rounded to nearest, $0.0299 of a $0.03 budget read "$0.030" (and $9.999 of $10 "$10.00"), as if it were all spent.
 */
function usd(value: number): string {
  if (!(value > 0)) return '$0.00';
  const decimals = value >= 1 ? 2 : 2 - Math.floor(Math.log10(value));
  const factor = 10 ** decimals;
  // The small epsilon keeps a float just under a whole step (0.29999999...) from dropping a digit.
  return `$${(Math.floor(value * factor * (1 + 1e-12)) / factor).toFixed(decimals)}`;
}

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
          // Rounded down as the text is: rounded to nearest, "$0.0870 spent" stood beside "0.0871".
          { name: 'Spent (USD)', value: (Math.floor(event.spentUsd * 1e4 * (1 + 1e-12)) / 1e4).toFixed(4) },
          { name: 'Budget (USD)', value: String(event.monthlyUsd) },
        ],
      },
    ],
    km: { eventId: event.id, orgId: event.orgId, scope: event.scope, projectId: event.projectId, teamId: event.teamId ?? null, period: event.period, threshold: event.threshold },
  };
}

export interface DeliveryOptions {
  /** Tests only: how the POST is made (by default node's http, with the destination checked as it connects). */
  fetch?: typeof fetch;
  /** Loopback and private destinations too (default: KM_WEBHOOK_ALLOW_PRIVATE=true; webhook-destination.ts). */
  allowPrivate?: boolean;
  /** Attempts in all, the first included. */
  attempts?: number;
  /** Delay before the second attempt; doubled each time after. */
  baseDelayMs?: number;
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Aborts the delivery between or during attempts (the notifier stopping). */
  signal?: AbortSignal;
}

export interface DeliveryResult {
  ok: boolean;
  attempts: number;
  error?: string;
  /** The receiver refused it in a way no retry fixes (a 4xx other than 408/429). */
  final?: boolean;
  aborted?: boolean;
}

/** POSTs the body with retries and exponential backoff. A 4xx other than 408/429 is final: retrying cannot fix it. */
export async function deliverWebhook(
  url: string,
  body: unknown,
  options: DeliveryOptions = {},
): Promise<DeliveryResult> {
  const { attempts = 4, baseDelayMs = 500, timeoutMs = 10_000, signal, allowPrivate = privateWebhooksAllowed() } = options;
  const sleep = options.sleep ?? ((ms: number) => abortableDelay(ms, signal));
  // Older budget.set events may name one (the API refuses them now): it is not sent as basic auth to anyone.
  if (urlHasCredentials(url)) return { ok: false, attempts: 0, error: 'a webhook URL with a user or password is not called: set the budget again with the secret in its path', final: true };
  const privateHost = allowPrivate ? null : privateHostOf(url);
  if (privateHost) return { ok: false, attempts: 0, error: `${privateHost}: km does not call webhooks there unless KM_WEBHOOK_ALLOW_PRIVATE=true`, final: true };
  const text = JSON.stringify(body);
  let error = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (signal?.aborted) return { ok: false, attempts: attempt - 1, error: 'stopped', aborted: true };
    try {
      const timeout = AbortSignal.timeout(timeoutMs);
      const status = await post(url, text, signal ? AbortSignal.any([timeout, signal]) : timeout, allowPrivate, options.fetch);
      if (status >= 200 && status < 300) return { ok: true, attempts: attempt };
      error = `answered ${status}`;
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) return { ok: false, attempts: attempt, error, final: true };
    } catch (err) {
      error = requestError(err);
      // A name that resolves to a private address is not retried: it would resolve there again.
      if ((err as { code?: unknown }).code === 'EKMPRIVATE') return { ok: false, attempts: attempt, error, final: true };
    }
    if (attempt < attempts) await sleep(baseDelayMs * 2 ** (attempt - 1));
  }
  if (signal?.aborted) return { ok: false, attempts, error: 'stopped', aborted: true };
  return { ok: false, attempts, error };
}

/** One POST; its status. Redirects are not followed: a receiver cannot send km on to another address. */
function post(url: string, body: string, signal: AbortSignal, allowPrivate: boolean, viaFetch: typeof fetch | undefined): Promise<number> {
  if (viaFetch) return viaFetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal, redirect: 'manual' }).then((res) => res.status);
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const headers = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
    const request = (target.protocol === 'https:' ? httpsRequest : httpRequest)(target, { method: 'POST', headers, signal, ...(allowPrivate ? {} : { lookup: publicOnlyLookup }) }, (res) => {
      // The status is the answer: a body that is slow or cut short after a 200 is no reason to send the alert again.
      resolve(res.statusCode ?? 0);
      res.on('error', () => undefined);
      res.resume();
    });
    request.on('error', reject);
    request.end(body);
  });
}

/**
 * Why a POST failed, in the log: the error's code (ECONNREFUSED, ENOTFOUND, a timeout), not its message, which may
 * quote the URL, whose path is the webhook's secret. km's own refusal of a private address says the host only.
 */
function requestError(err: unknown): string {
  const { name, message, code, cause } = err as Error & { code?: unknown; cause?: { code?: unknown } };
  if (code === 'EKMPRIVATE') return String(message);
  const known = typeof code === 'string' ? code : typeof cause?.code === 'string' ? cause.code : null;
  if (known) return `the request failed (${known})`;
  if (name === 'AbortError' || name === 'TimeoutError') return 'no answer in time';
  return /[a-z][a-z0-9+.-]*:\/\//i.test(String(message)) ? `${name || 'Error'}: the request could not be made` : String(message);
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
 * A delivery in words an operator can act on: which budget and threshold, and the webhook's host (its path is a
 * secret: a Slack or Teams webhook URL is its own credential).
 */
export function describeWebhook(event: BudgetThresholdCrossed): string {
  const scope = event.scope === 'org' ? `the org's budget` : event.scope === 'team' ? `team ${event.teamId}'s budget` : `project ${event.projectId}'s budget`;
  let host = 'an unreadable URL';
  try {
    host = new URL(event.webhookUrl ?? '').host;
  } catch {
    // said as it is
  }
  return `budget webhook to ${host} for ${scope} of org "${event.orgId}" (${event.threshold}% of $${event.monthlyUsd} in ${event.period}, event ${event.id})`;
}

/** A failed delivery: the webhook, the attempts and the last error, then what happens next (`then`). */
export function describeFailedWebhook(event: BudgetThresholdCrossed, result: { attempts: number; error: string }, then: string): string {
  return `${describeWebhook(event)} failed after ${result.attempts} attempt(s): ${result.error}; ${then}`;
}
