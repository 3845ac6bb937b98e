import { apiRoutes, type ApiRouteName } from '@km/shared';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashApiKey } from '../src/adapters/api-key-authenticator';
import { openEmbeddedStack, type EmbeddedStack } from '../src/host/embedded-stack';
import { httpRoutes } from '../src/routes';
import { askHandlers } from './contracts/api.contract';
import { anEnvelope, interaction } from './fixtures';
import { startWebhookReceiver, WEBHOOK_SECRET_PATH, type WebhookReceiver } from './support/webhook-receiver';

const KEY = 'km_test_owner_key_of_org_w';

/** Waits for a condition with a generous deadline (never a fixed sleep). */
async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * km serve's budget alerts across a restart, end to end on real SQLite: a budget with a webhook, spend past its
 * thresholds, the receiver down while they are crossed; km serve stops, the receiver comes back, km serve starts
 * again and delivers each alert exactly once. The notifier's clock is the test's: the retries' backoff is moved
 * past, never waited for.
 */
describe('budget webhooks across km serve restarts (SQLite)', () => {
  // The receivers here listen on 127.0.0.1, a private address: km calls webhooks there only when told to.
  beforeAll(() => void (process.env.KM_WEBHOOK_ALLOW_PRIVATE = 'true'));
  afterAll(() => void delete process.env.KM_WEBHOOK_ALLOW_PRIVATE);
  let home: string;
  let receiver: WebhookReceiver;
  const lines: string[] = [];
  const logger = { info: (m: string) => lines.push(`info ${m}`), warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`) };
  let nowMs = Date.now();

  const start = () =>
    openEmbeddedStack({
      home,
      logger,
      projectorWorkerFile: null,
      rebuildWorkerFile: null,
      projectorIntervalMs: 20,
      additionalApiKeys: [{ keyHash: hashApiKey(KEY), orgId: 'org-w' }],
      budgetNotifier: { now: () => new Date(nowMs), baseDelayMs: 1 },
    });
  const ask = (stack: EmbeddedStack, name: ApiRouteName, params: Record<string, string> = {}, body?: unknown) => askHandlers(httpRoutes(stack.deps), KEY, apiRoutes.find((route) => route.name === name)!, params, body);

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'km-budget-webhooks-'));
    receiver = await startWebhookReceiver();
  });
  afterAll(async () => {
    await receiver.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('delivers each threshold crossed while the receiver was down once it is back, after a restart, and never twice', async () => {
    const url = receiver.url;
    await receiver.down();
    let stack = start();
    try {
      expect((await ask(stack, 'set-budget-project', { projectId: 'web' }, { monthlyUsd: 1, webhookUrl: url })).status).toBe(202);
      // Spend past 100 % of the month's budget: 50, 80 and 100 % crossed at once.
      const call = interaction(anEnvelope({ orgId: 'org-w', projectId: 'web' }), new Date().toISOString(), { costUsd: 2 });
      expect((await ask(stack, 'ingest', {}, { events: [call] })).status).toBe(202);
      await until('three failed deliveries', () => lines.filter((line) => line.includes('retrying with backoff')).length === 3);
    } finally {
      await stack.close();
    }
    expect(lines.filter((line) => line.startsWith('warn'))).toEqual([50, 80, 100].map((threshold) => expect.stringMatching(new RegExp(`^warn budget webhook to 127\\.0\\.0\\.1:\\d+ for project web's budget of org "org-w" \\(${threshold}% of \\$1 in \\d{4}-\\d{2}, .+ failed after 4 attempt\\(s\\)`))));

    await receiver.up();
    nowMs += 60_000; // past the first retry's 30 s
    stack = start();
    try {
      await until('three deliveries', () => receiver.received.length === 3);
      await until('the three recorded as delivered', () => lines.filter((line) => line.includes('delivered at attempt 5')).length === 3);
      // An hour on, more runs: nothing is sent again.
      nowMs += 3600_000;
      await stack.notifyBudgetWebhooks();
      await stack.notifyBudgetWebhooks();
    } finally {
      await stack.close();
    }
    stack = start();
    try {
      await stack.notifyBudgetWebhooks();
    } finally {
      await stack.close();
    }
    expect(receiver.received.map((body) => body.km.threshold).sort((a, b) => a - b)).toEqual([50, 80, 100]);
    expect(new Set(receiver.received.map((body) => body.km.eventId)).size).toBe(3);
    expect(receiver.posts).toBe(3);
    expect(lines.filter((line) => line.startsWith('error'))).toEqual([]);
    expect(lines.join('\n')).not.toContain(WEBHOOK_SECRET_PATH);
  });
});
