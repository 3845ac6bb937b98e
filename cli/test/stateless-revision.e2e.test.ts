import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { startEmbeddedHost } from '@km/functions/dist/host/embedded-host';
import { KM_BIN, getJson, requireBuiltKm, until } from './e2e-support';
import { tempHome } from './helpers';

/**
 * The 2026-07-28 revision has no handshake: km must record from the first request and learn the revision from _meta.
 * The same client exchange on each of km's paths: the stdio wrapper, `km --url` (stdio to the client, Streamable
 * HTTP upstream) and `km proxy` (Streamable HTTP on both sides); the fixture serves the revision on stdio or HTTP.
 */
const FIXTURE = join(__dirname, 'fixtures', 'stateless-server.js');

describe('km with a 2026-07-28 server (no initialize)', () => {
  let host: Awaited<ReturnType<typeof startEmbeddedHost>>;
  let home: string;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    requireBuiltKm();
    home = tempHome('km-2026');
    host = await startEmbeddedHost({ home, port: 0 });
  });
  afterAll(async () => {
    children.forEach((c) => c.kill('SIGKILL'));
    await host?.close();
  });

  const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} }, 'io.modelcontextprotocol/clientInfo': { name: 'future-client', version: '9' } };
  const requests = [
    { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'book', arguments: {}, _meta: meta } },
    { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'book', arguments: {}, inputResponses: { confirm: { action: 'accept' } }, _meta: meta } },
    { jsonrpc: '2.0', id: 3, method: 'server/discover', params: { _meta: meta } },
    { jsonrpc: '2.0', id: 4, method: 'tools/list', params: { _meta: { ...meta, 'io.modelcontextprotocol/protocolVersion': '2025-11-25' } } },
  ];
  const env = () => ({ PATH: process.env.PATH ?? '', HOME: home, KM_HOME: home, KM_USER: 'future@example.com' });

  /** The fixture on Streamable HTTP, once it listens. */
  async function startHttpFixture(): Promise<string> {
    const fixture = spawn(process.execPath, [FIXTURE, '--http'], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(fixture);
    let out = '';
    fixture.stdout!.on('data', (c: Buffer) => (out += c));
    return until('the HTTP fixture to listen', () => /^(http:\S+)\n/.exec(out)?.[1]);
  }

  /** A client that speaks the revision over stdio: one request at a time, as a client awaiting each answer would. */
  async function exchangeOverStdio(args: string[]): Promise<unknown[]> {
    const km = spawn(process.execPath, [KM_BIN, ...args], { env: env() });
    children.push(km);
    let out = '';
    km.stdout.on('data', (c) => (out += c));
    for (const [i, request] of requests.entries()) {
      km.stdin.write(JSON.stringify(request) + '\n');
      await until(`the answer to request ${request.id}`, () => (out.split('\n').length > i + 1 ? true : undefined));
    }
    km.stdin.end();
    expect(await new Promise((r) => km.on('close', r))).toBe(0);
    return out.split('\n').filter(Boolean).map((line) => JSON.parse(line));
  }

  /** Then the session and its interactions on the API, the same whatever the path. */
  async function expectRecorded(serverName: string): Promise<void> {
    const api = (path: string) => getJson(host.url, path);
    const session = await until('the ended session', async () => ((await api('/api/sessions')).sessions as any[]).find((s) => s.server.name === serverName && s.endedAt));
    expect(session).toMatchObject({ protocolVersion: '2026-07-28', client: { name: 'future-client', version: '9' }, serverInfo: { name: 'stateless-fixture' }, interactionCount: 4, errorCount: 1 });
    const { interactions } = await api(`/api/sessions/${session.id}/interactions`);
    expect((interactions as any[]).map((i) => [i.method, i.target, i.resultType, i.protocolVersion, i.outcome])).toEqual([
      ['tools/call', 'book', 'input_required', '2026-07-28', 'ok'],
      ['tools/call', 'book', 'complete', '2026-07-28', 'ok'],
      ['server/discover', null, 'complete', '2026-07-28', 'ok'],
      ['tools/list', null, null, '2025-11-25', 'error'],
    ]);
  }

  it('records every leg of a multi round-trip call and the revision, straight from the first request', async () => {
    const answers = await exchangeOverStdio(['--name', 'stateless', '--', process.execPath, FIXTURE]);
    expect(answers.map((a: any) => a.id)).toEqual([1, 2, 3, 4]);
    await expectRecorded('stateless');
  });

  it('through km --url: each request posted on its own with the headers the revision mirrors, and recorded the same', async () => {
    const url = await startHttpFixture();
    const answers = await exchangeOverStdio(['--name', 'stateless-url', '--url', url]);
    // The fixture refuses a request whose Mcp-Protocol-Version, Mcp-Method or Mcp-Name does not mirror its body.
    expect(answers).toMatchObject([
      { id: 1, result: { resultType: 'input_required' } },
      { id: 2, result: { resultType: 'complete', content: [{ text: 'booked' }] } },
      { id: 3, result: { serverInfo: { name: 'stateless-fixture' } } },
      { id: 4, error: { code: -32022 } },
    ]);
    await expectRecorded('stateless-url');
  }, 60_000);

  it('through km proxy: the client posts each request with its headers, answers pass through, and it is recorded the same', async () => {
    const upstream = await startHttpFixture();
    const proxy = spawn(process.execPath, [KM_BIN, 'proxy', '--upstream', upstream, '--port', '0', '--name', 'stateless-proxy'], { env: env(), stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(proxy);
    let out = '';
    proxy.stdout!.on('data', (c: Buffer) => (out += c));
    const url = await until('the proxy to listen', () => /km proxy: (http:\/\/\S+) forwards/.exec(out)?.[1], 30_000);

    const answers: unknown[] = [];
    for (const request of requests) {
      const version = request.params._meta['io.modelcontextprotocol/protocolVersion'];
      const name = 'name' in request.params ? { 'mcp-name': request.params.name } : {};
      const response = await fetch(new URL('mcp', url), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': version, 'mcp-method': request.method, ...name },
        body: JSON.stringify(request),
      });
      expect(response.status).toBe(200);
      const text = await response.text();
      // tools/call comes back on an SSE stream, the rest as JSON: both untouched.
      answers.push(JSON.parse(response.headers.get('content-type') === 'text/event-stream' ? /^data: (.*)$/m.exec(text)![1]! : text));
    }
    expect(answers).toMatchObject([
      { id: 1, result: { resultType: 'input_required' } },
      { id: 2, result: { resultType: 'complete' } },
      { id: 3, result: { serverInfo: { name: 'stateless-fixture' } } },
      { id: 4, error: { code: -32022 } },
    ]);
    const exited = new Promise((resolve) => proxy.on('exit', resolve));
    proxy.kill('SIGTERM');
    await exited;
    await expectRecorded('stateless-proxy');
  }, 60_000);
});
