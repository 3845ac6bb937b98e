import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { EmptyResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startEmbeddedHost } from '@km/functions/dist/host/embedded-host';
import { BIN_DIR, KM_BIN, requireBuiltKm, runKm, until } from './e2e-support';
import { tempHome } from './helpers';

/**
 * The Performance Hub end to end: the SDK client calls real server-everything through km, with one slow tool call,
 * one JSON-RPC error and one tool error; the latency API and km tail must then show them. No upper time bounds
 * anywhere (the machine is shared): only "at least as slow as the operation asked for".
 */
const SLOW_TOOL = 'trigger-long-running-operation';
const SLOW_SECONDS = 1.5;


describe('Performance Hub through km and server-everything', () => {
  let host: Awaited<ReturnType<typeof startEmbeddedHost>>;
  let home: string;
  const startedAt = new Date(Date.now() - 60_000).toISOString();
  beforeAll(async () => {
    requireBuiltKm();
    home = tempHome('km-perf-e2e');
    host = await startEmbeddedHost({ home, port: 0 });
  });
  afterAll(() => host?.close());

  const env = () => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KM_HOME: home, KM_USER: 'perf@example.com' });
  const api = async (path: string) => {
    const response = await fetch(`${host.url}${path}`);
    return { status: response.status, body: (await response.json()) as any };
  };

  it('measures the slow call, counts the errors, and shows them in /api/latency, slowest, bottlenecks and km tail', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [KM_BIN, '--project', 'perf', '--name', 'everything-perf', '--', join(BIN_DIR, 'mcp-server-everything'), 'stdio'],
      env: env(),
      stderr: 'ignore',
    });
    const client = new Client({ name: 'km-perf-e2e', version: '1.0.0' });
    await client.connect(transport);
    const { tools } = await client.listTools();
    const slowTool = tools.find((tool) => tool.name === SLOW_TOOL);
    expect(slowTool?.inputSchema.properties).toMatchObject({ duration: { type: 'number' }, steps: { type: 'number' } });

    const slow = await client.callTool({ name: SLOW_TOOL, arguments: { duration: SLOW_SECONDS, steps: 3 } }, undefined, { timeout: 60_000 });
    expect(JSON.stringify(slow)).toContain('Long running operation completed');
    await client.callTool({ name: 'echo', arguments: { message: 'fast' } });
    await client.callTool({ name: 'echo', arguments: { message: 'fast again' } });
    const toolError = await client.callTool({ name: 'get-sum', arguments: { a: 'not a number' } }).catch((error: Error) => ({ isError: true, error }));
    expect(toolError.isError).toBe(true);
    await expect(client.request({ method: 'no/such-method', params: {} }, EmptyResultSchema)).rejects.toThrow(/-32601|not found/i);
    await client.close();
    // initialize, tools/list, the 4 tool calls and the failing request
    const expectedCount = 7;

    const session = await until('the session to end and be projected', async () => {
      const { body } = await api('/api/sessions?projectId=perf');
      const found = (body.sessions as any[]).find((s) => s.server.name === 'everything-perf' && s.endedAt !== null && s.interactionCount === expectedCount);
      if (!found) return undefined;
      // The latency read model is a separate projector: wait until it has folded the whole session as well.
      const { body: servers } = await api(`/api/latency?groupBy=server&from=${startedAt}`);
      return servers.groups.find((g: any) => g.key === 'everything-perf')?.count === expectedCount ? found : undefined;
    });
    const range = `from=${startedAt}&to=${new Date(Date.now() + 120_000).toISOString()}`;

    const byServer = await api(`/api/latency?groupBy=server&${range}`);
    expect(byServer.status).toBe(200);
    const server = byServer.body.groups.find((g: any) => g.key === 'everything-perf');
    expect(server).toMatchObject({ server: 'everything-perf', count: expectedCount, errors: 1, errorCodes: { '-32601': 1 }, toolErrors: 1, timeouts: 0 });
    expect(server.errorRate).toBeCloseTo(2 / expectedCount);
    expect(server.max).toBeGreaterThanOrEqual(SLOW_SECONDS * 1000);
    expect(server.p99).toBeGreaterThanOrEqual(SLOW_SECONDS * 1000); // nearest rank: the slowest of 7 calls
    expect(server.p50).toBeLessThan(server.p99);
    expect(server.totalMs).toBeGreaterThanOrEqual(SLOW_SECONDS * 1000);
    expect(server.bytesIn).toBeGreaterThan(0);
    expect(server.bytesOut).toBeGreaterThan(0);

    const byTool = await api(`/api/latency?groupBy=tool&server=everything-perf&${range}`);
    const slowGroup = byTool.body.groups[0];
    expect(slowGroup).toMatchObject({ key: `everything-perf/${SLOW_TOOL}`, tool: SLOW_TOOL, count: 1, errors: 0 });
    for (const p of ['p50', 'p95', 'p99', 'max']) expect(slowGroup[p]).toBeGreaterThanOrEqual(SLOW_SECONDS * 1000);
    expect(byTool.body.groups.find((g: any) => g.tool === 'echo')).toMatchObject({ count: 2 });
    expect(byTool.body.groups.find((g: any) => g.tool === 'get-sum')).toMatchObject({ count: 1, toolErrors: 1 });

    const byMethod = await api(`/api/latency?groupBy=method&projectId=perf&${range}`);
    expect(byMethod.body.groups.find((g: any) => g.key === 'no/such-method')).toMatchObject({ count: 1, errors: 1, errorRate: 1 });

    const slowest = await api(`/api/latency/slowest?limit=3&${range}`);
    expect(slowest.body.interactions[0]).toMatchObject({ sessionId: session.id, server: 'everything-perf', tool: SLOW_TOOL, method: 'tools/call', outcome: 'ok' });
    expect(slowest.body.interactions[0].latencyMs).toBeGreaterThanOrEqual(SLOW_SECONDS * 1000);

    const bottlenecks = await api(`/api/latency/bottlenecks?sessionId=${session.id}`);
    expect(bottlenecks.body.groups[0]).toMatchObject({ server: 'everything-perf', tool: SLOW_TOOL, count: 1 });
    expect(bottlenecks.body.groups[0].share).toBeGreaterThan(0.5);
    const projectBottlenecks = await api(`/api/latency/bottlenecks?projectId=perf&${range}`);
    expect(projectBottlenecks.body.groups[0]).toMatchObject({ tool: SLOW_TOOL });

    const series = await api(`/api/latency/timeseries?bucket=hour&server=everything-perf&${range}`);
    expect(series.body.points.reduce((n: number, p: any) => n + p.count, 0)).toBe(expectedCount);

    // km tail --once: plain text off a terminal, the slow call and the error on their lines.
    // (spawned asynchronously: the API answers from this very process)
    const once = await runKm(['tail', '--once', '-n', '50'], env());
    expect(once.status).toBe(0);
    expect(once.stdout).not.toContain('\x1b[');
    const lines = once.stdout.trim().split('\n');
    expect(lines).toHaveLength(expectedCount);
    expect(lines.find((line) => line.includes(SLOW_TOOL))).toMatch(/tools\/call trigger-long-running-operation\s+\d+\.\d\d s .* ok$/);
    expect(lines.find((line) => line.includes('no/such-method'))).toMatch(/error -32601/);
    expect(lines.find((line) => line.includes('get-sum'))).toMatch(/tool error$/);

    // Live km tail: shows what is there, keeps polling, and Ctrl-C ends it cleanly.
    const live = spawn(process.execPath, [KM_BIN, 'tail', '--interval', '100'], { env: env() });
    let out = '';
    live.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => live.on('exit', (code) => resolve(code)));
    await until('km tail to print', async () => (out.includes(SLOW_TOOL) ? true : undefined));
    live.kill('SIGINT');
    expect(await exited).toBe(0);
  });
});
