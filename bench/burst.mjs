// The wrapper at volume (issue 11): 100k sequential tools/call through km, and through a bare Node pass-through in
// the same run, sampling each process's peak RSS (VmHWM) and, for km, how much of the session reached km serve.
// BENCH_BURST_CALLS sets the number of calls (default 100000); BENCH_BURST_PACE_MS > 0 waits between calls (paced).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, initialize } from './jsonrpc-client.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const node = process.execPath;
const server = [node, join(here, 'echo-server.mjs')];
const CALLS = Number(process.env.BENCH_BURST_CALLS ?? 100_000);
const PACE_MS = Number(process.env.BENCH_BURST_PACE_MS ?? 0);
const home = mkdtempSync(join(tmpdir(), 'km-burst-'));
const env = { ...process.env, KM_HOME: home };
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

/** Peak resident set of a live process, from the kernel's own high-water mark. */
const peakRss = (pid) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;

async function burst(command) {
  const client = connect(command, { env });
  await initialize(client);
  let peak = 0;
  const t0 = performance.now();
  for (let i = 0; i < CALLS; i++) {
    await client.request('tools/call', { name: 'echo', arguments: { message: `call ${i}` } });
    if (PACE_MS > 0) await new Promise((resolve) => setTimeout(resolve, PACE_MS));
    if (i % 1000 === 0) peak = Math.max(peak, peakRss(client.pid));
  }
  const ms = performance.now() - t0;
  peak = Math.max(peak, peakRss(client.pid));
  await client.close();
  return { peak, ms };
}

async function main() {
  console.log(`wrapper burst bench: ${CALLS} sequential tools/call${PACE_MS ? `, ${PACE_MS} ms apart` : ''}; load ${load()}`);
  const serve = spawn(node, [join(root, 'cli', 'bin', 'km.js'), 'serve', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve) => serve.stdout.on('data', (c) => { const m = /listening on (http:\S+)/.exec(String(c)); if (m) resolve(m[1]); }));
  const bare = await burst([node, join(here, 'passthrough.mjs'), ...server]);
  const km = await burst([node, join(root, 'cli', 'bin', 'km.js'), '--', ...server]);
  // What reached km serve by the end (the wrapper ships the rest from its spool later).
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const sessions = await (await fetch(`${url}/api/sessions?limit=5`)).json();
  const recorded = sessions.sessions?.[0]?.interactionCount ?? 0;
  serve.kill('SIGTERM');
  const mb = (b) => `${(b / 2 ** 20).toFixed(0)} MB`;
  console.log(`bare pass-through peak RSS ${mb(bare.peak)} (${(CALLS / (bare.ms / 1000)).toFixed(0)} calls/s)`);
  console.log(`km peak RSS ${mb(km.peak)} = ${(km.peak / bare.peak).toFixed(2)}x the pass-through's (${(CALLS / (km.ms / 1000)).toFixed(0)} calls/s); target <= 60 MB`);
  console.log(`interactions in km serve 3 s after the session: ${recorded} of ${CALLS + 1}; load ${load()}`);
  rmSync(home, { recursive: true, force: true });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
