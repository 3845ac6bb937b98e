import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startEmbeddedHost, type EmbeddedHost } from '@km/functions/dist/host/embedded-host';
import { BIN_DIR, KM_BIN, REPO_ROOT, requireBuiltKm } from '../../cli/test/e2e-support';
import { fmtInt, fmtMs } from '../src/format';

/**
 * The dashboard in a real browser against the embedded host, seeded by the built km between the MCP SDK client
 * and real servers from npm. Numbers on screen are checked against the query API; the cost, risk and latency
 * endpoints may be absent (404) on this branch, and then, and only then, may their requests fail.
 */
const DASHBOARD_DIR = join(REPO_ROOT, 'dashboard', 'dist');
const SCREENSHOTS = join(REPO_ROOT, 'artifacts', 'screenshots');
const CHROMIUM = process.env.KM_CHROMIUM ?? '/usr/bin/chromium';
const CONTRACT_PATH = /^\/api\/(cost|budgets|risk|latency)(\/|$)/;
const VIEWPORTS = { desktop: { width: 1440, height: 900 }, phone: { width: 390, height: 844 } } as const;

type Settle = (p: Promise<unknown>) => Promise<unknown>;
const settle: Settle = (p) => p.catch(() => undefined);

async function recordSession(home: string, name: string, scenario: (c: Client) => Promise<void>, server: string[], env: Record<string, string> = {}) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [KM_BIN, '--project', 'dash-e2e', '--name', name, '--', ...server],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KM_HOME: home, KM_USER: 'dash@example.com', ...env },
    stderr: 'ignore',
  });
  const client = new Client({ name: 'dash-e2e-client', version: '1.0.0' });
  await client.connect(transport);
  await scenario(client);
  await client.close();
}

const everything = async (c: Client) => {
  await c.listTools();
  await settle(c.callTool({ name: 'echo', arguments: { message: 'hello dashboard' } }));
  await settle(c.callTool({ name: 'get-sum', arguments: { a: 2, b: 40 } }));
  await settle(c.callTool({ name: 'no-such-tool', arguments: {} }));
  await c.listResources();
};
const memory = async (c: Client) => {
  await c.listTools();
  await settle(c.callTool({ name: 'read_graph', arguments: {} }));
};
const memoryEnv = () => ({ MEMORY_FILE_PATH: join(mkdtempSync(join(tmpdir(), 'dash-mem-')), 'memory.jsonl') });

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** Nearest-rank, as the dashboard computes it. */
function p95(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(0.95 * sorted.length) - 1))]!;
}

interface Problems {
  list: string[];
}

/** A page that records console errors and failed requests, except the contract endpoints' 404s. */
async function openPage(browser: Browser, url: string, viewport: { width: number; height: number } = VIEWPORTS.desktop) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems: Problems = { list: [] };
  const allowed404 = (href: string) => CONTRACT_PATH.test(new URL(href).pathname);
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const where = msg.location().url;
    if (/status of 404/.test(msg.text()) && where && allowed404(where)) return;
    problems.list.push(`console: ${msg.text()} (${where})`);
  });
  page.on('pageerror', (error) => problems.list.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => problems.list.push(`request failed: ${request.url()} ${request.failure()?.errorText}`));
  page.on('response', (response) => {
    if (response.status() < 400) return;
    if (response.status() === 404 && allowed404(response.url())) return;
    problems.list.push(`HTTP ${response.status()}: ${response.request().method()} ${response.url()}`);
  });
  await page.goto(url);
  await settled(page);
  return { page, problems, close: () => context.close() };
}

/** Every query answered: no loading indicator left. */
async function settled(page: Page) {
  await page.waitForSelector('[data-view]');
  await page.waitForFunction(() => document.querySelectorAll('.loading').length === 0, undefined, { timeout: 20_000 });
}

async function shoot(page: Page, name: string) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

const statValue = (page: Page, id: string) => page.locator(`[data-testid="${id}"] [data-value]`).innerText();
const absentEndpoints = async (page: Page) => (await page.locator('[data-state="absent"] code').allInnerTexts()).sort();

