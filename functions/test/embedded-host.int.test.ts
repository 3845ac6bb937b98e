import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, existsSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { hashApiKey } from '../src/adapters/api-key-authenticator';
import { startEmbeddedHost, type EmbeddedHost } from '../src/host/embedded-host';
import type { Logger } from '../src/logger';
import { anEnvelope, interaction, sessionEnded, sessionStarted } from './fixtures';

const ORG_B_KEY = 'key-of-org-b';
const logLines: string[] = [];
const logger: Logger = {
  info: (m) => logLines.push(`info ${m}`),
  warn: (m) => logLines.push(`warn ${m}`),
  error: (m) => logLines.push(`error ${m}`),
};

let home: string;
let dashboardDir: string;
let host: EmbeddedHost;
let localKey: string;

beforeAll(async () => {
  const root = mkdtempSync(join(tmpdir(), 'km-host-'));
  home = join(root, 'km-home');
  dashboardDir = join(root, 'dashboard');
  mkdirSync(join(dashboardDir, 'assets'), { recursive: true });
  writeFileSync(join(dashboardDir, 'index.html'), '<!doctype html><title>km</title>');
  writeFileSync(join(dashboardDir, 'assets', 'app.js'), 'console.log("km")');
  for (const page of ['welcome', 'demo']) {
    mkdirSync(join(dashboardDir, page));
    writeFileSync(join(dashboardDir, page, 'index.html'), `<!doctype html><title>km ${page}</title>`);
  }
  host = await startEmbeddedHost({
    home,
    port: 0,
    dashboardDir,
    logger,
    additionalApiKeys: [{ keyHash: hashApiKey(ORG_B_KEY), orgId: 'org-b' }],
  });
  localKey = readFileSync(join(home, 'api-key'), 'utf8').trim();
});

afterAll(async () => {
  await host?.close();
  rmSync(join(home, '..'), { recursive: true, force: true });
});

const auth = (key: string | null): Record<string, string> => (key === null ? {} : { authorization: `Bearer ${key}` });
async function getJson(path: string, key: string | null = localKey) {
  const response = await fetch(`${host.url}${path}`, { headers: auth(key) });
  return { status: response.status, body: (await response.json()) as any };
}
async function postBatch(events: unknown[], key: string | null = localKey) {
  const response = await fetch(`${host.url}/api/ingest`, {
    method: 'POST',
    headers: { ...auth(key), 'content-type': 'application/json', 'content-encoding': 'gzip' },
    body: gzipSync(JSON.stringify({ events })),
  });
  return { status: response.status, body: (await response.json()) as any };
}

