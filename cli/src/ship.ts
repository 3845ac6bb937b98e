import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { gzipSync } from 'node:zlib';
import type { KmEvent } from '@km/shared';
import type { Target } from './config/settings';
// url.ts imports nothing: the shipper runs in the observer thread, which must not load the contract's zod schemas.
import { routeUrl } from '@km/shared/dist/api/url';
import type { Logger } from './log';

/** ingestRoute.path in shared/src/api/routes.ts (cli/test/ship.int.test.ts checks that they agree). */
export const INGEST_PATH = 'ingest';
/** whoamiRoute.path: the org of the key, for events stamped with no org set. */
export const WHOAMI_PATH = 'whoami';
import type { Spool, SpoolFile } from './spool';

/**
 * Ships spooled events to POST /api/ingest in gzip'd batches, oldest first, acknowledging each batch in the
 * spool only after a 2xx. Network errors and 5xx back off exponentially; a batch the server rejects for its
 * content is split until the bad events are isolated, and those go to the spool's quarantine, so one bad
 * event never blocks the rest.
 */
export type ShipTarget = Target;

/**
 * `unreachable`: no answer (network error, timeout, deadline); `server-error`: ingest answered with an error a retry
 * may cure (5xx, 429, an unexpected status); both back off and retry. `unauthorized`: the key or tenant was refused.
 */
export type ShipOutcome = 'shipped' | 'unreachable' | 'server-error' | 'unauthorized';

const MAX_EVENTS_PER_POST = 500;
const REQUEST_TIMEOUT_MS = 10_000;

interface PostResult {
  status: number;
  body: { error?: string; issues?: Array<{ index?: number; path?: string; message?: string }> } | null;
}

export class Shipper {
  private failures = 0;
  private nextAttemptAt = 0;
  shippedEvents = 0;
  /** Why ingest last refused the key (401/403), for the file set aside. */
  lastRefusal = '';
  /** What the last failed attempt met, in words ("cannot reach ...", "... answered 503: ..."), for `km flush`. */
  lastFailure = '';

  /** The key's org, once known (GET /api/whoami), per endpoint and key. */
  private keyOrgs = new Map<string, KeyOrg>();
  /** The endpoint and key ingest last refused (401/403), while that refusal holds off retries. */
  private refusedTarget: string | null = null;

  /**
   * ownSession: the session this shipper's process records, when its org was not set (settings.placeholderOrgOf):
   * its events, stamped with that placeholder, go as the org of the key that ships them (a KM_API_KEY without
   * KM_ORG stamped them `local`, which ingest refused). Only its own: an orphan file or a replayed journal of
   * another km may have been recorded with another key, of another tenant.
   */
  constructor(
    private readonly spool: Spool,
    private readonly target: () => ShipTarget,
    private readonly logger: Logger,
    private readonly ownSession: { placeholderOrg: string; sessionId: string } | null = null,
  ) {}

  /**
   * The org of the key this shipper sends with (GET /api/whoami): `none` when there is no key or the API says the
   * key has none (401, 403, 404), `unknown` when it did not answer (asked again next time).
   */
  async keyOrg(deadline?: number): Promise<KeyOrg> {
    const { endpoint, apiKey, notRunning } = this.target();
    if (notRunning) return 'unknown';
    if (!apiKey) return 'none';
    const key = targetKey({ endpoint, apiKey });
    const known = this.keyOrgs.get(key);
    if (known !== undefined) return known;
    let answer: KeyOrg;
    try {
      const { status, text } = await requestOnce('GET', endpoint + routeUrl(WHOAMI_PATH), { authorization: `Bearer ${apiKey}` }, null, timeoutFor(deadline));
      const orgId = status === 200 ? orgIdIn(text) : null;
      answer = orgId !== null ? { orgId } : status === 401 || status === 403 || status === 404 ? 'none' : 'unknown';
    } catch {
      answer = 'unknown';
    }
    if (answer !== 'unknown') this.keyOrgs.set(key, answer);
    return answer;
  }

  /**
   * The own session's events stamped with the placeholder org, as the key's org (the rest as they are). Throws while
   * the key's org is unknown (no answer): sent as they are, they would be refused and set aside, not retried.
   */
  private async asKeyOrg(events: KmEvent[], deadline?: number): Promise<KmEvent[]> {
    const own = this.ownSession;
    const mine = (event: KmEvent) => own !== null && event.orgId === own.placeholderOrg && event.sessionId === own.sessionId;
    if (!events.some(mine)) return events;
    const org = await this.keyOrg(deadline);
    if (org === 'unknown') throw new Error("GET /api/whoami did not answer, so the key's org is not known yet");
    if (org === 'none' || org.orgId === own!.placeholderOrg) return events;
    return events.map((event) => (mine(event) ? { ...event, orgId: org.orgId } : event));
  }

  /**
   * True when a retry is due: the backoff after failures has passed, or the key was refused and the endpoint or key
   * has changed since (km login, a km serve restarted on another port).
   */
  due(now: number = Date.now()): boolean {
    return now >= this.nextAttemptAt || (this.refusedTarget !== null && this.refusedTarget !== targetKey(this.target()));
  }

