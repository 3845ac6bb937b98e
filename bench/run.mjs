// npm run bench: what km costs in the user's AI session, against a bare pass-through measured in the same run.
// (a) client -> server, (b) client -> bare Node pass-through -> server, (c) client -> km -> server (shipping to
// a running km serve). Modes alternate in rounds so machine noise hits all three alike. Figures are ratios.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { connect, initialize, quantile } from './jsonrpc-client.mjs';
import { startServe } from './km-serve.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const node = process.execPath;
const server = [node, join(here, 'echo-server.mjs')];
const CALLS_PER_ROUND = Number(process.env.BENCH_CALLS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const STARTS = Number(process.env.BENCH_STARTS ?? 12);

const home = mkdtempSync(join(tmpdir(), 'km-bench-'));
const env = { ...process.env, KM_HOME: home };
const modes = {
  direct: server,
  passthrough: [node, join(here, 'passthrough.mjs'), ...server],
  km: [node, join(root, 'cli', 'bin', 'km.js'), '--', ...server],
};

async function roundTrips(mode, samples) {
  const client = connect(modes[mode], { env });
  await initialize(client);
  for (let i = 0; i < 100; i++) await client.request('tools/call', { name: 'echo', arguments: { message: 'warm' } });
  for (let i = 0; i < CALLS_PER_ROUND; i++) {
    const t0 = performance.now();
    await client.request('tools/call', { name: 'echo', arguments: { message: `call ${i}` } });
    samples.push(performance.now() - t0);
  }
  await client.close();
}

async function startUp(mode) {
  const t0 = performance.now();
  const client = connect(modes[mode], { env });
  await initialize(client);
  const ms = performance.now() - t0;
  await client.close();
  return ms;
}


async function main() {
  const serve = await startServe(home);

  const samples = { direct: [], passthrough: [], km: [] };
  const starts = { direct: [], passthrough: [], km: [] };
  for (let r = 0; r < ROUNDS; r++) for (const mode of Object.keys(modes)) await roundTrips(mode, samples[mode]);
  for (let r = 0; r < STARTS; r++) for (const mode of Object.keys(modes)) starts[mode].push(await startUp(mode));
  await serve.stop();

  const row = (mode) => ({ p50: quantile(samples[mode], 0.5), p99: quantile(samples[mode], 0.99), start: quantile(starts[mode], 0.5) });
  const [a, b, c] = [row('direct'), row('passthrough'), row('km')];
  const f = (x) => x.toFixed(3).padStart(8);
  console.log(`round trips: ${ROUNDS * CALLS_PER_ROUND} sequential tools/call per mode; start-ups: ${STARTS} per mode (median)`);
  console.log('mode           p50 ms   p99 ms  start ms');
  for (const [name, r] of [['direct', a], ['passthrough', b], ['km', c]]) console.log(`${name.padEnd(12)} ${f(r.p50)} ${f(r.p99)} ${f(r.start)}`);
  const added = (q) => (c[q] - a[q]) / Math.max(1e-6, b[q] - a[q]);
  const results = [
    ['p50 added latency, km / pass-through', added('p50'), 1.25],
    ['p99 added latency, km / pass-through', added('p99'), 1.25],
    ['p50 round trip, km / pass-through', c.p50 / b.p50, 1.25],
    ['p99 round trip, km / pass-through', c.p99 / b.p99, 1.25],
    ['start-up, km / pass-through', c.start / b.start, 1.2],
  ];
  for (const [label, ratio, target] of results) console.log(`${label.padEnd(40)} ${ratio.toFixed(2)}x  (target <= ${target}x) ${ratio <= target ? 'ok' : 'OVER'}`);
  rmSync(home, { recursive: true, force: true });

  // Merged into bench/results.json with the other benches' figures (the landing page reads them at build time).
  const resultsPath = process.env.BENCH_RESULTS ?? join(here, 'results.json');
  const previous = existsSync(resultsPath) ? JSON.parse(readFileSync(resultsPath, 'utf8')) : {};
  const overhead = { at: new Date().toISOString(), cores: cpus().length, loadavg: loadavg(), callsPerMode: ROUNDS * CALLS_PER_ROUND, direct: a, passthrough: b, km: c };
  writeFileSync(resultsPath, `${JSON.stringify({ ...previous, overhead }, null, 2)}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