/** Polls until the assertion passes: the projector runs asynchronously after the ingest answered. */
async function eventually<T>(probe: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await probe();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

/** A raw request, for what fetch would normalise or refuse to send (dot segments, Host, an unsent body). */
function rawRequest(options: { path: string; method?: string; headers?: Record<string, string>; body?: string }) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: host.port, ...options }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('the embedded host', () => {
  const envelope = anEnvelope({ orgId: 'local', sessionId: 'session-local-1' });
  const calls = [3, 1, 2].map((second) =>
    interaction(envelope, `2026-06-01T10:00:0${second}.000Z`, { requestId: String(second) }),
  );
  // The wrapper could not record 7 events of this session (a full spool): the API says so per session.
  const events = [sessionStarted(envelope, '2026-06-01T10:00:00.000Z'), ...calls, sessionEnded(envelope, '2026-06-01T10:00:09.000Z', { droppedObservations: 7 })];

  it('announces itself in KM_HOME: a private API key and serve.json', () => {
    expect(localKey).toMatch(/^km_local_/);
    expect(statSync(join(home, 'api-key')).mode & 0o777).toBe(0o600);
    expect(statSync(home).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(join(home, 'serve.json'), 'utf8'))).toEqual({
      url: host.url,
      port: host.port,
      pid: process.pid,
      orgId: 'local',
    });
    expect(host.port).toBeGreaterThan(0);
  });

  it('ingests a gzip batch over HTTP and serves the projected session and its interactions', async () => {
    expect(await postBatch(events)).toEqual({ status: 202, body: { batchId: expect.any(String), accepted: 5, duplicates: 0 } });
    expect((await postBatch(events)).body).toMatchObject({ accepted: 0, duplicates: 5 });

    const listed = await eventually(async () => {
      const response = await getJson('/api/sessions');
      expect(response.body.sessions).toEqual([expect.objectContaining({ id: 'session-local-1', endedAt: '2026-06-01T10:00:09.000Z' })]);
      return response;
    });
    expect(listed.body.sessions[0]).toMatchObject({ orgId: 'local', interactionCount: 3, toolCallCount: 3, droppedObservations: 7 });

    const interactions = await eventually(async () => {
      const response = await getJson('/api/sessions/session-local-1/interactions');
      expect(response.body.interactions).toHaveLength(3);
      return response;
    });
    expect(interactions.status).toBe(200);
    expect(interactions.body.sessionId).toBe('session-local-1');
    expect(interactions.body.interactions.map((i: { requestId: string }) => i.requestId)).toEqual(['1', '2', '3']);
    expect((await getJson('/api/sessions/session-local-1')).body).toMatchObject({ id: 'session-local-1', interactionCount: 3, droppedObservations: 7 });
  });

  it('answers curl without a key as the local org, and 401 to a wrong key', async () => {
    await eventually(async () => expect((await getJson('/api/sessions', null)).body.sessions).toHaveLength(1));
    const wrong = await getJson('/api/sessions', 'not-a-key');
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toMatch(/KM_API_KEY/);
    expect((await postBatch(events, 'not-a-key')).status).toBe(401);
  });

  it("shows another org nothing of org 'local', even for the same session id, and keeps its data apart", async () => {
    await eventually(async () => expect((await getJson('/api/sessions')).body.sessions).toHaveLength(1));
    expect(await getJson('/api/sessions', ORG_B_KEY)).toEqual({ status: 200, body: { sessions: [] } });
    expect((await getJson('/api/sessions/session-local-1', ORG_B_KEY)).status).toBe(404);
    expect((await getJson('/api/sessions/session-local-1/interactions', ORG_B_KEY)).status).toBe(404);
    expect((await postBatch(events, ORG_B_KEY)).status).toBe(403);

    const theirs = anEnvelope({ orgId: 'org-b', sessionId: 'session-local-1' });
    expect((await postBatch([interaction(theirs, '2026-06-01T12:00:00.000Z')], ORG_B_KEY)).status).toBe(202);
    await eventually(async () => {
      const response = await getJson('/api/sessions', ORG_B_KEY);
      expect(response.body.sessions).toEqual([expect.objectContaining({ orgId: 'org-b', interactionCount: 1 })]);
    });
    expect((await getJson('/api/sessions/session-local-1')).body).toMatchObject({ orgId: 'local', interactionCount: 3 });
    expect((await getJson('/api/sessions/session-local-1/interactions', ORG_B_KEY)).body.interactions).toHaveLength(1);
  });

  it('answers unknown API routes and wrong methods with JSON errors', async () => {
    expect(await getJson('/api/nothing-here')).toMatchObject({ status: 404, body: { error: expect.any(String) } });
    const post = await fetch(`${host.url}/api/sessions`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
  });

  it('reads only JSON bodies: text/plain, form and multipart are a 415 naming application/json, and nothing is stored', async () => {
    const batch = JSON.stringify({ events: [sessionStarted(anEnvelope({ orgId: 'local', sessionId: 'not-json-typed' }), '2026-06-01T11:00:00.000Z')] });
    const form = new FormData();
    form.set('events', batch);
    const refused: Array<[string, RequestInit]> = [
      ['/api/ingest', { body: batch }], // fetch labels a string body text/plain
      ['/api/ingest', { body: new URLSearchParams({ events: batch }) }],
      ['/api/ingest', { body: form }],
      ['/api/ingest', { headers: { 'content-type': 'text/plain' }, body: gzipSync(batch) }],
      ['/api/ingest', { headers: { 'content-type': 'application/json; charset=latin1' }, body: batch }],
      ['/api/budgets/org', { body: JSON.stringify({ monthlyUsd: 5 }) }],
    ];
    for (const [path, init] of refused) {
      const method = path === '/api/ingest' ? 'POST' : 'PUT';
      const response = await fetch(`${host.url}${path}`, { ...init, method, headers: { ...auth(localKey), ...(init.headers as Record<string, string>) } });
      expect({ path, status: response.status }).toEqual({ path, status: 415 });
      expect(await response.json()).toMatchObject({ error: expect.stringContaining('Content-Type: application/json'), expected: 'application/json' });
    }
    expect((await getJson('/api/sessions/not-json-typed')).status).toBe(404);

    for (const type of ['application/json', 'Application/JSON; Charset=UTF-8', 'application/json;charset="utf-8"']) {
      const response = await fetch(`${host.url}/api/ingest`, { method: 'POST', headers: { ...auth(localKey), 'content-type': type, 'content-encoding': 'gzip' }, body: gzipSync(batch) });
      expect({ type, status: response.status }).toEqual({ type, status: 202 });
    }
  });

  it('refuses a body larger than the limit before reading it', async () => {
    const response = await rawRequest({
      path: '/api/ingest',
      method: 'POST',
      headers: { 'content-length': String(100 * 1024 * 1024), authorization: `Bearer ${localKey}` },
    });
    expect(response.status).toBe(413);
    expect(JSON.parse(response.body).error).toMatch(/limit: send fewer events per batch/);
    // Another route's advice is its own: only ingest sends batches.
    const teams = await rawRequest({ path: '/api/teams/x', method: 'PUT', headers: { 'content-length': String(100 * 1024 * 1024), authorization: `Bearer ${localKey}` } });
    expect([teams.status, JSON.parse(teams.body).error]).toEqual([413, expect.stringMatching(/limit: PUT \/api\/teams\/x takes a small JSON body\.$/)]);
    const ack = await rawRequest({ path: '/api/risk/findings/f/ack', method: 'POST', headers: { 'content-length': String(100 * 1024 * 1024), authorization: `Bearer ${localKey}` } });
    expect([ack.status, JSON.parse(ack.body).error]).toEqual([413, expect.stringMatching(/limit: POST \/api\/risk\/findings\/f\/ack takes no body\.$/)]);
  });

  it('refuses a GET with a body (fetch cannot send one; curl --data -X GET can): the body would be ignored', async () => {
    for (const path of ['/api/sessions', '/api/latency?groupBy=tool']) {
      const answer = await rawRequest({ path, method: 'GET', headers: { authorization: `Bearer ${localKey}`, 'content-type': 'application/json', 'content-length': '7' }, body: '{"a":1}' });
      expect([answer.status, JSON.parse(answer.body).error]).toEqual([400, expect.stringContaining('takes no body')]);
    }
    expect((await rawRequest({ path: '/api/sessions', method: 'GET', headers: { authorization: `Bearer ${localKey}` } })).status).toBe(200);
  });

  it('refuses two Authorization headers: node keeps one and drops the other, and which key was meant is unknown', async () => {
    // Written as it goes on the wire: http.request would not send the header twice.
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(host.port, '127.0.0.1', () => {
        socket.end(`GET /api/sessions HTTP/1.1\r\nHost: 127.0.0.1:${host.port}\r\nAuthorization: Bearer ${localKey}\r\nauthorization: Bearer km_live_someone_else\r\nConnection: close\r\n\r\n`);
      });
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk) => (text += chunk));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    const answer = { status: Number(/^HTTP\/1\.1 (\d+)/.exec(raw)?.[1]), body: raw.slice(raw.indexOf('\r\n\r\n') + 4) };
    expect([answer.status, JSON.parse(answer.body).error]).toEqual([400, 'the Authorization header is given more than once: send one key.']);
  });

  it('refuses requests a web page could make: a foreign Host (DNS rebinding) or a foreign Origin', async () => {
    const foreign = await rawRequest({ path: '/api/sessions', headers: { host: 'evil.example:80' } });
    expect(foreign.status).toBe(403);
    // Each name once, and the one refused.
    expect(JSON.parse(foreign.body).error).toBe('km serve answers requests for 127.0.0.1 or localhost only, not for the host "evil.example".');
    const crossSite = await fetch(`${host.url}/api/ingest`, { method: 'POST', headers: { origin: 'https://evil.example' }, body: '{}' });
    expect(crossSite.status).toBe(403);
    expect((await rawRequest({ path: '/api/sessions', headers: { host: `localhost:${host.port}` } })).status).toBe(200);
  });

  it('serves the dashboard, with index.html for SPA routes and no way out of its directory', async () => {
    const index = await fetch(`${host.url}/`);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    expect(await index.text()).toContain('<title>km</title>');
    expect(await (await fetch(`${host.url}/sessions/session-local-1`)).text()).toContain('<title>km</title>');
    const asset = await fetch(`${host.url}/assets/app.js`);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(`${host.url}/assets/missing.js`)).status).toBe(404);
    for (const path of ['/../km-home/api-key', '/..%2fkm-home%2fapi-key', '/%2e%2e/km-home/api-key', '/../../../../etc/passwd']) {
      const response = await rawRequest({ path });
      expect(response.body).not.toContain(localKey);
      expect(response.body).not.toContain('root:');
    }
  });

  it('serves the landing page and the demo from their own directories, which the SPA fallback leaves alone', async () => {
    const page = async (path: string) => (await fetch(`${host.url}${path}`)).text();
    expect(await page('/welcome')).toContain('<title>km welcome</title>');
    expect(await page('/welcome/')).toContain('<title>km welcome</title>');
    expect(await page('/demo/')).toContain('<title>km demo</title>');
    expect(await page('/demo/cost')).toContain('<title>km demo</title>');
    expect(await page('/journey/some-session')).toContain('<title>km</title>');
    const signIn = await fetch(`${host.url}/.auth/login/github?post_login_redirect_uri=/`, { redirect: 'manual' });
    expect(signIn.status).toBe(302);
    expect(signIn.headers.get('location')).toBe('/');
  });
});

