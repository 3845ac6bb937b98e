import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startEmbeddedHost, type EmbeddedHost } from '@km/functions/dist/host/embedded-host';
import { BIN_DIR, KM_BIN, REPO_ROOT, requireBuiltKm } from '../../cli/test/e2e-support';
import { fmtDropped, fmtInt, fmtMs, fmtPct, fmtUsd } from '../src/format';
import { aSessionOfEvents, anEnvelope } from '../../functions/test/fixtures';

/**
 * The dashboard in a real browser against the embedded host, seeded by the built km between the MCP SDK client
 * and real servers from npm. Numbers on screen are checked against the query API; the cost, risk and latency
 * endpoints answer for real: a failed request or console error on any of them fails a test (only the tests that
 * intercept them to force 404s or contract shapes allow otherwise).
 */
const DASHBOARD_DIR = join(REPO_ROOT, 'dashboard', 'dist');
const SCREENSHOTS = join(REPO_ROOT, 'artifacts', 'screenshots');
const CHROMIUM = process.env.KM_CHROMIUM ?? '/usr/bin/chromium';
const API_PATH = /^\/api\//;
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
  await settle(c.callTool({ name: 'echo', arguments: { message: SECRET_MESSAGE } }));
  await settle(c.callTool({ name: 'get-sum', arguments: { a: 2, b: 40 } }));
  await settle(c.callTool({ name: 'no-such-tool', arguments: {} }));
  await c.listResources();
};
const memory = async (c: Client) => {
  await c.listTools();
  await settle(c.callTool({ name: 'read_graph', arguments: {} }));
};
/** A fake AWS access key id and a Luhn-valid test card: the risk rules must find both and never show them. */
const FAKE_AWS_KEY = 'AKIAQ3EGRIT7DASHE2EX';
const SECRET_MESSAGE = `deploy with aws_access_key_id ${FAKE_AWS_KEY} and bill card 4111 1111 1111 1111`;
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

