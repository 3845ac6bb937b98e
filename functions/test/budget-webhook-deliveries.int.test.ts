import { newEventId, type BudgetThresholdCrossed } from '@km/shared';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CosmosReadModelStore } from '../src/adapters/cosmos-read-model-store';
import { SqliteReadModelStore } from '../src/adapters/sqlite-read-model-store';
import { BUDGET_WEBHOOK_INDEXES, BudgetWebhookDeliveries } from '../src/budget-webhook-deliveries';
import type { ReadModelStore } from '../src/ports';
import { startTestCosmos, type TestCosmos } from './support/cosmos-server';
import { startWebhookReceiver, WEBHOOK_SECRET_PATH, type WebhookReceiver } from './support/webhook-receiver';

const START = Date.parse('2026-11-25T12:00:00.000Z');
const MINUTE = 60_000;

/** Opens another connection to the test's store (each test has a store of its own): SQLite's km.db, a Cosmos database. */
interface StoreUnderTest {
  name: string;
  setUp(): Promise<void>;
  open(test: number): ReadModelStore;
  tearDown(): Promise<void>;
}

let dir: string;
let cosmos: TestCosmos;
const adapters: StoreUnderTest[] = [
  {
    name: 'SQLite',
    setUp: async () => void (dir = mkdtempSync(join(tmpdir(), 'km-webhooks-'))),
    open: (test) => new SqliteReadModelStore(join(dir, `km-${test}.db`), { indexes: BUDGET_WEBHOOK_INDEXES }),
    tearDown: async () => rmSync(dir, { recursive: true, force: true }),
  },
  {
    name: 'Cosmos DB (cosmosdb-server)',
    setUp: async () => void (cosmos = await startTestCosmos()),
    open: (test) => new CosmosReadModelStore({ client: cosmos.client(), databaseId: `km-webhooks-${test}`, createIfMissing: true, indexes: BUDGET_WEBHOOK_INDEXES, ownsClient: true }),
    tearDown: () => cosmos.close(),
  },
];

/**
 * Budget webhook deliveries on each store km runs on, to a real receiver that is off and comes back. Time is a clock
 * the test moves: the backoff is asserted by when a retry is due, never waited for.
 */
