import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { startEmbeddedHost } from '@km/functions/dist/host/embedded-host';
import { FALSE_POSITIVES, TRUE_POSITIVES } from '../../shared/test/fixtures/secrets-corpus';
import { KM_BIN, requireBuiltKm, until } from './e2e-support';
import { tempHome } from './helpers';

/**
 * Issue 10, "Secrets leave the machine": every corpus secret in every channel of a real session through the built
 * km, shipped to a real embedded `km serve`; then every file under KM_HOME and every API answer the dashboard reads
 * is searched. Nothing may be found, and the look-alikes (UUIDs, git SHAs) must still be where they were.
 */
const SERVER = join(__dirname, 'fixtures', 'echo-everywhere-server.js');
// Not 4111111111111111: a latency sketch's packed bins (run-length digits) held that run by chance, which the
// search of km.db's bytes read as the card (CI, 2026-12-07). Digits as varied as these never come out of a sketch.
const CARD_AS_NUMBER = '4539578763621486';
const ARG_SECRET = ['ghp_', 'Cm4dL1n3aB3dE5fG7hJ9kL1mN3pQ5rS7tU9v'].join('');
const DSN_PASSWORD = 'dsnPassw0rdXyz';
const PEM_LINES = ['-----BEGIN ' + 'RSA PRIVATE KEY-----', ...Array.from({ length: 5 }, (_, i) => `MIIEpAIBAAKCAQEAz${i}Vb7pemLineQ8wWk3Yt5Rp2Ls9Xn4Cv6Bm1Hj`), '-----END ' + 'RSA PRIVATE KEY-----'];
const nest = (value: unknown, depth: number): unknown => {
  let node = value;
  for (let i = 0; i < depth; i++) node = i % 2 === 0 ? { level: node } : [node];
  return node;
};
/** Look-alikes that survive JSON escaping as they are (no quotes or backslashes), so a byte search can find them. */
const LOOK_ALIKES = FALSE_POSITIVES.filter((text) => text.length <= 200 && !/["\\]/.test(text));

/** The strings that must never be found: each secret, and the JSON-escaped form in which a store would hold it. */
const NEEDLES = [
  ...TRUE_POSITIVES.map((item) => ({ rule: item.rule, needle: item.secret })),
  { rule: 'card-number (JSON number)', needle: CARD_AS_NUMBER },
  { rule: 'command-line argument', needle: ARG_SECRET },
  { rule: 'command-line DSN', needle: DSN_PASSWORD },
  ...PEM_LINES.slice(1, -1).map((line) => ({ rule: 'PEM line', needle: line.slice(0, 40) })),
].flatMap(({ rule, needle }) => [{ rule, needle }, { rule: `${rule} (JSON-escaped)`, needle: JSON.stringify(needle).slice(1, -1) }]);

/** A newline JSON-RPC client over km's stdio that answers the server's requests, so each channel is exercised exactly. */
class RawClient {
  private buffer = '';
  private readonly waiting = new Map<string, (message: any) => void>();
  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString('utf8');
      let nl;
      while ((nl = this.buffer.indexOf('\n')) !== -1) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        let message: any;
        try {
          message = JSON.parse(line);
        } catch {
          continue; // the server's non-JSON lines reach the client too, as they would any client
        }
        if (message.method && message.id !== undefined) this.write({ jsonrpc: '2.0', id: message.id, result: { roots: [] } });
        else if (message.id !== undefined) this.waiting.get(JSON.stringify(message.id))?.(message);
      }
    });
  }
  write(message: unknown): void {
    this.child.stdin.write(JSON.stringify(message) + '\n');
  }
  request(id: string | number, method: string, params: unknown): Promise<any> {
    return new Promise((resolve) => {
      this.waiting.set(JSON.stringify(id), resolve);
      this.write({ jsonrpc: '2.0', id, method, params });
    });
  }
  async close(): Promise<number | null> {
    this.child.stdin.end();
    return new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }
}

/** `km flush`: ships what a session's exit budget left in the spool (the host runs in this process, so never spawnSync). */
function flush(kmHome: string): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [KM_BIN, 'flush'], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KM_HOME: kmHome }, stdio: 'ignore' });
    child.on('exit', () => resolve());
  });
}

