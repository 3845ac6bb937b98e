import { lookup } from 'node:dns/promises';
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import { costProjection, newEventId, type BudgetThresholdCrossed } from '@km/shared';
import { ApiKeyAuthenticator, hashApiKey } from '../src/adapters/api-key-authenticator';
import { MemoryEventLog } from '../src/adapters/memory-event-log';
import { MemoryReadModelStore } from '../src/adapters/memory-read-model-store';
import { budgetWebhookBody, deliverWebhook } from '../src/budget-webhooks';
import { isPrivateAddress, publicOnlyLookup } from '../src/webhook-destination';
import { startBudgetNotifier } from '../src/host/budget-notifier';
import type { HttpHandler } from '../src/handlers/http-results';
import { makeIngestHandler } from '../src/handlers/ingest';
import { makeQueryBudgetsHandler, makeQueryContextTaxHandler, makeQueryCostHandler, makeQueryCostSummaryHandler } from '../src/handlers/query-cost';
import { makeSetBudgetHandler } from '../src/handlers/set-budget';
import { runProjectorOnce } from '../src/projector';
import { anEnvelope, interaction } from './fixtures';
import { anHttpRequest, anInvocationContext, bearer } from './http-fixtures';

const authenticator = new ApiKeyAuthenticator([
  { keyHash: hashApiKey('key-a'), orgId: 'org-a' },
  { keyHash: hashApiKey('key-b'), orgId: 'org-b' },
  { keyHash: hashApiKey('key-web'), orgId: 'org-a', projectId: 'web' },
]);
const NOW = new Date('2026-11-25T12:00:00.000Z');

function setup() {
  const eventLog = new MemoryEventLog();
  const readModelStore = new MemoryReadModelStore();
  const deps = { eventLog, readModelStore, authenticator, now: () => NOW, newBatchId: () => 'batch-1' };
  const call = async (handler: HttpHandler, init: { method?: string; path: string; body?: string; params?: Record<string, string> }, key = 'key-a') => {
    const response = await handler(anHttpRequest({ ...init, headers: bearer(key) }), anInvocationContext());
    return { status: response.status, body: response.jsonBody as any };
  };
  const project = () => runProjectorOnce(costProjection, eventLog, readModelStore, 500);
  const ingest = (events: unknown[], key = 'key-a') => call(makeIngestHandler(deps), { method: 'POST', path: '/api/ingest', body: JSON.stringify({ events }) }, key);
  const setBudget = (body: unknown, projectId?: string, key = 'key-a') =>
    call(
      makeSetBudgetHandler(projectId === undefined ? 'org' : 'project')(deps),
      { method: 'PUT', path: projectId === undefined ? '/api/budgets/org' : `/api/budgets/project/${projectId}`, body: JSON.stringify(body), params: projectId === undefined ? {} : { projectId } },
      key,
    );
  const get = (handler: (d: typeof deps) => HttpHandler, path: string, key = 'key-a') => call(handler(deps), { path }, key);
  return { eventLog, readModelStore, project, ingest, setBudget, get };
}

const spend = (costUsd: number, at = '2026-11-25T10:00:00.000Z', projectId = 'web') =>
  interaction(anEnvelope({ orgId: 'org-a', projectId }), at, { costUsd, tokensIn: 100, tokensOut: 10, model: 'gpt-4o' });