describe('the embedded host, restarted', () => {
  it('keeps its data and key, removes serve.json on close, and says when the dashboard is not built', async () => {
    const restartHome = mkdtempSync(join(tmpdir(), 'km-restart-'));
    const first = await startEmbeddedHost({ home: restartHome, port: 0, logger });
    const key = readFileSync(join(restartHome, 'api-key'), 'utf8').trim();
    const envelope = anEnvelope({ orgId: 'local', sessionId: 'kept' });
    await fetch(`${first.url}/api/ingest`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events: [sessionStarted(envelope, '2026-06-02T10:00:00.000Z')] }),
    });
    await eventually(async () => {
      const response = await fetch(`${first.url}/api/sessions/kept`);
      expect(response.status).toBe(200);
    });
    await first.close();
    expect(existsSync(join(restartHome, 'serve.json'))).toBe(false);

    const second = await startEmbeddedHost({ home: restartHome, port: 0, logger, dashboardDir: join(restartHome, 'no-dashboard') });
    try {
      expect(readFileSync(join(restartHome, 'api-key'), 'utf8').trim()).toBe(key);
      expect((await fetch(`${second.url}/api/sessions/kept`)).status).toBe(200);
      expect(await (await fetch(`${second.url}/`)).text()).toMatch(/dashboard is not built/);
    } finally {
      await second.close();
      rmSync(restartHome, { recursive: true, force: true });
    }
  });

  it('says clearly when the port is taken', async () => {
    const otherHome = mkdtempSync(join(tmpdir(), 'km-busy-'));
    await expect(startEmbeddedHost({ home: otherHome, port: host.port, logger })).rejects.toThrow(/is in use, by another program or a km serve of another KM_HOME .*pick another port with --port/);
    rmSync(otherHome, { recursive: true, force: true });
  });
});

