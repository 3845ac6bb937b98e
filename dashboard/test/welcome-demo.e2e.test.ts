import { createReadStream, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_ROOT } from '../../cli/test/e2e-support';

/**
 * The landing page and the demo as a visitor gets them from a plain static file server over dashboard/dist: no
 * SPA fallback, no /api. Every request the pages make must stay on the server's origin, and the demo must show
 * data in every view with nothing behind it.
 */
const DIST = join(REPO_ROOT, 'dashboard', 'dist');
const RESULTS = join(REPO_ROOT, 'bench', 'results.json');
const CHROMIUM = process.env.KM_CHROMIUM ?? '/usr/bin/chromium';
const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.map': 'application/json', '.png': 'image/png', '.jpg': 'image/jpeg' };

/** The plainest static server: a file, or a directory's index.html, else 404. It records what was asked. */
function startStaticServer(root: string): Promise<{ server: Server; url: string; asked: string[] }> {
  const asked: string[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    asked.push(path);
    let file = normalize(join(root, path));
    if (!file.startsWith(root + sep) && file !== root) return void res.writeHead(403).end();
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file) || !statSync(file).isFile()) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, asked })));
}

/**
 * The landing page's funnel beacon (issue 15): km serve and the Functions count it; a bare static file server has no
 * API, and its 404 there is expected (the page works the same, the view is just not counted).
 */
const BEACON = '/api/funnel/landing-view';
const isBeacon = (url: string) => url !== '' && new URL(url).pathname === BEACON;

