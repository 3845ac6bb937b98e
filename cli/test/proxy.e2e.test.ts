import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { KM_BIN, requireBuiltKm, spooledEvents, startRemoteEverything, until } from './e2e-support';
import { tempHome } from './helpers';

/**
 * Issue 13: `km proxy` between a client that speaks Streamable HTTP (the MCP SDK's) and a remote server
 * (server-everything in its streamableHttp mode): everything passes through, and the session is recorded.
 */
describe('km proxy', () => {
  const children: ChildProcess[] = [];
  beforeAll(() => requireBuiltKm());
  afterAll(() => children.forEach((c) => c.kill('SIGKILL')));

  /** server-everything in its streamableHttp mode, and km proxy in front of it, once it says where it listens. */
  async function proxyToEverything(home: string, args: string[] = []) {
    const { port: upstreamPort, child: upstream } = await startRemoteEverything();
    children.push(upstream);
    const proxy = spawn(process.execPath, [KM_BIN, 'proxy', '--upstream', `http://127.0.0.1:${upstreamPort}/mcp`, '--port', '0', ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: home, KM_HOME: home, KM_ENDPOINT: 'http://127.0.0.1:9', KM_USER: 'proxy@example.com' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(proxy);
    let out = '';
    proxy.stdout!.on('data', (c: Buffer) => (out += c));
    const url = await until('the proxy to listen', () => /km proxy: (http:\/\/\S+) forwards/.exec(out)?.[1], 30_000);
    return { proxy, url };
  }

  it('forwards a Streamable HTTP session to the remote server and records it', async () => {
    const home = tempHome('km-proxy');
    const { proxy, url } = await proxyToEverything(home, ['--name', 'everything-http']);

    const client = new Client({ name: 'km-proxy-e2e', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL('mcp', url)));
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('echo');
    expect(await client.callTool({ name: 'echo', arguments: { message: 'through the proxy' } })).toMatchObject({ content: [{ text: 'Echo: through the proxy' }] });
    // A call of several seconds whose progress comes as an SSE stream before its answer.
    const progress: number[] = [];
    const slow = await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 3, steps: 3 } }, undefined, { onprogress: (p) => progress.push(p.progress), timeout: 60_000 });
    expect(JSON.stringify(slow)).toContain('completed');
    // The server sends its last step's progress and the answer at once, and now and then the answer wins (its
    // stream then ends): the steps before it always come, in order.
    expect(progress.slice(0, 2)).toEqual([1, 2]);
    expect([[1, 2], [1, 2, 3]]).toContainEqual(progress);
    await client.close();

    const exited = new Promise((resolve) => proxy.on('exit', resolve));
    proxy.kill('SIGTERM');
    await exited;
    const events = spooledEvents(home);
    expect(events.find((e) => e.type === 'session.started')).toMatchObject({ transport: 'http', server: { name: 'everything-http' } });
    expect(events.filter((e) => e.type === 'mcp.interaction').map((e) => [e.method, e.target, e.outcome])).toEqual(
      expect.arrayContaining([
        ['initialize', null, 'ok'],
        ['tools/list', null, 'ok'],
        ['tools/call', 'echo', 'ok'],
        ['tools/call', 'trigger-long-running-operation', 'ok'],
      ]),
    );
    expect(events.find((e) => e.type === 'session.ended')).toMatchObject({ signal: 'SIGTERM' });
  }, 90_000);

  it('pairs each client by its own ids: two clients at once, both numbering from 0, each call answered', async () => {
    const home = tempHome('km-proxy-two');
    const { proxy, url } = await proxyToEverything(home);

    // Both start at once: two initializes with id 0 and no session yet, each paired in its own exchange.
    const slow = new Client({ name: 'slow', version: '1.0.0' });
    const fast = new Client({ name: 'fast', version: '1.0.0' });
    await Promise.all([slow.connect(new StreamableHTTPClientTransport(new URL('mcp', url))), fast.connect(new StreamableHTTPClientTransport(new URL('mcp', url)))]);
    let progressed = false;
    const long = slow.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 2, steps: 2 } }, undefined, { onprogress: () => (progressed = true), timeout: 60_000 });
    await until('the long call to be under way', () => progressed || undefined, 30_000);
    // The second client's call uses the id the first one's pending call has.
    expect(await fast.callTool({ name: 'echo', arguments: { message: 'beside it' } })).toMatchObject({ content: [{ text: 'Echo: beside it' }] });
    expect(JSON.stringify(await long)).toContain('completed');
    await Promise.all([slow.close(), fast.close()]);

    const exited = new Promise((resolve) => proxy.on('exit', resolve));
    proxy.kill('SIGTERM');
    await exited;
    const events = spooledEvents(home);
    // Before, one id space for every client: the slow client's initialize and call were recorded unanswered, beside
    // "request id 0 reused while still pending" and "response to id 0 that no request used".
    expect(events.filter((e) => e.type === 'protocol.violation')).toEqual([]);
    const calls = events.filter((e) => e.type === 'mcp.interaction').map((e) => [e.method, e.target, e.outcome]);
    expect(calls.filter(([method]) => method === 'initialize')).toEqual([['initialize', null, 'ok'], ['initialize', null, 'ok']]);
    expect(calls.filter(([method]) => method === 'tools/call').sort()).toEqual([['tools/call', 'echo', 'ok'], ['tools/call', 'trigger-long-running-operation', 'ok']]);
  }, 90_000);
});