describe.each(adapters)('budget webhook deliveries ($name)', (adapter) => {
  // The receivers here listen on 127.0.0.1, a private address: km calls webhooks there only when told to.
  beforeAll(() => void (process.env.KM_WEBHOOK_ALLOW_PRIVATE = 'true'));
  afterAll(() => void delete process.env.KM_WEBHOOK_ALLOW_PRIVATE);
  let receiver: WebhookReceiver;
  let stores: ReadModelStore[];
  let nowMs: number;
  let lines: string[];
  let test = 0;

  beforeAll(() => adapter.setUp());
  afterAll(() => adapter.tearDown());
  beforeEach(async () => {
    test++;
    receiver = await startWebhookReceiver();
    stores = [];
    nowMs = START;
    lines = [];
  });
  afterEach(async () => {
    await receiver.close();
    for (const store of stores) await store.close();
  });

  /** A notifier with its own connection to the store, as another km serve or Functions instance has. */
  function aNotifier() {
    const store = adapter.open(test);
    stores.push(store);
    const logger = { info: (m: string) => lines.push(`info ${m}`), warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`) };
    return new BudgetWebhookDeliveries({ store, logger, now: () => new Date(nowMs), delivery: { baseDelayMs: 1 } });
  }

  const crossed = (threshold: number): BudgetThresholdCrossed => ({
    id: newEventId(START),
    v: 1,
    type: 'budget.threshold_crossed',
    ts: new Date(START).toISOString(),
    orgId: 'org-a',
    scope: 'project',
    projectId: 'web',
    period: '2026-11',
    threshold,
    monthlyUsd: 10,
    spentUsd: threshold / 10,
    webhookUrl: receiver.url,
  });

  it('retries a failed delivery with backoff capped at 5 minutes, across a restart, until the receiver is back; then never again', async () => {
    const event = crossed(80);
    await receiver.down();
    let notifier = aNotifier();
    expect(await notifier.deliver(event)).toBe('pending');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^warn budget webhook to 127\.0\.0\.1:\d+ for project web's budget of org "org-a" \(80% of \$10 in 2026-11, event .+\) failed after 4 attempt\(s\): the request failed \(ECONNREFUSED\); retrying with backoff \(at most 5 min apart\) until 2026-11-26T12:00:00\.000Z$/);

    for (const delayMs of [0.5 * MINUTE, 1 * MINUTE, 2 * MINUTE, 4 * MINUTE, 5 * MINUTE, 5 * MINUTE]) {
      nowMs += delayMs - 1;
      expect(await notifier.retryDue()).toBe(0); // not yet due
      nowMs += 1;
      expect(await notifier.retryDue()).toBe(1);
    }
    expect(lines).toHaveLength(1); // a failing retry is not logged again

    // A restart: the record is in the store.
    notifier = aNotifier();
    await receiver.up();
    nowMs += 5 * MINUTE;
    expect(await notifier.retryDue()).toBe(1);
    expect(receiver.received.map((body) => body.km)).toEqual([expect.objectContaining({ eventId: event.id, threshold: 80 })]);
    expect(lines[1]).toMatch(/^info budget webhook to 127\.0\.0\.1:\d+ for project web's budget .+ delivered at attempt 11, after failing since 2026-11-25T12:00:00\.000Z$/);

    // Delivered: not retried, and the event read again (a replay of the log) is not sent again.
    nowMs += 60 * MINUTE;
    expect(await notifier.retryDue()).toBe(0);
    expect(await aNotifier().deliver(event)).toBe('known');
    expect(receiver.posts).toBe(1);
    expect(lines.join('\n')).not.toContain(WEBHOOK_SECRET_PATH);
  });

  it('gives up a day after the first failure, saying so once with the budget, threshold, period and host, never the path', async () => {
    await receiver.down();
    const notifier = aNotifier();
    const event = crossed(100);
    expect(await notifier.deliver(event)).toBe('pending');
    let retries = 0;
    while (!lines.some((line) => line.startsWith('error'))) {
      nowMs += 5 * MINUTE;
      retries += await notifier.retryDue();
      expect(retries).toBeLessThan(300);
    }
    // 30 s, 1, 2, 4 min, then every 5 min: about 24 h of them, the last one at or after the deadline.
    expect(retries).toBeGreaterThan(280);
    expect(nowMs - START).toBeGreaterThanOrEqual(24 * 60 * MINUTE);
    const errors = lines.filter((line) => line.startsWith('error'));
    expect(errors).toEqual([
      expect.stringMatching(
        /^error budget webhook to 127\.0\.0\.1:\d+ for project web's budget of org "org-a" \(100% of \$10 in 2026-11, event .+\) failed after \d+ attempt\(s\): the request failed \(ECONNREFUSED\); retried since 2026-11-25T12:00:00\.000Z, for 24 h: gave up, it is not sent again$/,
      ),
    ]);
    expect(lines.join('\n')).not.toContain(WEBHOOK_SECRET_PATH);

    await receiver.up();
    nowMs += 60 * MINUTE;
    expect(await notifier.retryDue()).toBe(0);
    expect(await notifier.deliver(event)).toBe('known');
    expect(receiver.posts).toBe(0);
  });

  it('gives up at once on an answer retrying cannot fix (a 404: the webhook was deleted)', async () => {
    receiver.status = 404;
    const notifier = aNotifier();
    expect(await notifier.deliver(crossed(50))).toBe('gave-up');
    expect(receiver.posts).toBe(1);
    expect(lines).toEqual([expect.stringMatching(/^error budget webhook to .+ \(50% of \$10 in 2026-11, .+ failed after 1 attempt\(s\): answered 404; retrying cannot fix that: gave up, it is not sent again$/)]);
    nowMs += 60 * MINUTE;
    expect(await notifier.retryDue()).toBe(0);
  });

  it('sends a due delivery once when two notifiers retry it at the same time', async () => {
    receiver.status = 503;
    const event = crossed(50);
    expect(await aNotifier().deliver(event)).toBe('pending');
    expect(receiver.posts).toBe(4);
    receiver.status = 200;
    nowMs += MINUTE;
    const [first, second] = [aNotifier(), aNotifier()];
    const tried = await Promise.all([first.retryDue(), second.retryDue()]);
    expect(tried.sort()).toEqual([0, 1]);
    expect(receiver.received.map((body) => body.km.eventId)).toEqual([event.id]);
    // The same event read by both at once (two instances handed the same batch): one of them sends it.
    const again = crossed(80);
    expect((await Promise.all([first.deliver(again), second.deliver(again)])).sort()).toEqual(['delivered', 'known']);
    expect(receiver.received.map((body) => body.km.eventId)).toEqual([event.id, again.id]);
  });
});