/** A page that records every request it makes and every error it reports (but the beacon's 404 here). */
async function openPage(browser: Browser, url: string, viewport: { width: number; height: number }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const requests: string[] = [];
  const problems: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('console', (message) => {
    if (message.type() === 'error' && !isBeacon(message.location().url)) problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
  page.on('response', (response) => {
    if (response.status() >= 400 && !isBeacon(response.url())) problems.push(`HTTP ${response.status()}: ${response.url()}`);
  });
  await page.goto(url);
  return { page, requests, problems, close: () => context.close() };
}

/** Every query of the view answered: the view is there and no loading indicator is left. */
async function settled(page: Page, view: string) {
  await page.waitForSelector(`[data-view="${view}"]`, { timeout: 30_000 });
  await page.waitForFunction(() => document.querySelectorAll('.loading').length === 0, undefined, { timeout: 30_000 });
}

/** The figures the landing page must show, computed here from bench/results.json; null: the bench did not measure it. */
function expectedFigures(): Array<{ label: string; value: string | null }> {
  const results = existsSync(RESULTS) ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as Record<string, any>) : {};
  const ms = (x: number) => `${x < 10 ? x.toFixed(2) : x.toFixed(0)} ms`;
  const worst = results.queries?.rows?.length ? Math.max(...results.queries.rows.map((row: any) => row.p99)) : null;
  const burst = results.burst?.rows?.find((row: any) => row.mode === 'burst');
  return [
    { label: 'Round trip of a tool call through km', value: results.overhead ? ms(results.overhead.km.p50) : null },
    { label: 'Events ingested until every view shows them', value: results.ingest ? `${Math.round(results.ingest.eventsPerSecond).toLocaleString('en-US')} events/s` : null },
    { label: 'Slowest dashboard query', value: worst === null ? null : ms(worst) },
    { label: 'Memory of km during a burst of calls', value: burst ? `${(burst.kmPeakRssBytes / 2 ** 20).toFixed(0)} MB` : null },
  ];
}

const offOrigin = (requests: string[], origin: string) => requests.filter((url) => new URL(url).origin !== origin && !url.startsWith('data:'));

describe('the landing page and the demo, from a plain static file server', () => {
  let browser: Browser;
  let site: Awaited<ReturnType<typeof startStaticServer>>;

  beforeAll(async () => {
    for (const page of ['welcome', 'demo']) {
      if (!existsSync(join(DIST, page, 'index.html'))) throw new Error(`dashboard/dist/${page}/index.html is missing: run \`npm run build\` first (npm test does).`);
    }
    if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: apt-get install -y chromium (or set KM_CHROMIUM)`);
    site = await startStaticServer(DIST);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => site?.server.close(resolve));
  });

  for (const [name, viewport] of Object.entries(VIEWPORTS)) {
    it(`landing page at ${viewport.width}px: the value, the four pain points, the setup, the measured figures and one call to action`, async () => {
      const { page, requests, problems, close } = await openPage(browser, `${site.url}/welcome/`, viewport);
      expect(await page.locator('h1').innerText()).toMatch(/digital odometer for AI agents/i);
      expect(await page.getAttribute('html', 'lang')).toBe('en');
      expect(await page.getAttribute('meta[name="description"]', 'content')).toMatch(/odometer/);
      for (const pain of ['Cost', 'Security', 'Performance', 'Compliance']) await expect(page.getByRole('heading', { name: pain, exact: true }).isVisible()).resolves.toBe(true);
      const setup = await page.locator('#setup pre').innerText();
      expect(setup).toContain(`npm i -g ${site.url}/install/km.tgz`); // from the server the page came from
      expect(setup).toContain('km init');
      const cta = page.getByRole('link', { name: 'Sign in with GitHub' });
      expect(await cta.count()).toBe(1);
      expect(await cta.getAttribute('href')).toMatch(/^\/\.auth\/login\/github/);
      expect(await cta.isVisible()).toBe(true);

      const figures = await page.locator('.figure').allInnerTexts();
      for (const [i, expected] of expectedFigures().entries()) {
        expect(figures[i]).toContain(expected.label);
        expect(figures[i]).toContain(expected.value ?? 'not measured');
      }
      // The screenshots of the demo: sized in the HTML (no layout shift), and they load.
      const shots = page.locator('.pains img');
      expect(await shots.count()).toBe(4);
      for (const shot of await shots.all()) {
        expect(await shot.getAttribute('width')).toBeTruthy();
        expect(await shot.getAttribute('height')).toBeTruthy();
        expect(await shot.getAttribute('alt')).toMatch(/demo/);
        await shot.scrollIntoViewIfNeeded();
        await page.waitForFunction((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 0, await shot.elementHandle(), { timeout: 30_000 });
      }
      // Nothing wider than the screen, on a phone too.
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
      expect(offOrigin(requests, site.url)).toEqual([]);
      // The funnel's one beacon, to the page's own origin (no cookie is set: there is nothing to set it).
      expect(requests.filter(isBeacon)).toEqual([`${site.url}${BEACON}`]);
      expect(problems).toEqual([]);
      mkdirSync(join(REPO_ROOT, 'artifacts', 'screenshots'), { recursive: true });
      await page.screenshot({ path: join(REPO_ROOT, 'artifacts', 'screenshots', `welcome-${name}.png`), fullPage: true });
      await close();
    });
  }

  it('demo: every view shows recorded data, with no API behind it and no request off the origin', async () => {
    const apiBefore = site.asked.filter((path) => path.startsWith('/api')).length;
    const { page, requests, problems, close } = await openPage(browser, `${site.url}/demo/`, VIEWPORTS.desktop);
    await settled(page, 'overview');
    expect(Number(await page.locator('[data-testid="stat-sessions"] [data-value]').innerText())).toBeGreaterThan(0);
    expect(await page.locator('.recent li').count()).toBeGreaterThan(0);

    await page.getByRole('link', { name: 'Cost Center' }).click();
    await settled(page, 'cost');
    expect(await page.locator('[data-testid="cost-table"] tbody tr').count()).toBeGreaterThan(0);

    await page.getByRole('link', { name: 'Risk Monitor' }).click();
    await settled(page, 'risk');
    const findings = await page.locator('[data-testid="findings"]').innerText();
    expect(findings).toMatch(/aws|AWS/);
    expect(findings).not.toContain('AKIAQ3EGRIT7DEMOEXAM');

    await page.getByRole('link', { name: 'Performance Hub' }).click();
    await settled(page, 'performance');
    expect(await page.locator('[data-testid="latency-table"] tbody tr').count()).toBeGreaterThan(0);

    await page.getByRole('link', { name: 'Journey' }).click();
    await settled(page, 'journey');
    const rows = page.locator('[data-testid="sessions-table"] tbody tr');
    expect(await rows.count()).toBeGreaterThan(0);
    await rows.first().locator('a').first().click();
    await settled(page, 'session');
    expect(await page.locator('[data-testid="waterfall"] [role="listitem"]').count()).toBeGreaterThan(0);
    // The view lives in the query, so a reload on a plain static server shows the same session.
    expect(page.url()).toMatch(/\/demo\/\?view=\/journey\//);
    await page.reload();
    await settled(page, 'session');

    expect(offOrigin(requests, site.url)).toEqual([]);
    expect(site.asked.filter((path) => path.startsWith('/api')).length).toBe(apiBefore);
    expect(problems).toEqual([]);
    await close();
  });
});