/** A page that records console errors and failed requests (any status >= 400), and the API URLs it asked for. */
async function openPage(browser: Browser, url: string, viewport: { width: number; height: number } = VIEWPORTS.desktop) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems: Problems = { list: [] };
  const asked: string[] = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (request.method() === 'GET' && API_PATH.test(url.pathname)) asked.push(url.pathname + url.search);
  });
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    problems.list.push(`console: ${msg.text()} (${msg.location().url})`);
  });
  page.on('pageerror', (error) => problems.list.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => problems.list.push(`request failed: ${request.url()} ${request.failure()?.errorText}`));
  page.on('response', (response) => {
    if (response.status() < 400) return;
    problems.list.push(`HTTP ${response.status()}: ${response.request().method()} ${response.url()}`);
  });
  await page.goto(url);
  await settled(page);
  /** The last GET the page made to `pathname`, with the page's own query string. */
  const lastAsked = (pathname: string) => [...asked].reverse().find((u) => u.split('?')[0] === pathname);
  return { page, problems, lastAsked, asked, close: () => context.close() };
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
    await waitFor('the secret finding, projected', async () => ((await api('/api/risk/findings')).findings.some((f: any) => f.kind === 'secret') ? true : undefined));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await host?.close();
    await emptyHost?.close();
  });

  it('Overview shows the sessions, interactions and p95 latency the API reports, without a request per session', async () => {
    const { sessions } = await api('/api/sessions');
    const interactions = (await Promise.all(sessions.map((s: any) => api(`/api/sessions/${s.id}/interactions`)))).flatMap((r: any) => r.interactions);
    const { page, problems, lastAsked, asked, close } = await openPage(browser, `${host.url}/`);
    expect(await statValue(page, 'stat-sessions')).toBe(fmtInt(sessions.length));
    expect(await statValue(page, 'stat-interactions')).toBe(fmtInt(interactions.length));
    // The Performance Hub's p95 for the same range (a merged sketch), which is within 1% of the exact one here.
    const { total } = await api(lastAsked('/api/latency')!);
    expect(await statValue(page, 'stat-p95')).toBe(fmtMs(total.p95));
    expect(total.p95).toBeGreaterThan(p95(interactions.map((i: any) => i.latencyMs)) * 0.98);
    expect(total.p95).toBeLessThan(p95(interactions.map((i: any) => i.latencyMs)) * 1.02);
    expect(asked.filter((path) => /^\/api\/sessions\/[^/]+\/interactions/.test(path))).toEqual([]);
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

  it('Cost Center narrows spend to one filter, and says so rather than asking the API for two', async () => {
    const { page, problems, lastAsked, close } = await openPage(browser, `${host.url}/cost?server=memory`);
    expect(lastAsked('/api/cost')).toMatch(/server=memory/);
    const memoryOnly = await api(lastAsked('/api/cost')!);
    const all = await api(lastAsked('/api/cost')!.replace(/&?server=memory/, ''));
    expect(memoryOnly.total.interactions).toBeLessThan(all.total.interactions);
    await page.goto(`${host.url}/cost?server=memory&user=someone`);
    await settled(page);
    expect(await page.locator('[data-state="error"]').first().innerText()).toContain('one at a time');
    expect(problems.list).toEqual([]);
    await close();
  });

  it('Journey lists the sessions, maps clients to servers and tools, and opens an interaction', async () => {
    const { sessions } = await api('/api/sessions');
    const session = sessions.find((s: any) => s.server.name === 'everything');
    const { interactions } = await api(`/api/sessions/${session.id}/interactions`);
    const { page, problems, close } = await openPage(browser, `${host.url}/journey`);
    expect(await page.locator('[data-testid="sessions-table"] tbody tr').count()).toBe(sessions.length);
    expect(await page.locator('[data-testid="dropped-total"], [data-testid="row-dropped"]').count()).toBe(0); // nothing was dropped
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

  it('Journey and the session view say how many observations km dropped when its spool was full', async () => {
    // A wrapper with a tiny spool and nowhere to ship: it drops interactions and counts them in session.ended.
    const wrapHome = mkdtempSync(join(tmpdir(), 'km-dash-lossy-'));
    const lossy = await startEmbeddedHost({ home: mkdtempSync(join(tmpdir(), 'km-dash-lossy-serve-')), port: 0, dashboardDir: DASHBOARD_DIR, projectorIntervalMs: 100, logger: silent });
    try {
      const manyCalls = async (c: Client) => {
        for (let i = 0; i < 30; i++) await settle(c.callTool({ name: 'echo', arguments: { message: `call ${i} ${'x'.repeat(400)}` } }));
      };
      await recordSession(wrapHome, 'lossy', manyCalls, [join(BIN_DIR, 'mcp-server-everything'), 'stdio'], { KM_ENDPOINT: 'http://127.0.0.1:1', KM_MAX_SPOOL_BYTES: '6000' });
      const flushed = await runKm(['flush'], { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KM_HOME: wrapHome, KM_ENDPOINT: lossy.url });
      expect(flushed.status).toBe(0);
      const lossyApi = async (path: string) => (await fetch(`${lossy.url}${path}`)).json() as Promise<any>;
      const session = await waitFor('the lossy session, ended and projected', async () => {
        const { sessions } = await lossyApi('/api/sessions');
        return sessions.length === 1 && sessions[0].endedAt !== null ? sessions[0] : undefined;
      });
      // The API says what was dropped, per session, in the list and in the session.
      expect(session.droppedObservations).toBeGreaterThan(0);
      expect((await lossyApi(`/api/sessions/${session.id}`)).droppedObservations).toBe(session.droppedObservations);
      expect(session.interactionCount + session.droppedObservations).toBeGreaterThanOrEqual(30);

      const { page, problems, close } = await openPage(browser, `${lossy.url}/journey`);
      expect(await page.getByTestId('dropped-total').innerText()).toContain(`${fmtDropped(session.droppedObservations)} in these sessions`);
      const row = page.locator(`tr[data-session-id="${session.id}"]`);
      expect(await row.getByTestId('row-dropped').innerText()).toBe(fmtDropped(session.droppedObservations));
      await shoot(page, 'journey-dropped-1440');
      await row.locator('a').click();
      await page.waitForURL(new RegExp(`/journey/${session.id}`));
      await settled(page);
      expect(await page.getByTestId('session-dropped').innerText()).toContain(fmtDropped(session.droppedObservations));
      expect(await page.getByTestId('session-calls').innerText()).toBe(fmtInt(session.interactionCount));
      await shoot(page, 'session-dropped-1440');
      expect(problems.list).toEqual([]);
      await close();
    } finally {
      await lossy.close();
    }
  });

  const cellTexts = (page: Page, table: string, col: number) => page.locator(`${table} tbody tr`).evaluateAll((rows, n) => rows.map((r) => (r.children[n] as HTMLElement).innerText.trim()), col);

  it('Cost Center shows the spend, breakdown, context tax and a budget set through the API', async () => {
    const put = await fetch(`${host.url}/api/budgets/project/dash-e2e`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ monthlyUsd: 0.05 }) });
    expect(put.status).toBe(202);
    const { budgets } = await waitFor('the budget, projected', async () => {
      const answer = await api('/api/budgets');
      return answer.budgets.some((b: any) => b.projectId === 'dash-e2e' && b.monthlyUsd === 0.05) ? answer : undefined;
    });
    const budget = budgets.find((b: any) => b.projectId === 'dash-e2e');
    const { page, problems, lastAsked, close } = await openPage(browser, `${host.url}/cost`);
    expect(await absentEndpoints(page)).toEqual([]);
    const summary = await api(lastAsked('/api/cost/summary')!);
    expect(summary.monthToDate.costUsd).toBeGreaterThan(0);
    expect(await statValue(page, 'cost-today')).toBe(fmtUsd(summary.today.costUsd));
    expect(await statValue(page, 'cost-mtd')).toBe(fmtUsd(summary.monthToDate.costUsd));
    expect(await page.locator('#cost-days .uplot').count()).toBe(1);

    const report = await api(lastAsked('/api/cost')!);
    expect(report.groups.length).toBeGreaterThan(0);
    expect(await cellTexts(page, '[data-testid="cost-table"]', 0)).toEqual(report.groups.map((g: any) => g.key));
    expect(await cellTexts(page, '[data-testid="cost-table"]', 1)).toEqual(report.groups.map((g: any) => fmtUsd(g.costUsd)));
    expect(await cellTexts(page, '[data-testid="cost-table"]', 5)).toEqual(report.groups.map((g: any) => fmtInt(g.interactions)));
    expect(await page.getByTestId('cost-total').innerText()).toBe(fmtUsd(report.total.costUsd));

    const tax = await api(lastAsked('/api/cost/context-tax')!);
    expect(tax.servers.length).toBeGreaterThan(0);
    expect(await cellTexts(page, '#cost-context-tax table', 0)).toEqual(tax.servers.map((t: any) => t.server));
    expect(await cellTexts(page, '#cost-context-tax table', 1)).toEqual(tax.servers.map((t: any) => fmtInt(t.tools)));
    expect(await cellTexts(page, '#cost-context-tax table', 3)).toEqual(tax.servers.map((t: any) => fmtInt(t.contextTokens)));

    const used = budget.spentUsd / budget.monthlyUsd;
    expect(await page.locator('#cost-budgets li', { hasText: 'dash-e2e' }).innerText()).toContain(`${fmtUsd(budget.spentUsd)} of ${fmtUsd(0.05)} (${fmtPct(used, 0)})`);
    await shoot(page, 'cost-real-1440');
    await page.setViewportSize(VIEWPORTS.phone);
    await shoot(page, 'cost-real-390');
    expect(problems.list).toEqual([]);
    await close();
  });

  it('Risk Monitor shows the API\'s findings, redacted, and acknowledges and resolves them', async () => {
    const { page, problems, lastAsked, close } = await openPage(browser, `${host.url}/risk`);
    expect(await absentEndpoints(page)).toEqual([]);
    const summary = await api(lastAsked('/api/risk/summary')!);
    const { findings } = await api(lastAsked('/api/risk/findings')!);
    expect(await statValue(page, 'risk-open')).toBe(fmtInt(summary.open));
    for (const sev of ['critical', 'high', 'medium', 'low']) expect(await statValue(page, `risk-${sev}`)).toBe(fmtInt(summary.bySeverity[sev]));
    const items = page.locator('[data-testid="findings"] .finding');
    expect(await items.locator('.finding-row code').allInnerTexts()).toEqual(findings.map((f: any) => f.ruleId));

    const secret = findings.findIndex((f: any) => f.kind === 'secret' && ['high', 'critical'].includes(f.severity));
    expect(secret).toBeGreaterThanOrEqual(0);
    const item = items.nth(secret);
    await item.locator('button.linklike').click();
    const evidence = await item.locator('.evidence').innerText();
    expect(evidence).toContain(findings[secret].path);
    expect(await item.locator('.finding-row').innerText()).toMatch(/in the (request|response)/);
    expect(evidence).toContain('[REDACTED');
    expect(evidence).not.toContain(FAKE_AWS_KEY);
    expect(await page.locator('[data-view="risk"]').innerText()).not.toContain('4111 1111 1111 1111');
    await shoot(page, 'risk-real-1440');
    await page.setViewportSize(VIEWPORTS.phone);
    await shoot(page, 'risk-real-390');
    await page.setViewportSize(VIEWPORTS.desktop);

    const statusOf = async (id: string) => (await api(lastAsked('/api/risk/findings')!)).findings.find((f: any) => f.id === id)?.status;
    await item.getByRole('button', { name: 'Acknowledge' }).click();
    await waitFor('the API to report it acknowledged', async () => ((await statusOf(findings[secret].id)) === 'acknowledged' ? true : undefined), 10_000);
    await page.waitForFunction((id) => document.querySelectorAll('.finding .badge.status')[id]?.textContent === 'acknowledged', secret);
    await item.getByRole('button', { name: 'Resolve' }).click();
    await waitFor('the API to report it resolved', async () => ((await statusOf(findings[secret].id)) === 'resolved' ? true : undefined), 10_000);
    expect(problems.list).toEqual([]);
    await close();
  });

  it.each(['tool', 'server'])('Performance Hub per %s shows the API\'s percentiles and slowest calls', async (groupBy) => {
    const { page, problems, lastAsked, close } = await openPage(browser, `${host.url}/performance?by=${groupBy}`);
    expect(await absentEndpoints(page)).toEqual([]);
    const { groups } = await api(lastAsked('/api/latency')!);
    expect(lastAsked('/api/latency')).toContain(`groupBy=${groupBy}`);
    expect(groups.length).toBeGreaterThan(0);
    const table = '[data-testid="latency-table"]';
    expect(await cellTexts(page, table, 0)).toEqual(groups.map((g: any) => g.key));
    expect(await cellTexts(page, table, 1)).toEqual(groups.map((g: any) => fmtInt(g.count)));
    expect(await cellTexts(page, table, 2)).toEqual(groups.map((g: any) => fmtMs(g.p50)));
    expect(await cellTexts(page, table, 3)).toEqual(groups.map((g: any) => fmtMs(g.p95)));
    expect(await cellTexts(page, table, 4)).toEqual(groups.map((g: any) => fmtMs(g.p99)));
    expect(await cellTexts(page, table, 6)).toEqual(groups.map((g: any) => fmtPct(g.errorRate)));
    const { interactions } = await api(lastAsked('/api/latency/slowest')!);
    const shown = interactions.slice(0, 10);
    expect(shown.length).toBeGreaterThan(0);
    expect(await page.locator('.slowest li strong').allInnerTexts()).toEqual(shown.map((i: any) => i.tool ?? i.method));
    expect(await page.locator('.slowest li .mono').allInnerTexts()).toEqual(shown.map((i: any) => fmtMs(i.latencyMs)));
    if (groupBy === 'tool') {
      await shoot(page, 'performance-real-1440');
      await page.setViewportSize(VIEWPORTS.phone);
      await shoot(page, 'performance-real-390');
    }
    expect(problems.list).toEqual([]);
    await close();
  });

  it('every view shows, for a filter, the figures the API gives for that filter; the Overview and the Performance Hub agree', async () => {
    const filter = 'server=everything';
    const filtered = (asked: string[], pathname: string) => asked.filter((u) => u.split('?')[0] === pathname);
    const unfiltered = (url: string) => api(url.replace(/([?&])server=everything&?/, '$1'));

    // Overview: the first by-tool latency request is the current window's (the second is the window before).
    const overview = await openPage(browser, `${host.url}/?${filter}`);
    const latencyUrl = filtered(overview.asked, '/api/latency').find((u) => u.includes('groupBy=tool'))!;
    expect(latencyUrl).toContain(filter);
    const { total } = await api(latencyUrl);
    expect(total.count).toBeGreaterThan(0);
    expect(total.count).toBeLessThan((await unfiltered(latencyUrl)).total.count); // the filter really narrows
    const { sessions } = await api('/api/sessions');
    expect(await statValue(overview.page, 'stat-sessions')).toBe(fmtInt(sessions.filter((x: any) => x.server.name === 'everything').length));
    expect(await statValue(overview.page, 'stat-interactions')).toBe(fmtInt(total.count));
    const overviewP95 = await statValue(overview.page, 'stat-p95');
    expect(overviewP95).toBe(fmtMs(total.p95));
    const overviewErrorRate = fmtPct(total.errorRate);
    expect(await overview.page.locator('[data-testid="stat-p95"] .stat-caption').innerText()).toBe(`error rate ${overviewErrorRate}`);
    const costUrl = filtered(overview.asked, '/api/cost')[0]!;
    expect(costUrl).toContain(filter);
    expect(await statValue(overview.page, 'stat-spend')).toBe(fmtUsd((await api(costUrl)).total.costUsd));
    const riskUrl = overview.lastAsked('/api/risk/summary')!;
    expect(riskUrl).toContain(filter);
    expect(await statValue(overview.page, 'stat-findings')).toBe(fmtInt((await api(riskUrl)).open));
    expect(overview.problems.list).toEqual([]);
    await overview.close();

    // Performance Hub: its "All calls" row is the same merged sketch: the same p95 and error rate as the Overview.
    const performance = await openPage(browser, `${host.url}/performance?${filter}`);
    const perfUrl = performance.lastAsked('/api/latency')!;
    expect(perfUrl).toContain(filter);
    const row = async (col: number) => (await performance.page.locator('[data-testid="latency-total"]').evaluate((r, n) => (r.children[n] as HTMLElement).innerText.trim(), col));
    expect(await row(1)).toBe(fmtInt(total.count));
    expect(await row(3)).toBe(overviewP95);
    expect(await row(6)).toBe(overviewErrorRate);
    expect((await api(perfUrl)).total).toEqual(total);
    expect(performance.problems.list).toEqual([]);
    await performance.close();

    // Cost Center: the summary and the breakdown of the filter's slice.
    const cost = await openPage(browser, `${host.url}/cost?${filter}`);
    const summaryUrl = cost.lastAsked('/api/cost/summary')!;
    expect(summaryUrl).toContain(filter);
    const summary = await api(summaryUrl);
    expect(await statValue(cost.page, 'cost-mtd')).toBe(fmtUsd(summary.monthToDate.costUsd));
    expect(await statValue(cost.page, 'cost-today')).toBe(fmtUsd(summary.today.costUsd));
    expect(summary.monthToDate.interactions).toBeLessThan((await unfiltered(summaryUrl)).monthToDate.interactions);
    const report = await api(cost.lastAsked('/api/cost')!);
    expect(cost.lastAsked('/api/cost')).toContain(filter);
    expect(await cellTexts(cost.page, '[data-testid="cost-table"]', 1)).toEqual(report.groups.map((g: any) => fmtUsd(g.costUsd)));
    expect(cost.problems.list).toEqual([]);
    await cost.close();

    // Risk Monitor: the findings of the filter's server only.
    for (const server of ['everything', 'memory']) {
      const risk = await openPage(browser, `${host.url}/risk?server=${server}`);
      const riskSummaryUrl = risk.lastAsked('/api/risk/summary')!;
      expect(riskSummaryUrl).toContain(`server=${server}`);
      const riskSummary = await api(riskSummaryUrl);
      expect(await statValue(risk.page, 'risk-open')).toBe(fmtInt(riskSummary.open));
      const findingsUrl = risk.lastAsked('/api/risk/findings')!;
      expect(findingsUrl).toContain(`server=${server}`);
      const { findings } = await api(findingsUrl);
      expect(findings.every((f: any) => f.server === server)).toBe(true);
      expect(await risk.page.locator('[data-testid="findings"] .finding .finding-row code').allInnerTexts()).toEqual(findings.map((f: any) => f.ruleId));
      if (server === 'everything') expect(findings.some((f: any) => f.kind === 'secret')).toBe(true);
      expect(risk.problems.list).toEqual([]);
      await risk.close();
    }
  });

  it('a team filters every view by its users, and lets go of a project or user filter it cannot go with', async () => {
    const putTeam = async (teamId: string, name: string, userIds: string[]) => {
      const answer = await fetch(`${host.url}/api/teams/${teamId}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, userIds }) });
      expect(answer.status).toBe(200);
    };
    await putTeam('dash-team', 'Dash team', ['dash@example.com']);
    await putTeam('nobody', 'Nobody here', ['someone-else@example.com']);

    const { page, problems, lastAsked, close } = await openPage(browser, `${host.url}/cost?project=dash-e2e`);
    expect(await page.locator('#f-team option').allInnerTexts()).toEqual(['All teams', 'Dash team', 'Nobody here']);
    await page.selectOption('#f-team', 'dash-team');
    await page.waitForURL((url) => url.searchParams.get('team') === 'dash-team' && !url.searchParams.has('project'));
    await settled(page);
    const costUrl = lastAsked('/api/cost')!;
    expect(costUrl).toContain('teamId=dash-team');
    const teamReport = await api(costUrl);
    // Every session here is dash@example.com's: the team's spend is all of it, broken down by its users.
    expect(teamReport.total.interactions).toBe((await api(costUrl.replace(/&?teamId=dash-team/, ''))).total.interactions);
    expect(teamReport.total.interactions).toBeGreaterThan(0);
    expect(await page.getByTestId('cost-total').innerText()).toBe(fmtUsd(teamReport.total.costUsd));
    expect(await cellTexts(page, '[data-testid="cost-table"]', 0)).toEqual(['dash@example.com']);
    // A user chosen after the team: the team goes.
    await page.selectOption('#f-user', 'dash@example.com');
    await page.waitForURL((url) => url.searchParams.get('user') === 'dash@example.com' && !url.searchParams.has('team'));
    await settled(page);
    expect(problems.list).toEqual([]);
    await close();

    // A team none of whose users called anything: zeros on the Overview, from the API's own answers for the team.
    const overview = await openPage(browser, `${host.url}/?team=nobody`);
    expect(overview.asked.filter((u) => u.startsWith('/api/sessions?') && u.includes('teamId=nobody')).length).toBeGreaterThan(0);
    expect(await statValue(overview.page, 'stat-sessions')).toBe('0');
    expect(await statValue(overview.page, 'stat-interactions')).toBe('0');
    expect(overview.lastAsked('/api/risk/summary')).toContain('teamId=nobody');
    expect(await statValue(overview.page, 'stat-findings')).toBe('0');
    expect(overview.problems.list).toEqual([]);
    await overview.close();
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
    // The breakdown says it may miss spend (complete: false); the summary, whole, does not.
    expect(await page.getByTestId('cost-partial').count()).toBe(1);
    expect(await page.locator('#cost-breakdown [data-testid="cost-partial"]').innerText()).toContain('summed under (other)');
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
    expect(await page.getByTestId('latency-total').innerText()).toMatch(/All calls\s+50\s.*4\.0%/s);
    expect(await page.locator('#perf-timeseries .uplot').count()).toBe(1);
    expect(await page.locator('.slowest li').count()).toBe(2);
    expect(await page.locator('.bottlenecks li').first().innerText()).toContain('80%');
    await shoot(page, 'performance-with-data-1440');
    await page.setViewportSize(VIEWPORTS.phone);
    await shoot(page, 'performance-with-data-390');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('an empty server: the first run first, then zeros and plain empty states, no errors', async () => {
    const { page, problems, close } = await openPage(browser, `${emptyHost.url}/`);
    // No event yet: the app opens on the guided first run (issue 15); the Overview is one click away.
    await page.waitForURL(/\/first-run$/);
    await page.getByRole('link', { name: 'Overview' }).click();
    await settled(page);
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

  it('says "500+" where more sessions of the range exist than one load lists, and no change against before', async () => {
    const busy = await startEmbeddedHost({ home: mkdtempSync(join(tmpdir(), 'km-dash-busy-')), port: 0, dashboardDir: DASHBOARD_DIR, projectorIntervalMs: 100, logger: silent });
    try {
      const at = (i: number) => new Date(Date.now() - 60_000 + i * 10).toISOString();
      // 600 health checks today: a session each.
      for (let batch = 0; batch < 6; batch++) {
        const events = Array.from({ length: 100 }, (_, i) => aSessionOfEvents(anEnvelope({ orgId: 'local', sessionId: `check-${batch * 100 + i}` }), at(batch * 100 + i), 0)).flat();
        const posted = await fetch(`${busy.url}/api/ingest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events }) });
        expect(posted.status).toBe(202);
      }
      await waitFor('600 sessions, projected', async () => ((await (await fetch(`${busy.url}/api/sessions?limit=500`)).json()).sessions.length === 500 ? true : undefined));
      const { page, problems, close } = await openPage(browser, `${busy.url}/`);
      await page.waitForURL((url) => !url.pathname.endsWith('/first-run'));
      await settled(page);
      // Before, "500" with a change against yesterday, and nothing said the count stopped at the list's end.
      expect(await statValue(page, 'stat-sessions')).toBe('500+');
      expect(await page.locator('.lede').innerText()).toContain('500+ sessions');
      await page.getByRole('link', { name: 'Journey' }).click();
      await settled(page);
      expect(await page.locator('#sessions').innerText()).toContain('Sessions (500+, the newest)');
      // The last hour starts within a clock hour: calls and spend count that whole hour, and the page says so.
      await page.goto(`${busy.url}/?range=1h`);
      await settled(page);
      expect(await page.locator('.lede').innerText()).toMatch(/^Last hour \(calls and spend from \d\d:\d\d( [AP]M)?, as they are kept by the hour\): /);
      expect(await page.getByTestId('stat-spend').innerText()).toMatch(/from \d\d:\d\d( [AP]M)?, by the hour/);
      // A project and a user: spend cannot be narrowed to both, and the card says why, not "no cost data yet".
      await page.goto(`${busy.url}/?project=p1&user=u1`);
      await settled(page);
      expect(await page.getByTestId('stat-spend').innerText()).toContain('one at a time: keep one of those filters to see it');
      expect(problems.list).toEqual([]);
      await close();
    } finally {
      await busy.close();
    }
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
  '/api/cost/summary': { today: totals(1.25, 10), yesterday: totals(0.5, 4), monthToDate: totals(12.5, 90), forecastMonthEnd: totals(40, 300), byDay: [{ day: yesterday, costUsd: 0.5 }, { day: today, costUsd: 1.25 }], complete: true },
  '/api/cost': { from: yesterday, to: today, groupBy: 'server', currency: 'USD', total: totals(1.25, 10), groups: [{ key: 'everything', ...totals(1, 7) }, { key: 'memory', ...totals(0.25, 3) }], complete: false },
  '/api/budgets': { budgets: [{ scope: 'project', projectId: 'dash-e2e', monthlyUsd: 50, period: 'month', spentUsd: 12.5, percent: 25, forecastUsd: 40, crossed: [] }] },
  '/api/cost/context-tax': { servers: [{ server: 'everything', tools: 12, definitionBytes: 8000, contextTokens: 2000, costUsdPerSession: 0.006 }] },
  '/api/risk/summary': { open: 2, bySeverity: { low: 0, medium: 1, high: 1, critical: 0 }, byRule: [{ ruleId: 'secret.aws-key', count: 1 }, { ruleId: 'pii.email', count: 1 }], byDay: [{ day: today, count: 2 }], anomalies: [] },
  '/api/latency': { from: yesterday, to: today, groupBy: 'tool', total: { count: 50, errors: 1, toolErrors: 1, timeouts: 0, errorRate: 0.04, p50: 2, p95: 9, p99: 30, max: 41, bytesIn: 5000, bytesOut: 11000, totalMs: 250, errorCodes: {} }, groups: [
    { key: 'echo', server: 'everything', tool: 'echo', count: 40, errors: 0, toolErrors: 0, timeouts: 0, errorRate: 0, p50: 2, p95: 9, p99: 30, max: 41, bytesIn: 4000, bytesOut: 9000, totalMs: 200 },
    { key: 'get-sum', server: 'everything', tool: 'get-sum', count: 10, errors: 1, toolErrors: 1, timeouts: 0, errorRate: 0.1, p50: 1, p95: 3, p99: 5, max: 6, bytesIn: 1000, bytesOut: 2000, totalMs: 50 },
  ] },
  '/api/latency/timeseries': { bucket: 'hour', points: [0, 1, 2, 3].map((h) => ({ t: new Date(Date.now() - (3 - h) * 3_600_000).toISOString(), count: 10 + h, errors: h % 2, toolErrors: 1, timeouts: 0, errorRate: (h % 2 + 1) / (10 + h), p50: 2 + h, p95: 9 + h, p99: 30 - h, max: 41 })) },
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
