// The dashboard's first load over a month of traffic (issue 11): each view (Overview, Cost Center, Risk Monitor,
// Performance Hub) opened in chromium on km serve with a 30-day range, timed from navigation to the last chart
// drawn: the first animation frame with no view still loading and no request to the API in flight. Each view in a
// fresh browser context (no browser cache); the first round meets km serve cold (nothing decoded yet), the next
// ones as a dashboard that stays open does. Target: <= 1.5 s. Reported, never asserted.
// BENCH_QUERY_EVENTS (default 100000) events, or BENCH_QUERY_HOME (a KM_HOME a query bench kept);
// BENCH_LOAD_ROUNDS (default 3; BENCH_SHORT=1: 1). Debian's chromium (KM_CHROMIUM, default /usr/bin/chromium).
import { createRequire } from 'node:module';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildMonthHome, MONTH_FROM, MONTH_TO } from './month-home.mjs';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const { startEmbeddedHost } = require(join(root, 'functions', 'dist', 'host', 'embedded-host.js'));
const { chromium } = require('playwright-core');

const EVENTS = Number(process.env.BENCH_QUERY_EVENTS ?? 100_000);
const ROUNDS = process.env.BENCH_SHORT === '1' ? 1 : Number(process.env.BENCH_LOAD_ROUNDS ?? 3);
const CHROMIUM = process.env.KM_CHROMIUM ?? '/usr/bin/chromium';
const TARGET_MS = 1500;
const VIEWS = [
  ['overview', '/'],
  ['cost', '/cost'],
  ['risk', '/risk'],
  ['performance', '/performance'],
];
const quiet = { info() {}, warn() {}, error: (message) => console.error(message) };
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

/** Milliseconds from navigation to the first frame with the view drawn and nothing left to fetch. */
async function firstLoad(browser, url) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const failed = [];
  page.on('requestfailed', (request) => request.url().includes('/api/') && failed.push(request.url()));
  page.on('response', (response) => response.url().includes('/api/') && response.status() >= 400 && failed.push(`${response.status()} ${response.url()}`));
  // The page counts its own API requests in flight (its fetches, answered and read), for the check each frame.
  await page.addInitScript(() => {
    const original = window.fetch.bind(window);
    window.kmInFlight = 0;
    window.fetch = async (...args) => {
      window.kmInFlight++;
      try {
        const response = await original(...args);
        return response;
      } finally {
        // After the body is read: the view draws from it in the same task.
        setTimeout(() => window.kmInFlight--, 0);
      }
    };
  });
  await page.goto(url);
  const drawnAt = await page.waitForFunction(
    () => {
      const drawn = document.querySelector('[data-view]') && document.querySelectorAll('.loading').length === 0;
      // The API answered everything asked: a view that is drawn but still fetching is not loaded.
      return drawn && window.kmInFlight === 0 ? performance.now() : false;
    },
    undefined,
    { polling: 'raf', timeout: 120_000 },
  );
  const ms = await drawnAt.jsonValue();
  const errors = await page.locator('.state.error, [data-state="error"]').count();
  await context.close();
  if (failed.length > 0 || errors > 0) throw new Error(`${url} did not load cleanly: ${failed.join(', ') || `${errors} error box(es)`}`);
  return ms;
}

/** How many events the home's log holds (a kept home may hold any number). */
function eventsIn(home) {
  const Database = require('better-sqlite3');
  const db = new Database(join(home, 'km.db'), { readonly: true });
  try {
    return db.prepare('SELECT next - 1 AS n FROM km_event_sequence').get().n;
  } finally {
    db.close();
  }
}

async function main() {
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: apt-get install -y chromium (or set KM_CHROMIUM)`);
  const dashboardDir = join(root, 'dashboard', 'dist');
  if (!existsSync(join(dashboardDir, 'index.html'))) throw new Error('no dashboard/dist: run npm run build first');
  const home = process.env.BENCH_QUERY_HOME ?? (await buildMonthHome(EVENTS, 'km-bench-load-'));
  const events = eventsIn(home);
  console.log(`dashboard first load: ${events} events over 30 days, ${ROUNDS} round(s) of ${VIEWS.length} views in chromium; ${cpus().length} cores, load ${load()}`);
  // Each view fires a dozen requests at once, every round: the bench times loads, not the per-key rate limit.
  process.env.KM_RATE_LIMIT_PER_MINUTE ??= '1000000';
  const host = await startEmbeddedHost({ home, port: 0, logger: quiet, dashboardDir });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  const range = new URLSearchParams({ range: 'custom', from: MONTH_FROM, to: MONTH_TO });
  const rows = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const [view, path] of VIEWS) rows.push({ round, view, ms: await firstLoad(browser, `${host.url}${path}?${range}`) });
    }
  } finally {
    await browser.close();
    await host.close();
    if (!process.env.BENCH_QUERY_HOME) rmSync(home, { recursive: true, force: true });
  }
  for (const [view] of VIEWS) {
    const times = rows.filter((row) => row.view === view).map((row) => row.ms);
    const warm = times.slice(1).sort((a, b) => a - b);
    const median = warm.length > 0 ? warm[Math.floor((warm.length - 1) / 2)] : null;
    const worst = Math.max(...times);
    console.log(
      `${view.padEnd(12)} cold km serve ${times[0].toFixed(0).padStart(6)} ms${median === null ? '' : `, then ${median.toFixed(0).padStart(5)} ms (median)`}  ${worst <= TARGET_MS ? 'met' : 'NOT met'} (<= ${TARGET_MS} ms)`,
    );
  }
  console.log(`load after: ${load()}`);
  const resultsPath = process.env.BENCH_RESULTS ?? join(here, 'results.json');
  const previous = existsSync(resultsPath) ? JSON.parse(readFileSync(resultsPath, 'utf8')) : {};
  writeFileSync(resultsPath, `${JSON.stringify({ ...previous, dashboardLoad: { at: new Date().toISOString(), events, loadavg: loadavg(), targetMs: TARGET_MS, rows } }, null, 2)}\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
