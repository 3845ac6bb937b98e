import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvocationContext } from '@azure/functions';
import { newEventId, type BudgetThresholdCrossed } from '@km/shared';
import { makeBudgetWebhookTrigger } from '../src/handlers/budget-webhook-trigger';

describe('budget webhook trigger (cloud)', () => {
  let server: Server;
  const received: unknown[] = [];
  let failNext = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        if (failNext > 0) {
          failNext--;
          res.writeHead(503).end();
          return;
        }
        received.push(JSON.parse(body));
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });
  afterAll(() => server.close());

  it('posts a Slack/Teams body for each threshold event with a webhook, retrying a failure, and skips everything else', async () => {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const crossed = (threshold: number, webhookUrl: string | null): BudgetThresholdCrossed & { receivedAt: string; batchId: string } => ({
      id: newEventId(), v: 1, ts: '2026-07-02T12:00:00.000Z', type: 'budget.threshold_crossed', orgId: 'org-a', scope: 'project', projectId: 'web',
      period: '2026-07', threshold, monthlyUsd: 10, spentUsd: threshold / 10, webhookUrl, receivedAt: '2026-07-02T12:00:00.000Z', batchId: 'projector:cost',
    });
    failNext = 1;
    const trigger = makeBudgetWebhookTrigger({ baseDelayMs: 1 });
    await trigger([crossed(50, url), crossed(80, null), { not: 'an event' }, JSON.stringify(crossed(100, url))], new InvocationContext({ invocationId: 'i', functionName: 'budget-webhooks', logHandler: () => undefined }));
    expect(received).toEqual([
      expect.objectContaining({ '@type': 'MessageCard', text: expect.stringContaining('reached 50%') }),
      expect.objectContaining({ text: expect.stringContaining('reached 100%') }),
    ]);
  });
});
