import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { createServer, type Server } from 'node:http';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { countO200kTokens } from '@km/shared';
import { startEmbeddedHost } from '@km/functions/dist/host/embedded-host';
import { BIN_DIR, KM_BIN, requireBuiltKm, until } from './e2e-support';
import { tempHome } from './helpers';

/**
 * Cost Center end to end: the MCP SDK client calls server-everything through km, the cost plugin prices each
 * interaction, the cost projector folds it, and the API shows it; a budget set low crosses 50, 80 and 100 percent
 * once each, and a webhook receiver in this test gets exactly one call per threshold.
 */

describe('Cost Center through km and server-everything', () => {
  // The receivers here listen on 127.0.0.1, a private address: km calls webhooks there only when told to.
  beforeAll(() => void (process.env.KM_WEBHOOK_ALLOW_PRIVATE = 'true'));
  afterAll(() => void delete process.env.KM_WEBHOOK_ALLOW_PRIVATE);
  let host: Awaited<ReturnType<typeof startEmbeddedHost>>;
  let home: string;
  let hooks: Server;
  let hookUrl: string;
  const received: any[] = [];

  beforeAll(async () => {
    requireBuiltKm();
    home = tempHome('km-cost-e2e');
    host = await startEmbeddedHost({ home, port: 0, projectorIntervalMs: 100, logger: { info() {}, warn() {}, error() {} } });
    hooks = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve));
    hookUrl = `http://127.0.0.1:${(hooks.address() as { port: number }).port}/hook`;
  });
  afterAll(async () => {
    await host?.close();
    await new Promise((resolve) => hooks?.close(resolve));
  });

  const api = async (path: string, init?: RequestInit) => {
    const res = await fetch(`${host.url}${path}`, init);
    return { status: res.status, body: (await res.json()) as any };
  };

  async function session(project: string) {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [KM_BIN, '--project', project, '--name', 'everything', '--', join(BIN_DIR, 'mcp-server-everything'), 'stdio'],
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KM_HOME: home, KM_USER: 'cost@example.com', KM_MODEL: 'gpt-4o' },
      stderr: 'ignore',
    });
    const client = new Client({ name: 'km-cost-e2e', version: '1.0.0' });
    await client.connect(transport);
    await client.listTools();
    const echo = await client.callTool({ name: 'echo', arguments: { message: 'hello km, what does this cost?' } });
    await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 40 } });
    await client.close();
    return echo;
  }

  it("a session's cost appears in /api/cost, and a low budget crosses each threshold once", async () => {
    const put = await api('/api/budgets/project/cost-e2e', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ monthlyUsd: 0.0001, webhookUrl: hookUrl }),
    });
    expect(put.status).toBe(202);

    const echo = (await session('cost-e2e')) as { content: Array<{ text: string }> };
    const byTool = await until('the session priced in /api/cost', async () => {
      const { body } = await api('/api/cost?groupBy=tool');
      return (body.groups as any[]).some((g) => g.key === 'everything/get-sum') ? body : undefined;
    });
    expect(byTool).toMatchObject({ groupBy: 'tool', currency: 'USD' });
    const echoGroup = byTool.groups.find((g: any) => g.key === 'everything/echo');
    // gpt-4o is an o200k model: tokensIn is the exact count of the text the tool returned.
    expect(echoGroup.tokensIn).toBe(countO200kTokens(echo.content.map((c) => c.text).join('\n')));
    expect(echoGroup.tokensOut).toBeGreaterThan(5);
    expect(echoGroup.costUsd).toBeCloseTo((echoGroup.tokensIn * 2.5 + echoGroup.tokensOut * 10) / 1e6, 12);
    expect(byTool.total.interactions).toBeGreaterThanOrEqual(4);

    const byModel = (await api('/api/cost?groupBy=model')).body;
    expect(byModel.groups.map((g: any) => g.key)).toEqual(['gpt-4o']);
    const byProject = (await api('/api/cost?groupBy=project')).body;
    expect(byProject.groups[0]).toMatchObject({ key: 'cost-e2e' });
    expect(byProject.groups[0].costUsd).toBeCloseTo(byTool.total.costUsd, 12);

    const tax = (await api('/api/cost/context-tax')).body;
    expect(tax.servers).toHaveLength(1);
    expect(tax.servers[0]).toMatchObject({ server: 'everything', tools: expect.any(Number) });
    expect(tax.servers[0].contextTokens).toBeGreaterThan(100);
    expect(tax.servers[0].costUsdPerSession).toBeCloseTo((tax.servers[0].contextTokens * 2.5) / 1e6, 9);

    const summary = (await api('/api/cost/summary')).body;
    expect(summary.today.costUsd).toBeCloseTo(byTool.total.costUsd, 12);
    expect(summary.byDay).toHaveLength(30);

    await until('three webhook calls', async () => (received.length >= 3 ? true : undefined));
    const budgets = (await api('/api/budgets')).body.budgets;
    expect(budgets).toEqual([expect.objectContaining({ scope: 'project', projectId: 'cost-e2e', monthlyUsd: 0.0001, crossed: [50, 80, 100] })]);

    // A second session spends more in the same period: no threshold is crossed twice.
    await session('cost-e2e');
    await until('the second session', async () => {
      const { body } = await api('/api/cost?groupBy=tool');
      return body.groups.find((g: any) => g.key === 'everything/echo').interactions === 2 ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 1000));
    expect(received.map((body) => body.km.threshold).sort((a, b) => a - b)).toEqual([50, 80, 100]);
    expect(received[0].text).toMatch(/project cost-e2e/);
    expect(received[0]['@type']).toBe('MessageCard');

    // `km report` prints the same figures from the local stack's API; `km budget set` goes through the same API.
    const km = (...args: string[]) => promisify(execFile)(process.execPath, [KM_BIN, ...args], { env: { ...process.env, KM_HOME: home } });
    const { stdout } = await km('report');
    expect(stdout).toMatch(/today/);
    expect(stdout).toMatch(/cost-e2e/);
    expect((await km('budget', 'set', '1000', '--org')).stdout).toBe('budget for the org: $1000 a month\n');
    await expect(km('budget', 'set', '10')).rejects.toMatchObject({ stderr: 'km: say which budget: --project <id>, --team <id> or --org (one of them)\n', code: 2 });
    const withOrg = await until('the org budget', async () => {
      const { body } = await api('/api/budgets');
      return body.budgets.length === 2 ? body.budgets : undefined;
    });
    expect(withOrg[0]).toMatchObject({ scope: 'org', projectId: null, monthlyUsd: 1000, crossed: [] });
    expect(withOrg[0].spentUsd).toBeCloseTo(byTool.total.costUsd * 2, 5);
  });
});
