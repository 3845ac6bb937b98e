import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startEmbeddedHost } from '@km/functions/dist/host/embedded-host';
import { KM_BIN, getJson, requireBuiltKm, until } from './e2e-support';
import { tempHome } from './helpers';

/** The 2026-07-28 revision has no handshake: km must record from the first request and learn the revision from _meta. */
describe('km with a 2026-07-28 server (no initialize)', () => {
  let host: Awaited<ReturnType<typeof startEmbeddedHost>>;
  let home: string;
  beforeAll(async () => {
    requireBuiltKm();
    home = tempHome('km-2026');
    host = await startEmbeddedHost({ home, port: 0 });
  });
  afterAll(() => host?.close());

  const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} }, 'io.modelcontextprotocol/clientInfo': { name: 'future-client', version: '9' } };
  const requests = [
    { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'book', arguments: {}, _meta: meta } },
    { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'book', arguments: {}, inputResponses: { confirm: { action: 'accept' } }, _meta: meta } },
    { jsonrpc: '2.0', id: 3, method: 'server/discover', params: { _meta: meta } },
    { jsonrpc: '2.0', id: 4, method: 'tools/list', params: { _meta: { ...meta, 'io.modelcontextprotocol/protocolVersion': '2025-11-25' } } },
  ];

  it('records every leg of a multi round-trip call and the revision, straight from the first request', async () => {
    const km = spawn(process.execPath, [KM_BIN, '--name', 'stateless', '--', process.execPath, join(__dirname, 'fixtures', 'stateless-server.js')], {
      env: { ...process.env, KM_HOME: home, KM_USER: 'future@example.com' },
    });
    let out = '';
    km.stdout.on('data', (c) => (out += c));
    // One request at a time, as a client awaiting each answer would.
    for (const [i, request] of requests.entries()) {
      km.stdin.write(JSON.stringify(request) + '\n');
      while (out.split('\n').length <= i + 1) await new Promise((r) => setTimeout(r, 10));
    }
    km.stdin.end();
    expect(await new Promise((r) => km.on('close', r))).toBe(0);
    expect(out.split('\n').filter(Boolean).map((line) => JSON.parse(line).id)).toEqual([1, 2, 3, 4]);

    const api = (path: string) => getJson(host.url, path);
    const session = await until('the ended session', async () => ((await api('/api/sessions')).sessions as any[]).find((s) => s.server.name === 'stateless' && s.endedAt));
    expect(session).toMatchObject({ protocolVersion: '2026-07-28', client: { name: 'future-client', version: '9' }, serverInfo: { name: 'stateless-fixture' }, interactionCount: 4, errorCount: 1 });
    const { interactions } = await api(`/api/sessions/${session.id}/interactions`);
    expect((interactions as any[]).map((i) => [i.method, i.target, i.resultType, i.protocolVersion, i.outcome])).toEqual([
      ['tools/call', 'book', 'input_required', '2026-07-28', 'ok'],
      ['tools/call', 'book', 'complete', '2026-07-28', 'ok'],
      ['server/discover', null, 'complete', '2026-07-28', 'ok'],
      ['tools/list', null, null, '2025-11-25', 'error'],
    ]);
  });
});
