// The wrapper at volume (issue 11): sequential tools/call through km, and through a bare Node pass-through in the
// same run, in two modes: a burst (each call as soon as the last was answered) and a paced run (BENCH_BURST_PACE_MS
// between calls). For each: peak RSS of both (the kernel's VmHWM), their ratio, the 60 MB target, calls/s, the
// observations km dropped (session.ended) and how many interactions reached km serve.
// BENCH_BURST_CALLS (default 100000) sets the burst; the paced run makes BENCH_BURST_PACED_CALLS (default a tenth
// of the burst). BENCH_SHORT=1: 2000 and 200 calls, for CI. Figures are merged into bench/results.json (BENCH_RESULTS).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, initialize } from './jsonrpc-client.mjs';
import { peakRssOf, startServe } from './km-serve.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const node = process.execPath;
const server = [node, join(here, 'echo-server.mjs')];
const SHORT = process.env.BENCH_SHORT === '1';
const CALLS = Number(process.env.BENCH_BURST_CALLS ?? (SHORT ? 2000 : 100_000));
const PACED_CALLS = Number(process.env.BENCH_BURST_PACED_CALLS ?? Math.max(1, Math.round(CALLS / 10)));
const PACE_MS = Number(process.env.BENCH_BURST_PACE_MS ?? 1);
const TARGET_BYTES = 60 * 2 ** 20;
const home = mkdtempSync(join(tmpdir(), 'km-burst-'));
const env = { ...process.env, KM_HOME: home };
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');


async function run(command, calls, paceMs) {
  const client = connect(command, { env });
  await initialize(client);
  let peak = 0;
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) {
    await client.request('tools/call', { name: 'echo', arguments: { message: `call ${i}` } });
    if (paceMs > 0) await new Promise((resolve) => setTimeout(resolve, paceMs));
    if (i % 1000 === 0) peak = Math.max(peak, peakRssOf(client.pid));
  }
  const ms = performance.now() - t0;
  peak = Math.max(peak, peakRssOf(client.pid));
  await client.close();
  return { peak, callsPerSecond: calls / (ms / 1000) };
}

/** The newest session km serve knows, once it has ended (the wrapper ships its end last). */
async function lastSession(url, known) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { sessions = [] } = await (await fetch(`${url}/api/sessions?limit=20`)).json();
    const session = sessions.find((s) => !known.has(s.id) && s.endedAt);
    if (session || Date.now() > deadline) return session ?? null;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function mode(name, url, calls, paceMs, known) {
  const bare = await run([node, join(here, 'passthrough.mjs'), ...server], calls, paceMs);
  const km = await run([node, join(root, 'cli', 'bin', 'km.js'), '--', ...server], calls, paceMs);
  // What the wrapper could not ship within its exit budget waits in its spool (or journal): km flush ships it, as
  // the next km would, so the figures below count everything the session recorded.
  await new Promise((resolve) => spawn(node, [join(root, 'cli', 'bin', 'km.js'), 'flush'], { env, stdio: 'ignore' }).on('close', resolve));
  const session = await lastSession(url, known);
  if (session) known.add(session.id);
  return {
    mode: name,
    calls,
    paceMs,
    kmPeakRssBytes: km.peak,
    barePeakRssBytes: bare.peak,
    ratio: km.peak / bare.peak,
    targetMet: km.peak <= TARGET_BYTES,
    kmCallsPerSecond: km.callsPerSecond,
    bareCallsPerSecond: bare.callsPerSecond,
    droppedObservations: session?.droppedObservations ?? null,
    interactionsInServe: session?.interactionCount ?? 0,
    interactionsInSession: calls + 1,
    loadavg: loadavg(),
  };
}

async function main() {
  console.log(`wrapper burst bench: a burst of ${CALLS} and a paced run of ${PACED_CALLS} sequential tools/call (${PACE_MS} ms apart); ${cpus().length} cores, load ${load()}`);
  const serve = await startServe(home);
  const { url } = serve;
  const known = new Set();
  const rows = [await mode('burst', url, CALLS, 0, known), await mode('paced', url, PACED_CALLS, PACE_MS, known)];
  await serve.stop();
  const mb = (b) => `${(b / 2 ** 20).toFixed(0)} MB`;
  for (const r of rows) {
    console.log(
      `${r.mode.padEnd(6)} ${String(r.calls).padStart(7)} calls: km peak RSS ${mb(r.kmPeakRssBytes)}, bare pass-through ${mb(r.barePeakRssBytes)} = ${r.ratio.toFixed(2)}x; ` +
        `60 MB target ${r.targetMet ? 'met' : 'NOT met'}; km ${r.kmCallsPerSecond.toFixed(0)} calls/s (bare ${r.bareCallsPerSecond.toFixed(0)}); ` +
        `dropped ${r.droppedObservations ?? 'unknown (no session.ended yet)'}; in km serve ${r.interactionsInServe} of ${r.interactionsInSession} interactions; load ${r.loadavg.map((x) => x.toFixed(2)).join(' ')}`,
    );
  }
  const resultsPath = process.env.BENCH_RESULTS ?? join(here, 'results.json');
  const previous = existsSync(resultsPath) ? JSON.parse(readFileSync(resultsPath, 'utf8')) : {};
  writeFileSync(resultsPath, `${JSON.stringify({ ...previous, burst: { at: new Date().toISOString(), cores: cpus().length, targetBytes: TARGET_BYTES, rows } }, null, 2)}\n`);
  // A km still replaying a journal may be writing here: what is left is a temp directory.
  try {
    rmSync(home, { recursive: true, force: true, maxRetries: 5 });
  } catch {}
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