describe('dashboard in a browser, against km serve seeded through km', () => {
  let host: EmbeddedHost;
  let emptyHost: EmbeddedHost;
  let browser: Browser;
  let home: string;
  const api = async (path: string) => (await fetch(`${host.url}${path}`)).json() as Promise<any>;
  const status = async (path: string) => (await fetch(`${host.url}${path}`)).status;

  beforeAll(async () => {
    requireBuiltKm();
    if (!existsSync(join(DASHBOARD_DIR, 'index.html'))) throw new Error('dashboard/dist is missing: run `npm run build` first (npm test does).');
    if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: apt-get install -y chromium (or set KM_CHROMIUM)`);
    home = mkdtempSync(join(tmpdir(), 'km-dash-'));
    host = await startEmbeddedHost({ home, port: 0, dashboardDir: DASHBOARD_DIR, projectorIntervalMs: 100, logger: silent });
    emptyHost = await startEmbeddedHost({ home: mkdtempSync(join(tmpdir(), 'km-dash-empty-')), port: 0, dashboardDir: DASHBOARD_DIR, logger: silent });
    await recordSession(home, 'everything', everything, [join(BIN_DIR, 'mcp-server-everything'), 'stdio']);
    await recordSession(home, 'memory', memory, [join(BIN_DIR, 'mcp-server-memory')], memoryEnv());
    await waitFor('both sessions, ended and projected', async () => {
      const { sessions } = await api('/api/sessions');
      return sessions.length === 2 && sessions.every((s: any) => s.endedAt !== null && s.interactionCount > 0) ? true : undefined;
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await host?.close();
    await emptyHost?.close();
  });

  it('Overview shows the sessions, interactions and p95 latency the API reports', async () => {
    const { sessions } = await api('/api/sessions');
    const interactions = (await Promise.all(sessions.map((s: any) => api(`/api/sessions/${s.id}/interactions`)))).flatMap((r: any) => r.interactions);
    const { page, problems, close } = await openPage(browser, `${host.url}/`);
    expect(await statValue(page, 'stat-sessions')).toBe(fmtInt(sessions.length));
    expect(await statValue(page, 'stat-interactions')).toBe(fmtInt(interactions.length));
    expect(await statValue(page, 'stat-p95')).toBe(fmtMs(p95(interactions.map((i: any) => i.latencyMs))));
    expect(await page.locator('.recent li').count()).toBe(sessions.length);
    expect(await page.locator('#ov-chart .uplot').count()).toBe(1);
    await shoot(page, 'overview-1440');
    await page.setViewportSize(VIEWPORTS.phone);
    await shoot(page, 'overview-390');
    await page.setViewportSize(VIEWPORTS.desktop);
    await page.emulateMedia({ colorScheme: 'dark' });
    await shoot(page, 'overview-dark-1440');
    expect(problems.list).toEqual([]);
    await close();
  });

  it('filters live in the URL and apply to every view', async () => {
    const { page, problems, close } = await openPage(browser, `${host.url}/`);
    await page.selectOption('#f-server', 'memory');
    await page.waitForURL(/server=memory/);
    await settled(page);
    await waitFor('one session', async () => ((await statValue(page, 'stat-sessions')) === '1' ? true : undefined));
    await page.getByRole('link', { name: 'Journey' }).click();
    await page.waitForURL(/\/journey\?.*server=memory/);
    await settled(page);
    expect(await page.locator('[data-testid="sessions-table"] tbody tr').count()).toBe(1);
    expect(await page.locator('#f-server').inputValue()).toBe('memory');
    expect(problems.list).toEqual([]);
    await close();
  });

  it('Journey lists the sessions, maps clients to servers and tools, and opens an interaction', async () => {
    const { sessions } = await api('/api/sessions');
    const session = sessions.find((s: any) => s.server.name === 'everything');
    const { interactions } = await api(`/api/sessions/${session.id}/interactions`);
    const { page, problems, close } = await openPage(browser, `${host.url}/journey`);
    expect(await page.locator('[data-testid="sessions-table"] tbody tr').count()).toBe(sessions.length);
    const matrix = page.locator('[data-testid="usage-matrix"]');
    expect(await matrix.locator('thead th').allInnerTexts()).toEqual(['Client \\ Server', 'everything', 'memory']);
    expect(await matrix.locator('tbody th').allInnerTexts()).toEqual(['dash-e2e-client']);
    expect(await page.locator('.server-card', { hasText: 'everything' }).innerText()).toContain('no-such-tool');
    await shoot(page, 'journey-1440');
    await page.setViewportSize(VIEWPORTS.phone);
    await shoot(page, 'journey-390');
    await page.setViewportSize(VIEWPORTS.desktop);

    await page.locator(`tr[data-session-id="${session.id}"] a`).click();
    await page.waitForURL(new RegExp(`/journey/${session.id}`));
    await settled(page);
    expect(await page.getByTestId('session-calls').innerText()).toBe(fmtInt(session.interactionCount));
    const rows = page.locator('[data-testid="waterfall"] .wf-row');
    expect(await rows.count()).toBe(interactions.length);
    expect(await rows.locator('[data-col="latency"]').allInnerTexts()).toEqual(interactions.map((i: any) => fmtMs(i.latencyMs)));

    // Keyboard: focus the failed call's row and open it with Enter.
    const failed = interactions.findIndex((i: any) => i.target === 'no-such-tool');
    await rows.nth(failed).focus();
    await page.keyboard.press('Enter');
    const detail = page.getByTestId('interaction-detail');
    await detail.waitFor();
    expect(await rows.nth(failed).getAttribute('aria-expanded')).toBe('true');
    expect(await detail.innerText()).toContain('Request (redacted)');
    if (interactions[failed].error) expect(await detail.innerText()).toContain(interactions[failed].error.message);
    await shoot(page, 'session-1440');
    await page.setViewportSize(VIEWPORTS.phone);
    await shoot(page, 'session-390');
    expect(problems.list).toEqual([]);
    await close();
  });

  it.each([
    ['cost', ['GET /api/cost/summary', 'GET /api/cost', 'GET /api/budgets', 'GET /api/cost/context-tax']],
    ['risk', ['GET /api/risk/summary', 'GET /api/risk/findings']],
    ['performance', ['GET /api/latency/timeseries', 'GET /api/latency', 'GET /api/latency/slowest', 'GET /api/latency/bottlenecks']],
  ])('%s view: "no data yet" exactly for the endpoints this server lacks', async (view, endpoints) => {
    const missing: string[] = [];
    for (const endpoint of endpoints) if ((await status(`${endpoint.slice(4)}?groupBy=server`)) === 404) missing.push(endpoint);
    const { page, problems, close } = await openPage(browser, `${host.url}/${view}`);
    expect(await absentEndpoints(page)).toEqual(missing.sort());
    expect(await page.locator('[data-state="error"]').count()).toBe(0);
    await shoot(page, `${view}-1440`);
    await page.setViewportSize(VIEWPORTS.phone);
    await shoot(page, `${view}-390`);
    expect(problems.list).toEqual([]);
    await close();
  });

  it('every view says plainly that there is no data when the cost, risk and latency endpoints answer 404', async () => {
    const context = await browser.newContext({ viewport: VIEWPORTS.desktop });
    const page = await context.newPage();
    await page.route(/\/api\/(cost|budgets|risk|latency)/, (route) => route.fulfill({ status: 404, contentType: 'application/json', body: '{"error":"no API route"}' }));
    const expected: Record<string, number> = { cost: 4, risk: 2, performance: 4 };
    for (const [view, count] of Object.entries(expected)) {
      await page.goto(`${host.url}/${view}`);
      await settled(page);
      expect(await page.locator('[data-state="absent"]').count()).toBe(count);
      expect(await page.locator('[data-state="error"]').count()).toBe(0);
    }
    await page.goto(`${host.url}/`);
    await settled(page);
    expect(await page.locator('[data-testid="stat-findings"]').innerText()).toContain('risk monitor not running');
    await context.close();
  });

  it('Cost Center, Risk Monitor and Performance Hub render the contract shapes; acknowledge and resolve post', async () => {
    const findings = contractFindings();
    const posted: string[] = [];
    const context = await browser.newContext({ viewport: VIEWPORTS.desktop });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (msg) => void (msg.type() === 'error' && problems.push(msg.text())));
    await page.route(/\/api\/(cost|budgets|risk|latency)/, async (route) => {
      const url = new URL(route.request().url());
      const action = url.pathname.match(/^\/api\/risk\/findings\/([^/]+)\/(ack|resolve)$/);
      if (action && route.request().method() === 'POST') {
        posted.push(url.pathname);
        const finding = findings.find((f) => f.id === action[1])!;
        finding.status = action[2] === 'ack' ? 'acknowledged' : 'resolved';
        return route.fulfill({ json: finding });
      }
      const body = url.pathname === '/api/risk/findings' ? { findings } : CONTRACT_ANSWERS[url.pathname];
      return body ? route.fulfill({ json: body }) : route.fulfill({ status: 404, json: { error: 'no route' } });
    });

    await page.goto(`${host.url}/cost`);
    await settled(page);
    expect(await statValue(page, 'cost-today')).toBe('$1.25');
    expect(await statValue(page, 'cost-mtd')).toBe('$12.50');
    expect(await page.getByTestId('cost-total').innerText()).toBe('$1.25');
    expect(await page.locator('[data-testid="cost-table"] tbody tr').count()).toBe(2);
    expect(await page.locator('#cost-budgets').innerText()).toContain('$12.50 of $50.00 (25%)');
    expect(await page.locator('#cost-days .uplot').count()).toBe(1);
    await shoot(page, 'cost-with-data-1440');

    await page.goto(`${host.url}/risk`);
    await settled(page);
    expect(await statValue(page, 'risk-open')).toBe('2');
    const first = page.locator('.finding').first();
    await first.locator('button.linklike').click();
    expect(await first.locator('.evidence').innerText()).toContain('params.arguments.key');
    await first.getByRole('button', { name: 'Acknowledge' }).click();
    await page.waitForFunction(() => document.querySelector('.finding .badge.status')?.textContent === 'acknowledged');
    await page.locator('.finding').nth(1).getByRole('button', { name: 'Resolve' }).click();
    await page.waitForFunction(() => document.querySelectorAll('.finding .badge.status')[1]?.textContent === 'resolved');
    expect(posted).toEqual(['/api/risk/findings/f1/ack', '/api/risk/findings/f2/resolve']);
    await shoot(page, 'risk-with-data-1440');

    await page.goto(`${host.url}/performance`);
    await settled(page);
    expect(await page.locator('[data-testid="latency-table"] tbody tr').allInnerTexts()).toEqual([
      expect.stringContaining('echo'),
      expect.stringContaining('get-sum'),
    ]);
    expect(await page.locator('#perf-timeseries .uplot').count()).toBe(1);
    expect(await page.locator('.slowest li').count()).toBe(2);
    expect(await page.locator('.bottlenecks li').first().innerText()).toContain('80%');
    await shoot(page, 'performance-with-data-1440');
    await page.setViewportSize(VIEWPORTS.phone);
    await shoot(page, 'performance-with-data-390');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('an empty server: zeros and plain empty states, no errors', async () => {
    const { page, problems, close } = await openPage(browser, `${emptyHost.url}/`);
    expect(await statValue(page, 'stat-sessions')).toBe('0');
    expect(await statValue(page, 'stat-interactions')).toBe('0');
    expect(await page.locator('#ov-chart [data-state="empty"]').count()).toBe(1);
    await page.getByRole('link', { name: 'Journey' }).click();
    await settled(page);
    expect(await page.locator('[data-view="journey"] [data-state="empty"]').innerText()).toContain('No sessions in this range');
    await shoot(page, 'journey-empty-1440');
    expect(problems.list).toEqual([]);
    await close();
  });

  it('refreshes live: a new session appears without a reload', async () => {
    const { page, problems, close } = await openPage(browser, `${host.url}/journey?refresh=1`);
    const before = await page.locator('[data-testid="sessions-table"] tbody tr').count();
    await recordSession(home, 'memory', memory, [join(BIN_DIR, 'mcp-server-memory')], memoryEnv());
    await waitFor('the new session on screen', async () => ((await page.locator('[data-testid="sessions-table"] tbody tr').count()) === before + 1 ? true : undefined));
    expect(problems.list).toEqual([]);
    await close();
  });

  it('km dashboard opens the running stack in the browser, or prints its URL', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'km-opener-'));
    const opened = join(bin, 'opened.txt');
    writeFileSync(join(bin, 'xdg-open'), `#!/bin/sh\necho "$1" > "${opened}"\n`);
    chmodSync(join(bin, 'xdg-open'), 0o755);
    const run = (path: string, kmHome = home) => runKm(['dashboard'], { PATH: path, HOME: process.env.HOME ?? '', KM_HOME: kmHome });

    const withOpener = await run(bin);
    expect(withOpener.status).toBe(0);
    await waitFor('the opener to run', async () => (existsSync(opened) ? true : undefined), 5000);
    expect(readFileSync(opened, 'utf8').trim()).toBe(`${host.url}/`);

    const withoutOpener = await run(mkdtempSync(join(tmpdir(), 'km-no-opener-')));
    expect(withoutOpener.status).toBe(0);
    expect(withoutOpener.stdout).toContain(`${host.url}/`);

    const notRunning = await run('', mkdtempSync(join(tmpdir(), 'km-none-')));
    expect(notRunning.status).toBe(1);
    expect(notRunning.stderr).toContain('km serve');
  });
});

