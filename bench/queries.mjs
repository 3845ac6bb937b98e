// Dashboard queries over a month of traffic (issue 11): every request the dashboard's views make, with a 30-day
// range and with each filter, timed through km serve's HTTP API; p50 and p99 against a floor measured in the same
// run (the same HTTP round trip to a route that answers 404 at once). The events (bench/ingest-events.mjs, 30 days)
// are folded straight into a km.db first (bench/month-home.mjs). BENCH_QUERY_EVENTS (default 100000) sets how many; BENCH_QUERY_HOME reuses
// a KM_HOME built before (e.g. by a run with BENCH_QUERY_KEEP=1).
import { createRequire } from 'node:module';
import { readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { buildMonthHome, MONTH_FROM, MONTH_TO } from './month-home.mjs';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const dist = (path) => require(join(here, '..', 'functions', 'dist', path));
const { startEmbeddedHost } = dist('host/embedded-host.js');

const EVENTS = Number(process.env.BENCH_QUERY_EVENTS ?? 100_000);
const REPEATS = Number(process.env.BENCH_QUERY_REPEATS ?? 30);
const DAY = 86_400_000;
const quiet = { info() {}, warn() {}, error: (message) => console.error(message) };
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(q * xs.length) - 1)];

/** The requests of each view, as the dashboard makes them for one set of filters over 30 days. */
function dashboardRequests(filters) {
  const [from, to] = [MONTH_FROM, MONTH_TO];
  const prevFrom = new Date(Date.parse(MONTH_FROM) - 30 * DAY).toISOString();
  const params = { from, to, ...filters };
  const q = (path, p) => {
    const query = new URLSearchParams(Object.entries(p).filter(([, v]) => v !== undefined));
    return `${path}${query.size ? `?${query}` : ''}`;
  };
  const noTool = { ...params, tool: undefined };
  return [
    ['overview', q('/api/sessions', { limit: 500, projectId: filters.projectId, userId: filters.userId })],
    ['overview', q('/api/latency', { ...params, groupBy: 'tool' })],
    ['overview', q('/api/latency', { ...params, from: prevFrom, to: from, groupBy: 'tool' })],
    ['overview', q('/api/latency/timeseries', { ...params, bucket: 'day' })],
    ...(filters.tool ? [] : [['overview', q('/api/latency', { ...params, groupBy: 'server' })]]),
    ['overview', q('/api/cost', { ...params, groupBy: 'day' })],
    ['overview', q('/api/risk/summary', params)],
    ['cost', q('/api/cost/summary', { ...params, from: undefined, to: undefined })],
    // With a filter the breakdown is by the filter's own dimension (spend is kept per dimension).
    ['cost', q('/api/cost', { ...params, groupBy: filters.tool ? 'tool' : filters.server ? 'server' : filters.userId ? 'user' : 'project' })],
    ['cost', q('/api/budgets', { projectId: filters.projectId })],
    ['cost', q('/api/cost/context-tax', { server: filters.server })],
    ['risk', q('/api/risk/findings', params)],
    ['performance', q('/api/latency', { ...params, groupBy: 'method', server: undefined, tool: undefined })],
    ['performance', q('/api/latency/slowest', { ...noTool, server: undefined, limit: 20 })],
    ['performance', q('/api/latency/bottlenecks', params)],
  ];
}

async function timed(url) {
  const t0 = performance.now();
  const response = await fetch(url);
  await response.arrayBuffer();
  return { ms: performance.now() - t0, status: response.status };
}

async function main() {
  const given = process.env.BENCH_QUERY_HOME;
  console.log(`dashboard query bench: ${given ? `the KM_HOME given (${given})` : `${EVENTS} events over 30 days`}, ${REPEATS} runs per request; load ${load()}`);
  const home = given ?? (await buildMonthHome(EVENTS, 'km-bench-queries-'));
  // The bench times queries, not the rate limit: 74 requests 30 times each, as fast as they answer, pass the
  // per-key limit that keeps a runaway client from starving the others (km serve reads it from the environment).
  process.env.KM_RATE_LIMIT_PER_MINUTE ??= '1000000';
  const host = await startEmbeddedHost({ home, port: 0, logger: quiet });
  const floor = [];
  for (let i = 0; i < REPEATS * 3; i++) floor.push((await timed(`${host.url}/api/no-such-route`)).ms);
  const filterSets = {
    none: {},
    project: { projectId: 'project-3' },
    user: { userId: 'user-7@example.com' },
    server: { server: 'server-5' },
    tool: { server: 'server-5', tool: 'tool-51' },
  };
  const rows = [];
  for (const [filterName, filters] of Object.entries(filterSets)) {
    for (const [view, path] of dashboardRequests(filters)) {
      const samples = [];
      let status = 0;
      for (let i = 0; i < REPEATS; i++) ({ ms: samples[i], status } = await timed(`${host.url}${path}`));
      // The first run is the route's first read since km serve started (documents not yet cached, code not yet
      // compiled): with 30 runs it is the p99, so it is shown on its own too, beside the p99 of the runs after it.
      rows.push({ view, filters: filterName, path, status, p50: quantile(samples, 0.5), p99: quantile(samples, 0.99), firstMs: samples[0], p99AfterFirst: quantile(samples.slice(1), 0.99) });
    }
  }
  await host.close();
  if (!process.env.BENCH_QUERY_HOME && !process.env.BENCH_QUERY_KEEP) rmSync(home, { recursive: true, force: true });
  else console.log(`KM_HOME kept: ${home}`);

  const floorP99 = quantile(floor, 0.99);
  console.log(`floor (HTTP round trip of a 404): p50 ${quantile(floor, 0.5).toFixed(1)} ms, p99 ${floorP99.toFixed(1)} ms`);
  for (const row of rows) {
    const flag = row.status !== 200 ? ` ANSWERED ${row.status}` : row.p99 > 50 ? '  over 50 ms' : '';
    const ms = (n) => n.toFixed(1).padStart(7);
    console.log(`${row.view.padEnd(12)} ${row.filters.padEnd(8)} p50 ${ms(row.p50)} ms  p99 ${ms(row.p99)} ms (${(row.p99 / floorP99).toFixed(1)}x floor)  first ${ms(row.firstMs)} ms, p99 after it ${ms(row.p99AfterFirst)} ms  ${row.path.split('?')[0]}${flag}`);
  }
  const worst = rows.reduce((a, b) => (b.p99 > a.p99 ? b : a));
  const failed = rows.filter((row) => row.status !== 200);
  const within = (field) => rows.filter((r) => r[field] <= 50).length;
  console.log(`worst p99: ${worst.p99.toFixed(1)} ms (${worst.path}); ${within('p99')} of ${rows.length} requests at or under the 50 ms target (${within('p99AfterFirst')} after their first read); ${failed.length} not answered 200; load ${load()}`);

  const resultsPath = process.env.BENCH_RESULTS ?? join(here, 'results.json');
  const previous = existsSync(resultsPath) ? JSON.parse(readFileSync(resultsPath, 'utf8')) : {};
  writeFileSync(resultsPath, `${JSON.stringify({ ...previous, queries: { at: new Date().toISOString(), events: EVENTS, loadavg: loadavg(), floorP99Ms: floorP99, rows } }, null, 2)}\n`);
  if (failed.length > 0) process.exitCode = 1;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