describe('budgets', () => {
  it('PUT appends a server-made budget.set for the caller org; the ingest endpoint refuses server-made events', async () => {
    const api = setup();
    const put = await api.setBudget({ monthlyUsd: 50, webhookUrl: 'https://hooks.slack.com/services/x' }, 'web');
    expect(put.status).toBe(202);
    expect(put.body.event).toMatchObject({ type: 'budget.set', orgId: 'org-a', scope: 'project', projectId: 'web', monthlyUsd: 50 });
    const [logged] = await api.eventLog.read(0, 10);
    expect(logged!.event).toMatchObject({ type: 'budget.set', receivedAt: NOW.toISOString() });

    const forged = { ...put.body.event, id: newEventId() };
    const refused = await api.ingest([forged]);
    expect(refused.status).toBe(400);
    const crossed = { id: newEventId(), v: 1, type: 'budget.threshold_crossed', ts: NOW.toISOString(), orgId: 'org-a' };
    expect((await api.ingest([crossed])).status).toBe(400);
  });

  it('answers readable 400s for a bad body, and 401 without a key', async () => {
    const api = setup();
    const negative = await api.setBudget({ monthlyUsd: -1 });
    expect(negative.status).toBe(400);
    expect(negative.body.error).toMatch(/^monthlyUsd: /);
    // The contract's example body, and every issue by path.
    expect(negative.body.error).toContain('Send a body like {"monthlyUsd":50');
    expect(negative.body.issues).toEqual([{ path: 'monthlyUsd', message: expect.any(String) }]);
    expect((await api.setBudget({ monthlyUsd: 5, webhookUrl: 'ftp://x' })).body.error).toMatch(/^webhookUrl: /);
    expect((await api.setBudget({ monthlyUsd: 5, webhookUrl: 'https://hook:tok@hooks.example.com/a' })).body.error).toMatch(/^webhookUrl: a webhook URL cannot carry a user or password/);
    expect((await api.setBudget({ monthlyUsd: 5, extra: 1 })).status).toBe(400);
    expect((await api.setBudget({ monthlyUsd: 5 }, 'p'.repeat(201))).status).toBe(400);
    expect((await api.setBudget({ monthlyUsd: 5 }, undefined, 'wrong')).status).toBe(401);
    // Too large: 413 with advice for a budget, not the ingest batch's.
    const huge = await api.setBudget({ monthlyUsd: 5, webhookUrl: `https://hooks.example.com/${'x'.repeat(20_000)}` });
    expect(huge.status).toBe(413);
    expect(huge.body.error).toMatch(/16384-byte limit: send a smaller body\.$/);
  });

  it('refuses a webhook on this machine or a private network, set or called, unless the server allows them (SSRF)', async () => {
    const api = setup();
    for (const url of ['http://127.0.0.1:8080/admin', 'http://localhost/x', 'http://[::1]/x', 'http://169.254.169.254/latest/meta-data', 'http://10.0.0.5/hook', 'http://[::ffff:192.168.1.1]/x', 'http://0.0.0.0/x', 'http://localhost./x', 'http://2130706433/x', 'http://[::ffff:0:7f00:1]/x', 'http://[2002:7f00:1::]/x', 'http://[fd00::1]/x']) {
      const refused = await api.setBudget({ monthlyUsd: 5, webhookUrl: url });
      expect({ url, status: refused.status, error: refused.body.error }).toEqual({ url, status: 400, error: expect.stringContaining('km calls webhooks on public addresses only') });
    }
    process.env.KM_WEBHOOK_ALLOW_PRIVATE = 'true';
    try {
      expect((await api.setBudget({ monthlyUsd: 5, webhookUrl: 'http://127.0.0.1:8080/hook' })).status).toBe(202);
    } finally {
      delete process.env.KM_WEBHOOK_ALLOW_PRIVATE;
    }
    // Called: a receiver on loopback gets nothing, by address or by a name that resolves there, and it is not retried.
    let posts = 0;
    const receiver = createServer((_req, res) => void (posts++, res.end('ok')));
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const port = (receiver.address() as { port: number }).port;
    try {
      // By a name that resolves there (the machine's own name: in /etc/hosts, to a loopback or private address).
      const name = hostname();
      const resolved = await lookup(name).catch(() => null);
      const hosts = ['127.0.0.1', 'localhost', ...(resolved && isPrivateAddress(resolved.address) ? [name] : [])];
      for (const host of hosts) {
        const result = await deliverWebhook(`http://${host}:${port}/hook`, {}, { sleep: async () => {} });
        expect({ host, result }).toMatchObject({ host, result: { ok: false, final: true, error: expect.stringContaining('KM_WEBHOOK_ALLOW_PRIVATE=true') } });
      }
      expect(posts).toBe(0);
      // The check as the socket connects, whatever the name.
      const refused = await new Promise<NodeJS.ErrnoException | null>((resolve) => publicOnlyLookup('localhost', {}, (error) => resolve(error)));
      expect(refused).toMatchObject({ code: 'EKMPRIVATE', message: expect.stringContaining('localhost resolves to ') });
      expect(await deliverWebhook(`http://127.0.0.1:${port}/hook`, {}, { allowPrivate: true })).toEqual({ ok: true, attempts: 1 });
      expect(posts).toBe(1);
    } finally {
      receiver.close();
    }
  });

  it('takes a 200 as delivered when the body after it is cut short: the alert is not sent again', async () => {
    let posts = 0;
    const receiver = createServer((_req, res) => {
      posts++;
      res.writeHead(200, { 'content-length': '1000' });
      res.write('partial');
      setImmediate(() => res.destroy());
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      expect(await deliverWebhook(`http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`, {}, { allowPrivate: true, sleep: async () => {} })).toEqual({ ok: true, attempts: 1 });
      expect(posts).toBe(1);
    } finally {
      receiver.close();
    }
  });

  it('does not follow a redirect: a receiver cannot send km on to another address', async () => {
    let redirected = 0;
    const target = createServer((_req, res) => void (redirected++, res.end('ok')));
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const to = `http://127.0.0.1:${(target.address() as { port: number }).port}/internal`;
    const hop = createServer((_req, res) => void res.writeHead(307, { location: to }).end());
    await new Promise<void>((resolve) => hop.listen(0, '127.0.0.1', resolve));
    try {
      const result = await deliverWebhook(`http://127.0.0.1:${(hop.address() as { port: number }).port}/hook`, {}, { allowPrivate: true, attempts: 1 });
      expect(result).toMatchObject({ ok: false, error: 'answered 307' });
      expect(redirected).toBe(0);
    } finally {
      target.close();
      hop.close();
    }
  });

  it('crosses 50, 80 and 100 percent once each: a replay of the log appends nothing twice', async () => {
    const api = setup();
    await api.setBudget({ monthlyUsd: 10, webhookUrl: 'https://hooks.example.com/a' });
    await api.ingest([spend(6)]);
    await api.project();
    await api.ingest([spend(3), spend(2)]);
    await api.project();
    await api.project(); // the threshold events themselves, which the fold ignores
    const crossings = async () => (await api.eventLog.read(0, 100)).map((e) => e.event).filter((e) => e.type === 'budget.threshold_crossed') as BudgetThresholdCrossed[];
    expect((await crossings()).map((e) => [e.scope, e.threshold])).toEqual([['org', 50], ['org', 80], ['org', 100]]);

    // replay everything from the start into a fresh store: same ids, so the log keeps one of each
    await api.eventLog.setCheckpoint('cost', 0);
    const fresh = new MemoryReadModelStore();
    while ((await runProjectorOnce(costProjection, api.eventLog, fresh, 2)) > 0);
    expect(await crossings()).toHaveLength(3);

    const budgets = await api.get(makeQueryBudgetsHandler, '/api/budgets');
    expect(budgets.body).toEqual({
      budgets: [{ scope: 'org', projectId: null, teamId: null, monthlyUsd: 10, period: '2026-11', spentUsd: 11, percent: 110, forecastUsd: expect.any(Number), crossed: [50, 80, 100] }],
    });
    expect((await api.get(makeQueryBudgetsHandler, '/api/budgets', 'key-b')).body).toEqual({ budgets: [] });

    // A new amount the same month, with its own webhook: a new budget to cross, whose 50% is sent (it had the id of
    // the old budget's 50% and was dropped as its duplicate, while the API said it was crossed).
    await api.setBudget({ monthlyUsd: 100, webhookUrl: 'https://hooks.example.com/b' });
    await api.ingest([spend(45)]);
    await api.project();
    await api.project();
    expect((await crossings()).map((e) => [e.threshold, e.monthlyUsd, e.webhookUrl])).toEqual([
      [50, 10, 'https://hooks.example.com/a'],
      [80, 10, 'https://hooks.example.com/a'],
      [100, 10, 'https://hooks.example.com/a'],
      [50, 100, 'https://hooks.example.com/b'],
    ]);
  });
});

describe('cost queries', () => {
  it("groups the caller's spend in a range, and nobody else's", async () => {
    const api = setup();
    await api.ingest([spend(1, '2026-11-24T10:00:00.000Z', 'web'), spend(2, '2026-11-25T10:00:00.000Z', 'api'), spend(4, '2026-10-30T10:00:00.000Z', 'web')]);
    await api.project();
    const byProject = await api.get(makeQueryCostHandler, '/api/cost?groupBy=project');
    expect(byProject.body).toEqual({
      from: '2026-11-01',
      to: '2026-11-25',
      complete: true,
      groupBy: 'project',
      currency: 'USD',
      total: { costUsd: 3, tokensIn: 200, tokensOut: 20, interactions: 2 },
      groups: [
        { key: 'api', costUsd: 2, tokensIn: 100, tokensOut: 10, interactions: 1 },
        { key: 'web', costUsd: 1, tokensIn: 100, tokensOut: 10, interactions: 1 },
      ],
    });
    const byDay = await api.get(makeQueryCostHandler, '/api/cost?from=2026-10-01&to=2026-11-24&groupBy=day');
    expect(byDay.body.groups.map((g: any) => [g.key, g.costUsd])).toEqual([['2026-10-30', 4], ['2026-11-24', 1]]);
    expect((await api.get(makeQueryCostHandler, '/api/cost?groupBy=model')).body.groups[0].key).toBe('gpt-4o');
    expect((await api.get(makeQueryCostHandler, '/api/cost', 'key-b')).body.total.interactions).toBe(0);

    const summary = await api.get(makeQueryCostSummaryHandler, '/api/cost/summary');
    expect(summary.body).toMatchObject({ today: { costUsd: 2 }, yesterday: { costUsd: 1 }, monthToDate: { costUsd: 3, interactions: 2 } });
    expect(Object.keys(summary.body)).toEqual(['today', 'yesterday', 'monthToDate', 'forecastMonthEnd', 'byDay', 'complete']);
    expect((await api.get(makeQueryContextTaxHandler, '/api/cost/context-tax')).body).toEqual({ servers: [] });
  });

  it.each([
    ['groupBy=hour', /groupBy must be one of project, user, server, tool, model, day/],
    ['from=2026-13-01', /from must be a UTC date like 2026-11-01/],
    ['from=yesterday', /from must be a UTC date/],
    ['from=2026-11-20&to=2026-11-10', /from \(2026-11-20\) is after to \(2026-11-10\)/],
    ['from=2020-01-01&to=2026-11-10', /at most 366 days/],
  ])('answers 400 for %s', async (query, message) => {
    const response = await setup().get(makeQueryCostHandler, `/api/cost?${query}`);
    expect(response.status).toBe(400);
    expect(response.body.error).toMatch(message);
  });
});

describe('budget webhooks', () => {
  const event: BudgetThresholdCrossed = {
    id: newEventId(),
    v: 1,
    type: 'budget.threshold_crossed',
    ts: NOW.toISOString(),
    orgId: 'org-a',
    scope: 'project',
    projectId: 'web',
    period: '2026-11',
    threshold: 80,
    monthlyUsd: 10,
    spentUsd: 8.5,
    webhookUrl: 'https://hooks.example.com/a',
  };

  it('has a Slack text and a Teams MessageCard shape in one body', () => {
    const body = budgetWebhookBody(event);
    expect(body.text).toBe('km budget: project web (org org-a) reached 80% of its $10 monthly budget for 2026-11 ($8.50 spent).');
    // Under a dollar, three digits: $0.0299 of a $0.03 budget is not shown as all of it.
    expect(budgetWebhookBody({ ...event, monthlyUsd: 0.03, spentUsd: 0.0299 }).text).toContain('($0.0299 spent)');
    // Rounded down, never up to the budget.
    expect(budgetWebhookBody({ ...event, monthlyUsd: 0.03, spentUsd: 0.02996 }).text).toContain('($0.0299 spent)');
    expect(budgetWebhookBody({ ...event, spentUsd: 9.999 }).text).toContain('($9.99 spent)');
    expect(budgetWebhookBody({ ...event, spentUsd: 0.29 }).text).toContain('($0.290 spent)');
    // The facts say the same spend, to four places, rounded down too: never one digit above the text's.
    const facts = (spentUsd: number) => budgetWebhookBody({ ...event, spentUsd }).sections[0]!.facts.find((fact) => fact.name === 'Spent (USD)')!.value;
    expect([facts(0.087062), facts(0.29), facts(1.51729)]).toEqual(['0.0870', '0.2900', '1.5172']);
    expect(body).toMatchObject({ '@type': 'MessageCard', '@context': 'https://schema.org/extensions', summary: body.text, title: 'Budget 80% reached' });
  });

  it('retries with exponential backoff, and gives up at once on a 4xx', async () => {
    const statuses = [503, 500, 200];
    const delays: number[] = [];
    const fakeFetch = (async () => new Response('', { status: statuses.shift()! })) as typeof fetch;
    expect(await deliverWebhook('https://x', {}, { fetch: fakeFetch, sleep: async (ms) => void delays.push(ms), baseDelayMs: 100 })).toEqual({ ok: true, attempts: 3 });
    expect(delays).toEqual([100, 200]);
    const gone = (async () => new Response('', { status: 404 })) as typeof fetch;
    expect(await deliverWebhook('https://x', {}, { fetch: gone, sleep: async () => {} })).toEqual({ ok: false, attempts: 1, error: 'answered 404', final: true });
    const down = (async () => {
      throw new Error('ECONNREFUSED');
    }) as typeof fetch;
    expect(await deliverWebhook('https://x', {}, { fetch: down, sleep: async () => {}, attempts: 3 })).toEqual({ ok: false, attempts: 3, error: 'ECONNREFUSED' });
    // A URL with a user and password (an older budget.set) is not called, and its path (the webhook's secret) is not passed on.
    const secret = 'https://hook:tok@hooks.example.com/services/SECRETPATH';
    const refused = await deliverWebhook(secret, {}, { sleep: async () => {}, attempts: 1 });
    expect(refused).toMatchObject({ ok: false, final: true, error: expect.stringContaining('with a user or password is not called') });
    expect(refused.error).not.toContain('SECRETPATH');
  });

  it('logs a failing webhook once and moves on past its checkpoint, keeping the delivery to retry', async () => {
    const log = new MemoryEventLog();
    const store = new MemoryReadModelStore();
    await log.append([{ ...event, receivedAt: NOW.toISOString(), batchId: 'p' }, { ...event, id: newEventId(), threshold: 100, webhookUrl: 'https://ok', receivedAt: NOW.toISOString(), batchId: 'p' }]);
    const warned: string[] = [];
    const called: string[] = [];
    const fakeFetch = (async (url: string) => {
      called.push(url);
      return new Response('', { status: url === 'https://ok' ? 200 : 500 });
    }) as unknown as typeof fetch;
    const notifier = startBudgetNotifier({ log, store, logger: { info() {}, warn: (m) => warned.push(m), error() {} }, fetch: fakeFetch, sleep: async () => {}, intervalMs: 10_000, now: () => NOW });
    await notifier.idle();
    await notifier.stop();
    expect(called).toEqual(['https://hooks.example.com/a', 'https://hooks.example.com/a', 'https://hooks.example.com/a', 'https://hooks.example.com/a', 'https://ok']);
    expect(warned).toEqual([expect.stringMatching(/failed after 4 attempt\(s\): answered 500; retrying with backoff \(at most 5 min apart\) until /)]);
    // Which budget, which threshold, and where to (the host only: the path of a webhook URL is its secret).
    expect(warned[0]).toMatch(new RegExp(`^budget webhook to hooks\\.example\\.com for .+ \\(${event.threshold}% of \\$${event.monthlyUsd} in ${event.period}, event ${event.id}\\)`));
    expect(warned[0]).not.toContain('/a');
    expect(await log.getCheckpoint('budget-webhooks')).toBe(2);
    expect(await store.query('budgetWebhooks', '#deliveries', { where: { state: 'pending' } })).toEqual([expect.objectContaining({ event: expect.objectContaining({ id: event.id }), attempts: 4 })]);
  });
});

describe('stopping the budget notifier', () => {
  // A day of backoff: stop() returning at all proves it cut the wait short (waiting it out would fail the test at
  // jest's timeout, whatever the machine's speed); no clock is read.
  const DAY_MS = 24 * 60 * 60_000;

  async function notifierFailing(answer: () => Promise<Response>) {
    const log = new MemoryEventLog();
    const event = { id: newEventId(), v: 1 as const, type: 'budget.threshold_crossed' as const, ts: NOW.toISOString(), orgId: 'org-a', scope: 'org' as const, projectId: null, period: '2026-11', threshold: 50, monthlyUsd: 1, spentUsd: 0.5, webhookUrl: 'https://down' };
    await log.append([{ ...event, receivedAt: NOW.toISOString(), batchId: 'p' }]);
    const probe = { calls: 0 };
    const failing = (async () => {
      probe.calls++;
      return answer();
    }) as typeof fetch;
    const notifier = startBudgetNotifier({ log, store: new MemoryReadModelStore(), logger: { info() {}, warn() {}, error() {} }, fetch: failing, baseDelayMs: DAY_MS, intervalMs: 10_000 });
    while (probe.calls === 0) await new Promise((r) => setTimeout(r, 5));
    return { log, notifier, probe };
  }

  it('cuts a delivery in backoff short and leaves its checkpoint for the next start', async () => {
    const { log, notifier, probe } = await notifierFailing(async () => new Response('', { status: 503 }));
    await notifier.stop();
    expect(probe.calls).toBe(1);
    expect(await log.getCheckpoint('budget-webhooks')).toBe(0);
  });

  it('cuts it short too when stopped during an attempt, before its backoff began', async () => {
    let answer: (response: Response) => void = () => {};
    // Like a server that answers although the request was aborted: the backoff starts after the stop.
    const { log, notifier, probe } = await notifierFailing(() => new Promise<Response>((resolve) => (answer = resolve)));
    const stopped = notifier.stop();
    answer(new Response('', { status: 503 }));
    await stopped;
    expect(probe.calls).toBe(1);
    expect(await log.getCheckpoint('budget-webhooks')).toBe(0);
  });
});

describe('the filters the dashboard sends', () => {
  async function given() {
    const api = setup();
    const call = (projectId: string, server: string, tool: string, costUsd: number, at = '2026-11-25T10:00:00.000Z') =>
      interaction(anEnvelope({ orgId: 'org-a', projectId, userId: projectId === 'web' ? 'ann' : 'bob', server: { name: server, command: server } }), at, { target: tool, costUsd, model: 'gpt-4o' });
    await api.ingest([
      call('web', 'github', 'search', 1),
      call('web', 'memory', 'read', 2),
      call('api', 'github', 'search', 4, '2026-11-24T10:00:00.000Z'),
      call('api', 'github', 'push', 8),
      // A tool whose name ends like another's: files/read is not read.
      call('ops', 'fs', 'files/read', 16),
    ]);
    await api.project();
    return api;
  }
  const cost = (api: Awaited<ReturnType<typeof given>>, query: string) => api.get(makeQueryCostHandler, `/api/cost?from=2026-11-01&to=2026-11-25&${query}`);

  it('narrows the spend to one project, user, server or tool, by day or by that dimension', async () => {
    const api = await given();
    expect((await cost(api, 'groupBy=day')).body.total.costUsd).toBeCloseTo(31);
    expect((await cost(api, 'groupBy=day&projectId=web')).body.total.costUsd).toBeCloseTo(3);
    expect((await cost(api, 'groupBy=day&projectId=api')).body.groups.map((g: any) => [g.key, g.costUsd])).toEqual([['2026-11-24', 4], ['2026-11-25', 8]]);
    expect((await cost(api, 'groupBy=user&userId=bob')).body.groups.map((g: any) => g.key)).toEqual(['bob']);
    expect((await cost(api, 'groupBy=server&server=github')).body.total.costUsd).toBeCloseTo(13);
    expect((await cost(api, 'groupBy=tool&server=github&tool=search')).body.groups.map((g: any) => [g.key, g.costUsd])).toEqual([['github/search', 5]]);
    // A tool without a server: that tool on every server.
    expect((await cost(api, 'groupBy=day&tool=read')).body.total.costUsd).toBeCloseTo(2);
    expect((await cost(api, 'groupBy=tool&tool=files%2Fread')).body.groups.map((g: any) => [g.key, g.costUsd])).toEqual([['fs/files/read', 16]]);
    expect((await cost(api, 'groupBy=day&projectId=nobody')).body.total.costUsd).toBe(0);
  });

  it("keeps apart server a's tool b/c and server a/b's tool c, whose keys were both a/b/c", async () => {
    const api = setup();
    const call = (server: string, tool: string, costUsd: number) =>
      interaction(anEnvelope({ orgId: 'org-a', server: { name: server, command: server } }), '2026-11-25T10:00:00.000Z', { target: tool, costUsd, model: 'gpt-4o' });
    await api.ingest([call('a', 'b/c', 1), call('a', 'b/c', 1), call('a', 'b/c', 1), call('a/b', 'c', 10), call('a/b', 'c', 10), call('x%y', 'c', 100)]);
    await api.project();
    // A '/' or '%' in a server's name is escaped in the key; the tool's name ends the key as it is.
    expect((await cost(api, 'groupBy=tool')).body.groups.map((g: any) => [g.key, g.interactions]).sort()).toEqual([['a%2Fb/c', 2], ['a/b/c', 3], ['x%25y/c', 1]]);
    const total = async (query: string) => (await cost(api, `groupBy=day&${query}`)).body.total.costUsd;
    expect(await total('server=a&tool=b%2Fc')).toBeCloseTo(3);
    expect(await total('server=a%2Fb&tool=c')).toBeCloseTo(20);
    expect(await total('tool=c')).toBeCloseTo(120);
    expect(await total('tool=b%2Fc')).toBeCloseTo(3);
  });

  it('reads spend stored before tool keys were escaped under the escaped key, and sums it with what comes after', async () => {
    const api = setup();
    const call = (costUsd: number, at: string) => interaction(anEnvelope({ orgId: 'org-a', server: { name: 'a/b', command: 'x' } }), at, { target: 'c', costUsd, model: 'gpt-4o' });
    await api.ingest([call(10, '2026-11-25T09:00:00.000Z')]);
    await api.project();
    // As the projection before wrote them: the key `${server}/${tool}` unescaped, and no toolKeys mark.
    for (const doc of await api.readModelStore.query<any>('cost', 'org-a', { where: { kind: 'bucket' } })) {
      const { toolKeys: _mark, ...old } = doc;
      old.groups = { ...doc.groups, tool: { 'a/b/c': doc.groups.tool['a%2Fb/c'] } };
      await api.readModelStore.upsert('cost', 'org-a', doc.id, old);
    }
    const total = async (query: string) => (await cost(api, `groupBy=day&${query}`)).body.total.costUsd;
    expect(await total('server=a%2Fb&tool=c')).toBeCloseTo(10);
    expect(await total('tool=c')).toBeCloseTo(10);
    expect(await total('tool=b%2Fc')).toBe(0);
    // A call after: the bucket is rewritten with escaped keys, the old spend under the same key.
    await api.ingest([call(5, '2026-11-25T10:00:00.000Z')]);
    await api.project();
    expect((await cost(api, 'groupBy=tool')).body.groups.map((g: any) => [g.key, g.costUsd])).toEqual([['a%2Fb/c', 15]]);
    expect(await total('server=a%2Fb&tool=c')).toBeCloseTo(15);
  });

  it('answers for a key its day summed under (other), from the hours of that day', async () => {
    const api = setup();
    // 520 users in one day, about 22 an hour: the day keeps 500 of them, each hour all of its own.
    const calls = Array.from({ length: 520 }, (_, i) =>
      interaction(anEnvelope({ orgId: 'org-a', userId: `user-${String(i).padStart(3, '0')}` }), `2026-11-25T${String(i % 24).padStart(2, '0')}:00:00.000Z`, { costUsd: 1, model: 'gpt-4o' }),
    );
    for (let i = 0; i < calls.length; i += 100) await api.ingest(calls.slice(i, i + 100));
    while ((await api.project()) > 0);
    const day = (await api.readModelStore.get<any>('cost', 'org-a', 'day|2026-11-25'))!.doc;
    expect(Object.keys(day.groups.user)).toHaveLength(501);
    const hidden = calls.map((call) => call.userId).find((user) => day.groups.user[user] === undefined)!;
    // Before, 0: the user's spend was in the day's (other).
    expect((await cost(api, `groupBy=day&userId=${hidden}`)).body.total).toMatchObject({ costUsd: 1, interactions: 1 });
    expect((await cost(api, `groupBy=user&userId=${hidden}`)).body.groups.map((g: any) => [g.key, g.costUsd])).toEqual([[hidden, 1]]);
    expect((await api.get(makeQueryCostSummaryHandler, `/api/cost/summary?userId=${hidden}`)).body.today.costUsd).toBeCloseTo(1);
    expect((await cost(api, 'groupBy=day')).body.total).toMatchObject({ costUsd: 520, interactions: 520 });
    // Every hour held all of its users: the filtered figures are whole, and say so.
    expect((await cost(api, `groupBy=day&userId=${hidden}`)).body.complete).toBe(true);
  });

  it('says a filtered answer may miss spend when one hour had more keys than a bucket keeps (500)', async () => {
    const api = setup();
    // 520 users in one hour: the hour keeps 500, the other 20 are summed under (other).
    const calls = Array.from({ length: 520 }, (_, i) =>
      interaction(anEnvelope({ orgId: 'org-a', userId: `user-${String(i).padStart(3, '0')}` }), '2026-11-25T10:00:00.000Z', { costUsd: 1, model: 'gpt-4o' }),
    );
    for (let i = 0; i < calls.length; i += 100) await api.ingest(calls.slice(i, i + 100));
    while ((await api.project()) > 0);
    const hour = (await api.readModelStore.get<any>('cost', 'org-a', 'hour|2026-11-25T10'))!.doc;
    const hidden = calls.map((call) => call.userId).find((user) => hour.groups.user[user] === undefined)!;
    // Its spend is in (other): the answer reads $0 for it, and no longer passes that off as the whole of it.
    const filtered = (await cost(api, `groupBy=day&userId=${hidden}`)).body;
    expect([filtered.total.costUsd, filtered.complete]).toEqual([0, false]);
    expect((await api.get(makeQueryCostSummaryHandler, `/api/cost/summary?userId=${hidden}`)).body.complete).toBe(false);
    // Unfiltered, nothing is missed: the (other) row is in the groups, the totals whole.
    const all = (await cost(api, 'groupBy=user')).body;
    expect([all.complete, all.total.costUsd, all.groups.find((g: any) => g.key === '(other)')?.interactions]).toEqual([true, 520, 20]);
    // Another dimension's filter is not touched by the users' overflow.
    expect((await cost(api, 'groupBy=day&server=github')).body.complete).toBe(true);
    // A user the hour kept a group for had it before the overflow: all their spend is theirs, and the answer whole.
    const kept = calls.map((call) => call.userId).find((user) => hour.groups.user[user] !== undefined)!;
    const theirs = (await cost(api, `groupBy=day&userId=${kept}`)).body;
    expect([theirs.total.costUsd, theirs.complete]).toEqual([1, true]);
    expect((await api.get(makeQueryCostSummaryHandler, `/api/cost/summary?userId=${kept}`)).body.complete).toBe(true);
  });

  it('answers a range given with times from the hours at its ends (the Overview\'s last hour), not whole days', async () => {
    const api = setup();
    await api.ingest([spend(1, '2026-11-24T20:16:00.000Z'), spend(2, '2026-11-25T02:00:00.000Z'), spend(4, '2026-11-25T09:40:00.000Z'), spend(8, '2026-11-25T10:05:00.000Z')]);
    while ((await api.project()) > 0);
    const at = (from: string, to: string) => api.get(makeQueryCostHandler, `/api/cost?from=${from}&to=${to}&groupBy=day`);
    // Before, both ends were read as their whole days: $15 for the last hour.
    expect((await at('2026-11-25T09:30:00Z', '2026-11-25T10:30:00Z')).body).toMatchObject({ from: '2026-11-25T09:00:00.000Z', to: '2026-11-25T11:00:00.000Z', total: { costUsd: 12, interactions: 2 } });
    expect((await at('2026-11-24T10:30:00Z', '2026-11-25T09:59:00Z')).body.groups.map((g: any) => [g.key, g.costUsd])).toEqual([['2026-11-24', 1], ['2026-11-25', 6]]);
    expect((await at('2026-11-23T10:30:00Z', '2026-11-24T10:30:00Z')).body.total.costUsd).toBe(0);
    expect((await api.get(makeQueryCostHandler, '/api/cost?from=2026-11-24&to=2026-11-25&groupBy=day')).body).toMatchObject({ from: '2026-11-24', to: '2026-11-25', total: { costUsd: 15 } });
  });

  it('refuses what it cannot honour instead of ignoring it', async () => {
    const api = await given();
    expect(await cost(api, 'groupBy=server&projectId=web')).toMatchObject({ status: 400, body: { error: expect.stringContaining('with a project filter, group by day or project') } });
    expect(await cost(api, 'groupBy=day&projectId=web&server=github')).toMatchObject({ status: 400, body: { error: expect.stringContaining('not per pair') } });
    expect(await api.get(makeQueryCostSummaryHandler, '/api/cost/summary?from=2026-11-01')).toMatchObject({ status: 400 });
    expect(await api.get(makeQueryContextTaxHandler, '/api/cost/context-tax?projectId=web')).toMatchObject({ status: 400 });
    expect(await api.get(makeQueryBudgetsHandler, '/api/budgets?server=github')).toMatchObject({ status: 400 });
  });

  it('narrows the summary, and the budgets to the org and one project', async () => {
    const api = await given();
    const summary = (await api.get(makeQueryCostSummaryHandler, '/api/cost/summary?projectId=api')).body;
    expect(summary.today.costUsd).toBeCloseTo(8);
    expect(summary.yesterday.costUsd).toBeCloseTo(4);
    await api.setBudget({ monthlyUsd: 100 });
    await api.setBudget({ monthlyUsd: 10 }, 'web');
    await api.setBudget({ monthlyUsd: 20 }, 'api');
    await api.project();
    const budgets = (await api.get(makeQueryBudgetsHandler, '/api/budgets?projectId=web')).body.budgets;
    expect(budgets.map((b: any) => [b.scope, b.projectId])).toEqual([['org', null], ['project', 'web']]);
    // A key of project web reads its project's budget, not the org's, whose spend is every project's.
    const ofKey = (await api.get(makeQueryBudgetsHandler, '/api/budgets', 'key-web')).body.budgets;
    expect(ofKey.map((b: any) => [b.scope, b.projectId, b.spentUsd])).toEqual([['project', 'web', expect.any(Number)]]);
    expect(ofKey[0].spentUsd).toBeLessThan(budgets[0].spentUsd);
  });
});