const silent = { info() {}, warn() {}, error() {} };

/** Asynchronous on purpose: the host answering km runs in this very process. */
function runKm(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [KM_BIN, ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Answers in the shapes the cost, risk and latency branches promise (the contracts). */
const totals = (costUsd: number, interactions: number) => ({ costUsd, tokensIn: interactions * 100, tokensOut: interactions * 50, interactions });
const today = new Date().toISOString().slice(0, 10);
const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
const CONTRACT_ANSWERS: Record<string, unknown> = {
  '/api/cost/summary': { today: totals(1.25, 10), yesterday: totals(0.5, 4), monthToDate: totals(12.5, 90), forecastMonthEnd: totals(40, 300), byDay: [{ day: yesterday, costUsd: 0.5 }, { day: today, costUsd: 1.25 }] },
  '/api/cost': { from: yesterday, to: today, groupBy: 'server', currency: 'USD', total: totals(1.25, 10), groups: [{ key: 'everything', ...totals(1, 7) }, { key: 'memory', ...totals(0.25, 3) }] },
  '/api/budgets': { budgets: [{ scope: 'project', projectId: 'dash-e2e', monthlyUsd: 50, period: 'month', spentUsd: 12.5, percent: 25, forecastUsd: 40, crossed: [] }] },
  '/api/cost/context-tax': { servers: [{ server: 'everything', tools: 12, definitionBytes: 8000, contextTokens: 2000, costUsdPerSession: 0.006 }] },
  '/api/risk/summary': { open: 2, bySeverity: { low: 0, medium: 1, high: 1, critical: 0 }, byRule: [{ ruleId: 'secret.aws-key', count: 1 }, { ruleId: 'pii.email', count: 1 }], byDay: [{ day: today, count: 2 }], anomalies: [] },
  '/api/latency': { groups: [
    { key: 'echo', server: 'everything', tool: 'echo', count: 40, errors: 0, toolErrors: 0, timeouts: 0, errorRate: 0, p50: 2, p95: 9, p99: 30, max: 41, bytesIn: 4000, bytesOut: 9000, totalMs: 200 },
    { key: 'get-sum', server: 'everything', tool: 'get-sum', count: 10, errors: 1, toolErrors: 1, timeouts: 0, errorRate: 0.1, p50: 1, p95: 3, p99: 5, max: 6, bytesIn: 1000, bytesOut: 2000, totalMs: 50 },
  ] },
  '/api/latency/timeseries': { bucket: 'hour', points: [0, 1, 2, 3].map((h) => ({ t: new Date(Date.now() - (3 - h) * 3_600_000).toISOString(), count: 10 + h, errors: h % 2, p50: 2 + h, p95: 9 + h, p99: 30 - h, max: 41 })) },
  '/api/latency/slowest': { interactions: [
    { id: 'i1', sessionId: 's1', server: 'everything', tool: 'echo', method: 'tools/call', latencyMs: 41, startedAt: new Date().toISOString(), outcome: 'ok' },
    { id: 'i2', sessionId: 's1', server: 'everything', tool: null, method: 'initialize', latencyMs: 30, startedAt: new Date().toISOString(), outcome: 'ok' },
  ] },
  '/api/latency/bottlenecks': { groups: [{ server: 'everything', tool: 'echo', totalMs: 200, share: 0.8, count: 40 }, { server: 'everything', tool: 'get-sum', totalMs: 50, share: 0.2, count: 10 }] },
};

function contractFindings() {
  const base = { kind: 'secret', sessionId: 's1', interactionId: 'i1', server: 'everything', tool: 'echo', userId: 'dash@example.com', projectId: 'dash-e2e', ts: new Date().toISOString(), status: 'open', detail: { rule: 'AWS access key id' } };
  return [
    { ...base, id: 'f1', ruleId: 'secret.aws-key', severity: 'high', path: 'params.arguments.key', preview: '{"key":"AKIA[REDACTED]"}' },
    { ...base, id: 'f2', ruleId: 'pii.email', kind: 'pii', severity: 'medium', path: 'result.content[0].text', preview: null },
  ];
}