describe('the embedded host bound to another loopback address', () => {
  it('answers requests for 127.0.0.2 when bound to it', async () => {
    const otherHome = mkdtempSync(join(tmpdir(), 'km-host2-'));
    const bound = await startEmbeddedHost({ home: otherHome, port: 0, logger, hostname: '127.0.0.2' }).catch(() => null);
    if (bound === null) return; // the platform has no 127.0.0.2 (macOS without an alias)
    try {
      const key = readFileSync(join(otherHome, 'api-key'), 'utf8').trim();
      const response = await fetch(`${bound.url}/api/sessions`, { headers: { authorization: `Bearer ${key}` } });
      expect(response.status).toBe(200);
    } finally {
      await bound.close();
      rmSync(otherHome, { recursive: true, force: true });
    }
  });
});

describe('the embedded host that cannot write serve.json', () => {
  it('stops listening and rejects with the reason', async () => {
    const blockedHome = mkdtempSync(join(tmpdir(), 'km-blocked-'));
    mkdirSync(join(blockedHome, 'serve.json', 'in-the-way'), { recursive: true });
    await expect(startEmbeddedHost({ home: blockedHome, port: 0, logger })).rejects.toThrow(/cannot write .*serve\.json/);
    rmSync(blockedHome, { recursive: true, force: true });
  });
});
