import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { startEmbeddedHost, type EmbeddedHost } from '@km/functions/dist/host/embedded-host';
import { openLocalKeyDirectory } from '@km/functions/dist/host/local-key-admin';
import { startGithubDouble } from '../../functions/test/support/github-double';
import { BIN_DIR, REPO_ROOT, requireBuiltKm, runCommand } from '../../cli/test/e2e-support';

/**
 * The guided first run on a team's server (km serve beyond loopback, GitHub sign-in against a local double of
 * GitHub's OAuth endpoints): an invited teammate signs in, the app opens on the first run, "Make my API key" puts a
 * new key of their org into the command, and that command run on a fresh machine (km installed by npm from the
 * server's /install/km.tgz, its `km login`, then a real session through the installed km: the MCP SDK client, the
 * everything server from npm) turns the page to "first insight". Every step waits for a condition.
 */

const DASHBOARD_DIR = join(REPO_ROOT, 'dashboard', 'dist');
const CHROMIUM = process.env.KM_CHROMIUM ?? '/usr/bin/chromium';
const silent = { info() {}, warn() {}, error() {} };

describe('the guided first run on a team server, signed in with GitHub', () => {
  let host: EmbeddedHost;
  let github: Awaited<ReturnType<typeof startGithubDouble>>;
  let browser: Browser;
  let home: string;
  const saved = { ...process.env };

  beforeAll(async () => {
    requireBuiltKm();
    github = await startGithubDouble('the-app-secret');
    Object.assign(process.env, { KM_GITHUB_CLIENT_ID: 'the-app', KM_GITHUB_CLIENT_SECRET: 'the-app-secret', KM_GITHUB_URL: github.url, KM_GITHUB_API_URL: github.url });
    home = mkdtempSync(join(tmpdir(), 'km-first-team-'));
    // The admin made the org's first key on the server's machine and invited the teammate; no event yet.
    const admin = openLocalKeyDirectory(home);
    const ownerKey = (await admin.directory.create({ orgId: 'newco', role: 'owner', projectId: null, label: 'admin', actor: 'cli' })).key;
    admin.close();
    host = await startEmbeddedHost({ home, port: 0, hostname: '0.0.0.0', dashboardDir: DASHBOARD_DIR, packageDir: join(REPO_ROOT, 'cli'), logger: silent, projectorIntervalMs: 50 });
    const invited = await fetch(`${host.url}/api/members`, { method: 'POST', headers: { authorization: `Bearer ${ownerKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ login: 'octocat', role: 'member' }) });
    expect(invited.status).toBe(200);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await host?.close();
    await github?.close();
    process.env = saved;
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('makes the teammate a key, and their first session through the command it shows turns the page to first insight', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    await page.goto(`${host.url}/`);
    await page.getByRole('link', { name: 'Sign in with GitHub' }).click();
    await page.getByText('newco · member').waitFor({ timeout: 30_000 });
    // Before the sign-in the browser logs the whoami's 401 that asks for it; from here on, nothing.
    page.on('console', (msg) => void (msg.type() === 'error' && problems.push(`console: ${msg.text()}`)));
    await page.waitForURL(/\/first-run$/, { timeout: 30_000 });
    const command = page.locator('.first-cmd');
    await page.locator('#first-os').selectOption('linux');
    const install = `npm i -g --allow-scripts=better-sqlite3 ${host.url}/install/km.tgz`;
    expect(await command.innerText()).toBe(`${install} && km login --endpoint ${host.url} --key <your key> && km init --client claude-code --yes`);

    await page.getByRole('button', { name: 'Make my API key' }).click();
    await page.getByText('Your API key is in the command').waitFor({ timeout: 30_000 });
    const shown = await command.innerText();
    const key = /--key (\S+)/.exec(shown)?.[1] ?? '';
    expect(key).toMatch(/^km_live_/);
    // The key is the teammate's org's, a member's, made by them.
    const listed = await page.evaluate(async () => (await (await fetch('/api/keys')).json()) as { keys: Array<{ label: string; role: string; createdBy: string }> });
    expect(listed.keys.find((k) => k.label === 'first run')).toMatchObject({ role: 'member', createdBy: 'github:octocat' });

    // The command on the teammate's machine (its own npm prefix and KM_HOME): km from the server, then km login.
    // Install scripts are skipped: better-sqlite3 (only km serve's) would compile here, for a minute or more.
    expect(shown.startsWith(`${install} && km login --endpoint ${host.url} --key ${key} && `)).toBe(true);
    const laptop = mkdtempSync(join(tmpdir(), 'km-first-laptop-'));
    const prefix = join(laptop, 'prefix');
    const env = { PATH: [join(prefix, 'bin'), dirname(process.execPath), '/usr/bin', '/bin'].join(':'), HOME: laptop, KM_HOME: join(laptop, '.km'), KM_USER: 'octocat@example.com' };
    const npm = await runCommand('npm', ['i', '-g', '--ignore-scripts', '--no-audit', '--no-fund', `${host.url}/install/km.tgz`], {
      env: {
        // The machine's npm settings (proxy, certificates: NODE_EXTRA_CA_CERTS) and cache, as for any install on it.
        ...(process.env as Record<string, string>),
        ...env,
        NPM_CONFIG_PREFIX: prefix,
        npm_config_userconfig: process.env.npm_config_userconfig ?? join(homedir(), '.npmrc'),
        npm_config_cache: join(homedir(), '.npm'),
      },
    });
    expect([npm.status, npm.stderr]).toEqual([0, expect.any(String)]);
    const km = join(prefix, 'bin', 'km');
    expect(existsSync(km)).toBe(true);
    const login = await runCommand(km, ['login', '--endpoint', host.url, '--key', key], { env });
    expect(login.stderr).toBe('');
    expect(login.stdout).toContain('km login: saved');
    const transport = new StdioClientTransport({ command: km, args: ['--name', 'everything', '--', join(BIN_DIR, 'mcp-server-everything'), 'stdio'], env, stderr: 'ignore' });
    const client = new Client({ name: 'first-team-client', version: '1.0.0' });
    await client.connect(transport);
    await client.callTool({ name: 'echo', arguments: { message: 'my first call on the team server' } });
    await client.close();

    await page.waitForSelector('h1:text("First insight")', { timeout: 60_000 });
    await page.waitForFunction(() => document.querySelector('.first-facts')?.textContent?.includes('echo'), undefined, { timeout: 60_000 });
    expect(await page.locator('.first-took').innerText()).toMatch(/arrived .+ after this page opened, from everything/);
    expect(problems).toEqual([]);
    await context.close();
    rmSync(laptop, { recursive: true, force: true });
  }, 240_000);
});
