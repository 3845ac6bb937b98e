import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { startEmbeddedHost, type EmbeddedHost } from '@km/functions/dist/host/embedded-host';
import { openLocalKeyDirectory } from '@km/functions/dist/host/local-key-admin';
import { aSessionOfEvents, anEnvelope } from '../../functions/test/fixtures';
import { startGithubDouble } from '../../functions/test/support/github-double';
import { REPO_ROOT } from '../../cli/test/e2e-support';

const DASHBOARD_DIR = join(REPO_ROOT, 'dashboard', 'dist');
const CHROMIUM = process.env.KM_CHROMIUM ?? '/usr/bin/chromium';
const silent = { info() {}, warn() {}, error() {} };

describe('signing in to a km serve that listens beyond loopback', () => {
  let host: EmbeddedHost;
  let github: Awaited<ReturnType<typeof startGithubDouble>>;
  let browser: Browser;
  let acmeKey: string;
  let home: string;
  const saved = { ...process.env };

  beforeAll(async () => {
    github = await startGithubDouble('the-app-secret');
    Object.assign(process.env, { KM_GITHUB_CLIENT_ID: 'the-app', KM_GITHUB_CLIENT_SECRET: 'the-app-secret', KM_GITHUB_URL: github.url, KM_GITHUB_API_URL: github.url });
    home = mkdtempSync(join(tmpdir(), 'km-sign-in-'));
    // The admin, on the machine: the org's first key (owner), and a key of another org sharing the server.
    const admin = openLocalKeyDirectory(home);
    acmeKey = (await admin.directory.create({ orgId: 'acme', role: 'owner', projectId: null, label: 'admin', actor: 'cli' })).key;
    const otherKey = (await admin.directory.create({ orgId: 'globex', role: 'owner', projectId: null, label: 'theirs', actor: 'cli' })).key;
    admin.close();
    host = await startEmbeddedHost({ home, port: 0, hostname: '0.0.0.0', dashboardDir: DASHBOARD_DIR, logger: silent, projectorIntervalMs: 50 });
    const ingest = async (key: string, orgId: string, server: string) => {
      const events = aSessionOfEvents(anEnvelope({ orgId, server: { name: server, command: 'x' } }), new Date(Date.now() - 60_000).toISOString(), 2);
      const res = await fetch(`${host.url}/api/ingest`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ events }) });
      expect(res.status).toBe(202);
    };
    await ingest(acmeKey, 'acme', 'acme-server');
    await ingest(otherKey, 'globex', 'globex-server');
    const invited = await fetch(`${host.url}/api/members`, { method: 'POST', headers: { authorization: `Bearer ${acmeKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ login: 'octocat', role: 'member' }) });
    expect(invited.status).toBe(200);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  });
  afterAll(async () => {
    await browser?.close();
    await host?.close();
    await github?.close();
    process.env = saved;
  });

  it('refuses the anonymous API beyond loopback, saying a key is missing', async () => {
    const res = await fetch(`${host.url}/api/sessions`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { reason: string }).reason).toBe('missing');
  });

  it('signs a teammate in with an API key, shows their org only, and signs out', async () => {
    const page = await browser.newPage();
    await page.goto(`${host.url}/journey`);
    await page.getByRole('heading', { name: 'Sign in to Kilometers' }).waitFor();
    await page.getByLabel('API key', { exact: true }).fill(acmeKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('acme · owner').waitFor({ timeout: 30_000 });
    const sessions = page.getByRole('table').filter({ hasText: 'STARTED' }).or(page.getByRole('table').filter({ hasText: 'Started' }));
    await sessions.getByRole('cell', { name: 'acme-server' }).first().waitFor({ timeout: 30_000 });
    expect(await page.locator('main').innerText()).not.toContain('globex-server');
    expect(await page.locator('body').innerText()).not.toContain('globex');
    await page.getByLabel('Retention').getByText('Raw events kept for ever; previews kept for ever').waitFor();
    const cookie = (await page.context().cookies()).find((c) => c.name === 'km_session')!;
    expect([cookie.httpOnly, cookie.sameSite]).toEqual([true, 'Strict']);
    // The session is the key's: what the API answers through it is acme's alone.
    const seen = await page.evaluate(async () => (await (await fetch('/api/sessions')).json()) as { sessions: Array<{ server: { name: string } }> });
    expect([...new Set(seen.sessions.map((s) => s.server.name))]).toEqual(['acme-server']);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Kilometers' }).waitFor();
    expect(await page.evaluate(async () => (await fetch('/api/sessions')).status)).toBe(401);
    await page.close();
  });

  it('signs an invited GitHub user in as a member, and refuses one nobody invited', async () => {
    const page = await browser.newPage();
    github.signingIn.login = 'octocat';
    await page.goto(`${host.url}/`);
    await page.getByRole('link', { name: 'Sign in with GitHub' }).click();
    await page.getByText('acme · member').waitFor({ timeout: 30_000 });
    const me = await page.evaluate(async () => (await (await fetch('/api/whoami')).json()) as { actor: string });
    expect(me.actor).toBe('github:octocat');

    const stranger = await browser.newPage();
    github.signingIn.login = 'mallory';
    await stranger.goto(`${host.url}/`);
    await stranger.getByRole('link', { name: 'Sign in with GitHub' }).click();
    await stranger.getByText('mallory is not a member of any org here').waitFor();
    await Promise.all([page.close(), stranger.close()]);
  });

  it('refuses a callback this browser did not start, and ends a key session when the key is revoked', async () => {
    const forged = await fetch(`${host.url}/auth/github/callback?code=code-1&state=guessed`, { redirect: 'manual' });
    expect(forged.status).toBe(400);

    const admin = openLocalKeyDirectory(home);
    const made = await admin.directory.create({ orgId: 'acme', role: 'viewer', projectId: null, label: 'short-lived', actor: 'cli' });
    const signIn = await fetch(`${host.url}/auth/key`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: made.key }) });
    const session = signIn.headers.get('set-cookie')!.split(';')[0]!;
    expect((await fetch(`${host.url}/api/whoami`, { headers: { cookie: session } })).status).toBe(200);
    await admin.directory.revoke('acme', made.listing.keyId, 'cli');
    admin.close();
    const after = await fetch(`${host.url}/api/whoami`, { headers: { cookie: session } });
    expect([after.status, ((await after.json()) as { reason: string }).reason]).toEqual([401, 'revoked']);
  });
});