  /**
   * Ships everything in the file that is complete. `deadline` (epoch ms) bounds the time spent, e.g. while
   * km exits; `final` treats a torn last line as garbage (the file's writer is gone).
   */
  async shipFile(file: SpoolFile, options: { deadline?: number; final?: boolean } = {}): Promise<ShipOutcome> {
    for (;;) {
      if (options.deadline !== undefined && Date.now() >= options.deadline) return 'unreachable';
      const batch = file.readBatch(MAX_EVENTS_PER_POST, this.logger, options.final);
      if (!batch) return 'shipped';
      if (batch.events.length > 0) {
        const outcome = await this.deliver(batch.events, options.deadline);
        if (outcome !== 'shipped') return outcome;
      }
      file.ack(batch.endOffset);
    }
  }

  /** Posts events until each is stored or quarantined. */
  private async deliver(events: KmEvent[], deadline?: number): Promise<ShipOutcome> {
    let result: PostResult;
    try {
      result = await this.post(events, deadline);
    } catch (err) {
      const { endpoint, notRunning } = this.target();
      return this.failed('unreachable', notRunning ?? `cannot reach ${endpoint}: ${(err as Error).message}`);
    }
    const { status, body } = result;
    if (status >= 200 && status < 300) {
      this.failures = 0;
      this.nextAttemptAt = 0;
      this.refusedTarget = null;
      this.shippedEvents += events.length;
      return 'shipped';
    }
    if (status === 401 || status === 403) {
      this.failures = 10; // hold off: retrying with the same key will not help (due() ends the wait if it changes)
      this.nextAttemptAt = Date.now() + 5 * 60_000;
      this.refusedTarget = targetKey(this.target());
      this.lastRefusal = `${status}: ${body?.error ?? 'no reason given'}`;
      this.logger.error(`ingest refused the API key (${status}: ${body?.error ?? 'no reason given'}). Events stay in the spool; check KM_API_KEY or run \`km login\`.`);
      return 'unauthorized';
    }
    if (status === 400 || status === 413 || status === 422) return this.isolateBadEvents(events, status, body, deadline);
    return this.failed('server-error', `${this.target().endpoint} answered ${status}${body?.error ? `: ${body.error}` : ' (no error message)'}`);
  }

  private async isolateBadEvents(events: KmEvent[], status: number, body: PostResult['body'], deadline?: number): Promise<ShipOutcome> {
    const badIndexes = new Set((body?.issues ?? []).map((i) => i.index).filter((i): i is number => typeof i === 'number' && i >= 0 && i < events.length));
    if (badIndexes.size > 0) {
      const reasons = (body?.issues ?? []).map((i) => `${i.path ?? ''}: ${i.message ?? ''}`).join('; ');
      this.spool.quarantine(events.filter((_, i) => badIndexes.has(i)), reasons.slice(0, 2000));
      this.logger.error(`ingest rejected ${badIndexes.size} event(s), quarantined in spool/rejected.jsonl: ${reasons.slice(0, 500)}`);
      const rest = events.filter((_, i) => !badIndexes.has(i));
      return rest.length > 0 ? this.deliver(rest, deadline) : 'shipped';
    }
    if (events.length === 1) {
      this.spool.quarantine(events, `${status}: ${body?.error ?? 'rejected'}`);
      this.logger.error(`ingest rejected event ${events[0]!.id} (${status}: ${body?.error ?? 'no reason'}); quarantined in spool/rejected.jsonl`);
      return 'shipped';
    }
    // No per-event answer (e.g. the batch is too large): halve until the culprit stands alone.
    const half = Math.ceil(events.length / 2);
    const first = await this.deliver(events.slice(0, half), deadline);
    if (first !== 'shipped') return first;
    return this.deliver(events.slice(half), deadline);
  }

  private failed(outcome: 'unreachable' | 'server-error', message: string): ShipOutcome {
    // A refusal by an endpoint or key no longer in use holds nothing off: this failure's backoff does.
    this.refusedTarget = null;
    this.failures++;
    this.lastFailure = message;
    const delay = Math.min(30_000, 500 * 2 ** Math.min(this.failures, 10));
    this.nextAttemptAt = Date.now() + delay * (0.5 + Math.random() / 2);
    this.logger.warn(`${message}; events stay in the spool, retry in ${Math.round(this.nextAttemptAt - Date.now())} ms`);
    return outcome;
  }

  private async post(events: KmEvent[], deadline?: number): Promise<PostResult> {
    const { endpoint, apiKey, notRunning } = this.target();
    // Retried with backoff like an endpoint that does not answer, so a km serve started later is found.
    if (notRunning) throw new Error(notRunning);
    const body = gzipSync(JSON.stringify({ events: await this.asKeyOrg(events, deadline) }));
    const headers: Record<string, string> = { 'content-type': 'application/json', 'content-encoding': 'gzip' };
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;
    const response = await requestOnce('POST', endpoint + routeUrl(INGEST_PATH), headers, body, timeoutFor(deadline));
    let parsed: PostResult['body'] = null;
    try {
      parsed = JSON.parse(response.text) as PostResult['body'];
    } catch {
      parsed = { error: response.text.slice(0, 200) };
    }
    return { status: response.status, body: parsed };
  }
}

