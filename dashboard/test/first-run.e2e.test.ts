import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startEmbeddedHost, type EmbeddedHost } from '@km/functions/dist/host/embedded-host';
import { BIN_DIR, KM_BIN, REPO_ROOT, requireBuiltKm } from '../../cli/test/e2e-support';

/**
 * The guided first run in a real browser against km serve with an empty org: the app opens on it, shows the command,
 * and turns to "first insight" when a real session (the MCP SDK client, the built km, the everything server from
 * npm) ships its first events. The landing page's beacon shows in the operator's funnel. No timing is asserted:
 * every step waits for a condition.
 */
const DASHBOARD_DIR = join(REPO_ROOT, 'dashboard', 'dist');
const CHROMIUM = process.env.KM_CHROMIUM ?? '/usr/bin/chromium';
const silent = { info() {}, warn() {}, error() {} };

async function recordSession(home: string) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [KM_BIN, '--project', 'first-run', '--name', 'everything', '--', join(BIN_DIR, 'mcp-server-everything'), 'stdio'],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KM_HOME: home, KM_USER: 'first@example.com' },
    stderr: 'ignore',
  });
  const client = new Client({ name: 'first-run-client', version: '1.0.0' });
  await client.connect(transport);
  await client.listTools();
  await client.callTool({ name: 'echo', arguments: { message: 'my first call through km' } });
  await client.close();
}

/** A page that records console errors, page errors and failed requests. */
async function openPage(browser: Browser, url: string, viewport: { width: number; height: number }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (msg) => void (msg.type() === 'error' && problems.push(`console: ${msg.text()}`)));
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
  page.on('response', (response) => void (response.status() >= 400 && problems.push(`HTTP ${response.status()}: ${response.url()}`)));
  await page.goto(url);
  return { page, problems, close: () => context.close() };
}

const overflowsWidth = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);

describe('the guided first run, in a browser against km serve', () => {
  let host: EmbeddedHost;
  let home: string;
  let browser: Browser;

  beforeAll(async () => {
    requireBuiltKm();
    home = mkdtempSync(join(tmpdir(), 'km-first-run-'));
    host = await startEmbeddedHost({ home, port: 0, dashboardDir: DASHBOARD_DIR, logger: silent, projectorIntervalMs: 50 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await host?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('counts a landing view from the landing page’s beacon, with no cookie', async () => {
    const { page, problems, close } = await openPage(browser, `${host.url}/welcome/`, { width: 1280, height: 900 });
    await page.waitForSelector('[data-testid="cta"]');
    await page.waitForFunction(async () => ((await (await fetch('/api/funnel')).json()) as { landingViews: { count: number } }).landingViews.count >= 1);
    expect(await page.context().cookies()).toEqual([]);
    expect(problems).toEqual([]);
    await close();
  });

  it('opens on the first run while the org has no event, shows the command, and turns to first insight when a real session ships', async () => {
    const { page, problems, close } = await openPage(browser, `${host.url}/`, { width: 1280, height: 900 });
    await page.waitForURL(/\/first-run$/);
    await page.waitForSelector('h1:text("Set up Kilometers")');
    await page.waitForSelector('.first-waiting');
    const command = page.locator('.first-cmd');
    expect(await command.innerText()).toContain(`npm i -g --allow-scripts=better-sqlite3 ${host.url}/install/km.tgz`);
    // The keyboard reaches the client picker, and the command follows it.
    await page.locator('#first-client').focus();
    await page.keyboard.press('ArrowDown');
    await page.locator('#first-client').selectOption('cursor');
    await page.waitForFunction(() => document.querySelector('.first-cmd')?.textContent?.includes('km init --client cursor'));
    await page.locator('#first-os').selectOption('windows');
    await page.waitForFunction((url) => document.querySelector('.first-cmd')?.textContent === `npm i -g --allow-scripts=better-sqlite3 ${url}/install/km.tgz; km init --client cursor --yes`, host.url);

    await recordSession(home);
    await page.waitForSelector('h1:text("First insight")', { timeout: 60_000 });
    // The tool call follows the handshake: the page keeps asking until it has it.
    await page.waitForFunction(() => document.querySelector('.first-facts')?.textContent?.includes('echo'), undefined, { timeout: 60_000 });
    const facts = await page.locator('.first-facts').innerText();
    expect(facts).toContain('everything');
    expect(facts).toMatch(/Tool\s+echo/i);
    expect(await page.locator('.first-took').innerText()).toMatch(/arrived .+ after this page opened, from everything/);
    expect(problems).toEqual([]);
    await close();
  });

  it('lays the first run out at phone width, and opens the overview with the Funnel panel once there are events', async () => {
    const phone = await openPage(browser, `${host.url}/?view=first-run`, { width: 390, height: 844 });
    await phone.page.waitForSelector('h1:text("First insight")');
    // Recorded before this page opened: the page says when, not how long it waited.
    expect(await phone.page.locator('.first-took').innerText()).toMatch(/arrived at .+, before this page opened, from everything/);
    expect(await overflowsWidth(phone.page)).toBe(false);
    expect(phone.problems).toEqual([]);
    await phone.close();

    const { page, problems, close } = await openPage(browser, `${host.url}/`, { width: 1280, height: 900 });
    await page.waitForSelector('[data-view="overview"]');
    await page.waitForSelector('#funnel .funnel-steps');
    expect(page.url()).toBe(`${host.url}/`);
    const funnel = await page.locator('#funnel').innerText();
    expect(funnel).toMatch(/Landing views\s*1/);
    expect(problems).toEqual([]);
    await close();
  });
});
