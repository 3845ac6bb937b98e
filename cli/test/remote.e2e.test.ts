import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { ChildProcess } from 'node:child_process';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startEmbeddedHost } from '@km/functions/dist/host/embedded-host';
import { KM_BIN, getJson, requireBuiltKm, runKm, spooledEvents, startRemoteEverything, until } from './e2e-support';
import { tempHome } from './helpers';

/**
 * Issue 13: `km --url` bridges a remote (Streamable HTTP) MCP server to a client that speaks stdio, recording the
 * session like a stdio one. The remote is server-everything in its streamableHttp mode; the client the MCP SDK's.
 */
const kmClient = (home: string, args: string[], endpoint = 'http://127.0.0.1:9', env: Record<string, string> = {}) =>
  new StdioClientTransport({ command: process.execPath, args: [KM_BIN, ...args], env: { PATH: process.env.PATH ?? '', HOME: home, KM_HOME: home, KM_ENDPOINT: endpoint, KM_USER: 'remote@example.com', ...env }, stderr: 'ignore' });

describe('km --url (a remote server)', () => {
  let remote: ChildProcess;
  let port: number;
  beforeAll(async () => {
    requireBuiltKm();
    ({ port, child: remote } = await startRemoteEverything());
  }, 100_000);
  afterAll(() => remote?.kill());

  it('serves the remote tools over stdio and records the session as transport http', async () => {
    const home = tempHome('km-remote');
    const client = new Client({ name: 'km-remote-e2e', version: '1.0.0' });
    await client.connect(kmClient(home, ['--name', 'everything-remote', '--url', `http://127.0.0.1:${port}/mcp`]));
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('echo');
    expect(await client.callTool({ name: 'echo', arguments: { message: 'over http' } })).toMatchObject({ content: [{ type: 'text', text: 'Echo: over http' }] });
    // A call of several seconds whose progress comes as an SSE stream before its answer.
    const progress: number[] = [];
    const slow = await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 3, steps: 3 } }, undefined, { onprogress: (p) => progress.push(p.progress), timeout: 60_000 });
    expect(JSON.stringify(slow)).toContain('completed');
    // The server sends its last step's progress and the answer at once, and now and then the answer wins (its
    // stream then ends): the steps before it always come, in order.
    expect(progress.slice(0, 2)).toEqual([1, 2]);
    expect([[1, 2], [1, 2, 3]]).toContainEqual(progress);
    await client.close();
    const events = await until('the session end', () => {
      const all = spooledEvents(home);
      return all.some((e) => e.type === 'session.ended') ? all : undefined;
    });
    expect(events.find((e) => e.type === 'session.started')).toMatchObject({ transport: 'http', server: { name: 'everything-remote', command: `http://127.0.0.1:${port}/mcp` } });
    const calls = events.filter((e) => e.type === 'mcp.interaction').map((e) => [e.method, e.target, e.outcome]);
    expect(calls).toEqual([
      ['initialize', null, 'ok'],
      ['tools/list', null, 'ok'],
      ['tools/call', 'echo', 'ok'],
      ['tools/call', 'trigger-long-running-operation', 'ok'],
    ]);
    expect(events.filter((e) => e.type === 'mcp.notification' && e.method === 'notifications/progress')).toHaveLength(3);
    expect(events.find((e) => e.target === 'trigger-long-running-operation').latencyMs).toBeGreaterThan(2000);
    expect(events.find((e) => e.method === 'tools/call').protocolVersion).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  }, 60_000);

  it('is in the sessions API as transport http, with the client and server it named', async () => {
    const home = tempHome('km-remote-api');
    const host = await startEmbeddedHost({ home, port: 0 });
    try {
      const client = new Client({ name: 'km-remote-e2e', version: '1.0.0' });
      await client.connect(kmClient(home, ['--name', 'everything-remote-api', '--url', `http://127.0.0.1:${port}/mcp`], host.url));
      expect((await client.callTool({ name: 'echo', arguments: { message: 'into the API' } })).isError).toBeFalsy();
      await client.close();
      const listed = await until('the ended session in the sessions API', async () => {
        const { sessions } = await getJson(host.url, '/api/sessions');
        return sessions.find((s: any) => s.server.name === 'everything-remote-api' && s.endedAt !== null && s.interactionCount === 2);
      });
      expect(listed).toMatchObject({ transport: 'http', client: { name: 'km-remote-e2e', version: '1.0.0' } });
      expect(await getJson(host.url, `/api/sessions/${listed.id}`)).toMatchObject({ transport: 'http', client: { name: 'km-remote-e2e', version: '1.0.0' }, serverInfo: { name: expect.any(String) } });
    } finally {
      await host.close();
    }
  }, 60_000);

  it('answers what was piped in before stdin ended, and the session in the API has the client of that initialize', async () => {
    const home = tempHome('km-remote-piped');
    const host = await startEmbeddedHost({ home, port: 0 });
    try {
      const lines = [
        { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'by-hand', version: '0.1' } } },
        { jsonrpc: '2.0', method: 'notifications/initialized' },
        { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      ];
      const env = { PATH: process.env.PATH ?? '', HOME: home, KM_HOME: home, KM_ENDPOINT: host.url, KM_USER: 'remote@example.com' };
      const piped = await runKm(['--name', 'everything-piped', '--url', `http://127.0.0.1:${port}/mcp`], env, lines.map((l) => JSON.stringify(l) + '\n').join(''));
      expect(piped.status).toBe(0);
      const answers = piped.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
      expect(answers.map((a) => [a.id, 'result' in a])).toEqual([
        [0, true],
        [1, true],
      ]);
      const session = await until('the piped session in the sessions API', async () => {
        const { sessions } = await getJson(host.url, '/api/sessions');
        return sessions.find((s: any) => s.server.name === 'everything-piped' && s.endedAt !== null && s.interactionCount === 2);
      });
      expect(session).toMatchObject({ transport: 'http', client: { name: 'by-hand', version: '0.1' }, errorCount: 0 });
    } finally {
      await host.close();
    }
  }, 60_000);

  it('sends the --header values, and answers a request the remote refuses with a JSON-RPC error naming the cause', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const refusing = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(503, { 'content-type': 'text/plain' }).end('down for maintenance');
    });
    await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
    const home = tempHome('km-remote-down');
    try {
      const url = `http://127.0.0.1:${(refusing.address() as AddressInfo).port}/mcp`;
      const client = new Client({ name: 'km-remote-e2e', version: '1.0.0' });
      await expect(client.connect(kmClient(home, ['--url', url, '--header', 'Authorization: Bearer test-token-123'], undefined, { KM_HEADER_1: 'X-Team: from-env' }))).rejects.toThrow(/km: the remote server 127\.0\.0\.1:\d+ did not answer: .*503.*down for maintenance/);
      await client.close();
      expect(seen[0]!.authorization).toBe('Bearer test-token-123');
      // A header from the entry's env (what km init writes), kept off the command line.
      expect(seen[0]!['x-team']).toBe('from-env');
      const failed = await until('the failed initialize, recorded', () => spooledEvents(home).find((e) => e.type === 'mcp.interaction' && e.method === 'initialize'));
      expect(failed).toMatchObject({ outcome: 'error', error: { code: -32000 } });
      expect(JSON.stringify(spooledEvents(home))).not.toContain('test-token-123'); // headers never reach the record
    } finally {
      refusing.close();
    }
  }, 60_000);
});