const targetKey = (target: ShipTarget) => `${target.endpoint}\u0000${target.apiKey ?? ''}`;

/** A request's time: REQUEST_TIMEOUT_MS, or less when a deadline (km exiting) comes sooner. */
const timeoutFor = (deadline: number | undefined) => (deadline === undefined ? REQUEST_TIMEOUT_MS : Math.max(50, Math.min(REQUEST_TIMEOUT_MS, deadline - Date.now())));

function orgIdIn(text: string): string | null {
  try {
    const orgId = (JSON.parse(text) as { orgId?: unknown } | null)?.orgId;
    return typeof orgId === 'string' && orgId !== '' ? orgId : null;
  } catch {
    return null;
  }
}

/** What GET /api/whoami says of a key's org. */
export type KeyOrg = { orgId: string } | 'none' | 'unknown';

/** Most an answer may say: ingest answers are short; anything longer is cut (and then not JSON). */
const ANSWER_MAX_BYTES = 64 * 1024;

/**
 * One request with node:http(s), not fetch: fetch loads undici, which costs the wrapper's observer thread 8 MB of
 * resident memory (issue 11). Rejects on network errors and on the timeout, like fetch with AbortSignal.timeout.
 */
function requestOnce(method: 'GET' | 'POST', url: string, headers: Record<string, string>, body: Buffer | null, timeoutMs: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : target.protocol === 'http:' ? httpRequest : null;
    if (!send) {
      reject(new Error(`unsupported protocol ${target.protocol}`));
      return;
    }
    const req = send(target, { method, headers: body ? { ...headers, 'content-length': String(body.length) } : headers }, (res: IncomingMessage) => {
      const parts: Buffer[] = [];
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        if (bytes >= ANSWER_MAX_BYTES) return;
        parts.push(chunk);
        bytes += chunk.length;
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).subarray(0, ANSWER_MAX_BYTES).toString('utf8') });
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(body ?? undefined);
  });
}

/**
 * What one km process ships: its own spool file and the orphans it claimed from dead km processes. One pass
 * at a time; the wrapper calls it on a timer, `km flush` once.
 */
/** reassignOrg: with retryRefused, the files set aside are sent as this org (the user asked: --reassign-org). */
export interface PassOptions {
  deadline?: number;
  includeOwn?: boolean;
  retryRefused?: boolean;
  reassignOrg?: string;
}

export class ShipQueue {
  private readonly orphans: SpoolFile[] = [];
  private running: Promise<ShipOutcome> | null = null;

  constructor(
    private readonly spool: Spool,
    readonly shipper: Shipper,
  ) {}

  /** Claims orphans, then ships them and the own file. Concurrent calls share the pass in flight. */
  /** Files set aside in this queue's passes after a refusal (401/403). */
  setAside = 0;

  pass(options: PassOptions = {}): Promise<ShipOutcome> {
    if (this.running && options.deadline !== undefined) {
      // The pass under way keeps its own (longer) timeouts: wait for it only as long as our deadline allows, then
      // make one more pass within it (km exiting must not wait out a black-holed endpoint).
      const remaining = Math.max(0, options.deadline - Date.now());
      const late = new Promise<ShipOutcome>((resolve) => setTimeout(() => resolve('unreachable'), remaining).unref());
      return Promise.race([this.running.then(() => this.pass(options)), late]);
    }
    if (!this.running) {
      this.running = this.run(options).finally(() => {
        this.running = null;
      });
    }
    return this.running;
  }

  get pendingOrphans(): number {
    return this.orphans.length;
  }

  private async run(options: PassOptions): Promise<ShipOutcome> {
    if (options.retryRefused) this.orphans.push(...this.spool.claimRefused({ reassignOrg: options.reassignOrg }));
    this.orphans.push(...this.spool.claimOrphans());
    let refused = false;
    while (this.orphans.length > 0) {
      const file = this.orphans[0]!;
      const outcome = await this.shipper.shipFile(file, { deadline: options.deadline, final: true });
      if (outcome === 'unauthorized') {
        // The key or tenant may change: set the file aside so it does not block newer files (`km status` says why,
        // `km flush --retry-refused` takes it back). Refused for good (400 and the like) is quarantine, in Shipper.
        try {
          file.setAside(this.shipper.lastRefusal);
          this.setAside++;
        } catch {
          return outcome; // cannot move it: it stays in the path, as before
        }
        this.orphans.shift();
        refused = true;
        continue;
      }
      if (outcome !== 'shipped') return outcome;
      file.remove();
      this.orphans.shift();
    }
    if (options.includeOwn === false) return refused ? 'unauthorized' : 'shipped';
    const outcome = await this.shipper.shipFile(this.spool.own, { deadline: options.deadline });
    if (outcome === 'shipped') this.spool.rotateIfShipped();
    return refused && outcome === 'shipped' ? 'unauthorized' : outcome;
  }
}