/** One session that puts each text into every channel the client and the server have. */
async function session(kmHome: string, cwd: string, extraEnv: Record<string, string> = {}): Promise<void> {
  const args = [KM_BIN, '--project', 'leaks', '--name', 'echo-everywhere', '--', process.execPath, SERVER, '--api-key', ARG_SECRET, `postgres://admin:${DSN_PASSWORD}@db.internal/app`];
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KM_HOME: kmHome, KM_USER: 'leaks@example.com', ...extraEnv };
  const client = new RawClient(spawn(process.execPath, args, { cwd, env, stdio: ['pipe', 'pipe', 'ignore'] }) as unknown as ChildProcessWithoutNullStreams);
  let n = 0;
  const texts = [...TRUE_POSITIVES.map((item) => item.text), ...LOOK_ALIKES];
  for (const text of texts) {
    const meta = { 'io.modelcontextprotocol/protocolVersion': text, 'io.modelcontextprotocol/clientInfo': { name: text, version: text } };
    const init = await client.request(text, 'initialize', { protocolVersion: text, capabilities: {}, clientInfo: { name: text, version: text } });
    expect(init.result.serverInfo.name).toBe(text);
    const listed = await client.request(++n, 'tools/list', { cursor: text });
    expect(listed.result.tools[0].name).toBe(text);
    const args = { text, [text]: text, deep: nest({ text }, 70), card: Number(CARD_AS_NUMBER) };
    const echoed = await client.request(++n, 'tools/call', { name: text, arguments: args, _meta: meta });
    expect(echoed.result.structuredContent.value).toBe(text);
    expect((await client.request(++n, 'tools/call', { name: 'fail', arguments: { text } })).result.isError).toBe(true);
    expect((await client.request(++n, 'tools/call', { name: 'throw', arguments: { text } })).error.message).toContain(text);
    expect((await client.request(++n, text, { text })).error.code).toBe(-32601);
    client.write({ jsonrpc: '2.0', method: text, params: { text } });
  }
  // A card number as a numeric request id.
  await client.request(Number(CARD_AS_NUMBER), 'ping', {});
  // A PEM key inside a JSON string (with \n escapes), which the server also prints on stdout line by line.
  await client.request(++n, 'tools/call', { name: 'echo', arguments: { text: 'pem', pem: PEM_LINES.join('\n') } });
  expect(await client.close()).toBe(0);
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** Which needles a text holds, as "rule: where". */
const leaksIn = (where: string, text: string) => NEEDLES.filter(({ needle }) => text.includes(needle)).map(({ rule }) => `${rule}: ${where}`);

describe('secrets in every channel, end to end', () => {
  let host: Awaited<ReturnType<typeof startEmbeddedHost>>;
  let home: string;
  let offline: string;
  beforeAll(async () => {
    requireBuiltKm();
    home = tempHome('km-leaks');
    offline = tempHome('km-leaks-offline');
    host = await startEmbeddedHost({ home, port: 0 });
    const cwd = tempHome('km-leaks-cwd');
    // One session ships to the embedded stack; one ships nowhere, so its spool stays on disk to be searched.
    await session(home, cwd);
    await session(offline, cwd, { KM_ENDPOINT: 'http://127.0.0.1:9' });
  }, 180_000);
  afterAll(() => host?.close());

  const api = async (path: string) => {
    const response = await fetch(`${host.url}${path}`);
    expect([path, response.status]).toEqual([path, 200]);
    return response.text();
  };

  it('no file under KM_HOME and no API answer holds any secret; the look-alikes are still there', async () => {
    // Per text: initialize, tools/list, three tools/call and the call of an unknown method; then the PEM call.
    const expected = (TRUE_POSITIVES.length + LOOK_ALIKES.length) * 6 + 1;
    const sessionId = await until(
      'the session to be projected with all its interactions',
      async () => {
        const { sessions } = JSON.parse(await api('/api/sessions?projectId=leaks'));
        const done = (sessions as any[]).find((s) => s.endedAt !== null && s.interactionCount >= expected);
        if (!done) await flush(home);
        return done?.id as string | undefined;
      },
      120_000,
    );
    const since = new Date(Date.now() - 3_600_000).toISOString();
    const range = `from=${since}&to=${new Date(Date.now() + 120_000).toISOString()}`;
    const routes = [
      '/api/sessions',
      '/api/sessions?projectId=leaks',
      `/api/sessions/${sessionId}`,
      `/api/sessions/${sessionId}/interactions`,
      '/api/interactions/recent',
      '/api/risk/findings',
      '/api/risk/findings?limit=1000',
      '/api/risk/findings?kind=secret',
      '/api/risk/findings?kind=pii',
      '/api/risk/summary',
      '/api/cost/summary',
      '/api/cost/context-tax',
      '/api/cost?groupBy=tool',
      '/api/cost?groupBy=project',
      `/api/latency?groupBy=tool&${range}`,
      `/api/latency?groupBy=method&${range}`,
      `/api/latency?groupBy=server&${range}`,
      `/api/latency/slowest?limit=20&${range}`,
      `/api/latency/bottlenecks?${range}`,
      `/api/latency/timeseries?bucket=hour&${range}`,
    ];
    const answers = new Map<string, string>();
    for (const route of routes) answers.set(route, await api(route));

    const files = [...filesUnder(home), ...filesUnder(offline)];
    expect(files.some((f) => f.endsWith('km.db'))).toBe(true);
    expect(files.some((f) => f.includes(`${sep}spool${sep}`))).toBe(true);
    expect(files.some((f) => f.endsWith('km.log'))).toBe(true);
    expect(files.some((f) => f.includes('tool-definitions'))).toBe(true);
    const contents = new Map(files.map((f) => [f, readFileSync(f)] as const));

    const leaks = [
      ...[...contents].flatMap(([file, bytes]) => [...leaksIn(file, bytes.toString('latin1')), ...leaksIn(file, bytes.toString('utf8'))]),
      ...[...answers].flatMap(([route, body]) => leaksIn(route, body)),
    ];
    expect([...new Set(leaks)]).toEqual([]);

    // The test can fail both ways: what is not a secret is recorded and shown as it was.
    const stored = [...contents.values()].map((bytes) => bytes.toString('utf8')).join('\n');
    const shown = [...answers.values()].join('\n');
    const missing = LOOK_ALIKES.filter((text) => !stored.includes(text) || !shown.includes(text));
    expect(missing).toEqual([]);
    // And the secrets were seen: findings name their rules (never their text).
    const findings = answers.get('/api/risk/summary')!;
    for (const rule of ['github-token', 'private-key', 'card-number', 'aws-secret-access-key']) expect([rule, findings.includes(rule)]).toEqual([rule, true]);
  }, 180_000);
});
