import { InvocationContext, type Timer } from '@azure/functions';
import { newEventId, type BudgetThresholdCrossed } from '@km/shared';
import { MemoryReadModelStore } from '../src/adapters/memory-read-model-store';
import { makeBudgetWebhookRetryTimer, makeBudgetWebhookTrigger } from '../src/handlers/budget-webhook-trigger';
import type { ReadModelStore } from '../src/ports';
import { startWebhookReceiver, WEBHOOK_SECRET_PATH, type WebhookReceiver } from './support/webhook-receiver';

const START = Date.parse('2026-07-02T12:00:00.000Z');
const A_TICK: Timer = { isPastDue: false, scheduleStatus: { last: '', next: '', lastUpdated: '' } };

describe('budget webhook trigger and retry timer (cloud)', () => {
  // The receivers here listen on 127.0.0.1, a private address: km calls webhooks there only when told to.
  beforeAll(() => void (process.env.KM_WEBHOOK_ALLOW_PRIVATE = 'true'));
  afterAll(() => void delete process.env.KM_WEBHOOK_ALLOW_PRIVATE);
  let receiver: WebhookReceiver;
  let nowMs: number;
  let logged: string[];
  beforeEach(async () => {
    receiver = await startWebhookReceiver();
    nowMs = START;
    logged = [];
  });
  afterEach(() => receiver.close());

  const context = () => new InvocationContext({ invocationId: 'i', functionName: 'budget-webhooks', logHandler: (level, ...args) => logged.push(`${level} ${args.join(' ')}`) });
  const crossed = (threshold: number, webhookUrl: string | null): BudgetThresholdCrossed & { receivedAt: string; batchId: string } => ({
    id: newEventId(), v: 1, ts: '2026-07-02T12:00:00.000Z', type: 'budget.threshold_crossed', orgId: 'org-a', scope: 'project', projectId: 'web',
    period: '2026-07', threshold, monthlyUsd: 10, spentUsd: threshold / 10, webhookUrl, receivedAt: '2026-07-02T12:00:00.000Z', batchId: 'projector:cost',
  });
  const functionsOn = (store: ReadModelStore) => {
    const options = { readModelStore: async () => store, now: () => new Date(nowMs), delivery: { baseDelayMs: 1 } };
    return { trigger: makeBudgetWebhookTrigger(options), timer: makeBudgetWebhookRetryTimer(options) };
  };

  it('posts a Slack/Teams body for each threshold event with a webhook, retrying a failure, and skips everything else', async () => {
    const { trigger } = functionsOn(new MemoryReadModelStore());
    receiver.next = [503];
    await trigger([crossed(50, receiver.url), crossed(80, null), { not: 'an event' }, JSON.stringify(crossed(100, receiver.url))], context());
    expect(receiver.posts).toBe(3);
    expect(receiver.received).toEqual([
      expect.objectContaining({ '@type': 'MessageCard', text: expect.stringContaining('reached 50%') }),
      expect.objectContaining({ text: expect.stringContaining('reached 100%') }),
    ]);
  });

  it('keeps a delivery that failed while the receiver was down, sends it from the timer once it is back, and never twice', async () => {
    const store = new MemoryReadModelStore();
    const { trigger, timer } = functionsOn(store);
    await receiver.down();
    const batch = [crossed(80, receiver.url)];
    await trigger(batch, context());
    expect(logged).toEqual([expect.stringMatching(/^warning budget webhook to 127\.0\.0\.1:\d+ for project web's budget .+ failed after 4 attempt\(s\): .+; retrying with backoff/)]);
    // The host hands the same batch over again (a restart before its checkpoint): not attempted again.
    await trigger(batch, context());
    expect(logged).toHaveLength(1);

    await receiver.up();
    await timer(A_TICK, context()); // not due yet
    expect(receiver.posts).toBe(0);
    nowMs += 60_000;
    await timer(A_TICK, context());
    expect(receiver.received.map((body) => body.km.eventId)).toEqual([batch[0]!.id]);
    expect(logged[1]).toMatch(/^information budget webhook to .+ delivered at attempt 5, after failing since 2026-07-02T12:00:00\.000Z$/);

    nowMs += 3600_000;
    await timer(A_TICK, context());
    await trigger(batch, context());
    expect(receiver.posts).toBe(1);
    expect(logged.join('\n')).not.toContain(WEBHOOK_SECRET_PATH);
  });

  it('fails the batch when the delivery cannot be recorded, so the host retries it rather than lose the alert', async () => {
    const store = new MemoryReadModelStore();
    store.upsert = async () => {
      throw new Error('Cosmos DB: service unavailable');
    };
    const { trigger } = functionsOn(store);
    await expect(trigger([crossed(50, receiver.url)], context())).rejects.toThrow('service unavailable');
    expect(receiver.posts).toBe(0);
  });
});
