// What a km.json policy costs on the hot path: km with plain pipes (no policy) against km deciding every client
// line before forwarding (deny list, argument patterns and blockSecrets on), same echo server, rounds alternating
// so machine noise hits both alike. Prints medians and ratios; never asserted. Run after `npm run build`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { connect, initialize, quantile } from './jsonrpc-client.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const km = join(here, '..', 'cli', 'bin', 'km.js');
const CALLS = Number(process.env.BENCH_CALLS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const home = mkdtempSync(join(tmpdir(), 'km-bench-policy-'));
const plain = mkdtempSync(join(tmpdir(), 'km-bench-plain-'));
const guarded = mkdtempSync(join(tmpdir(), 'km-bench-guarded-'));
writeFileSync(join(guarded, 'km.json'), JSON.stringify({ policy: { deny: { tools: ['delete_*'], arguments: ['*rm -rf*'] }, blockSecrets: true } }));
// Shipping goes nowhere (a closed port): this measures forwarding, not the embedded stack.
const env = { ...process.env, KM_HOME: home, KM_ENDPOINT: 'http://127.0.0.1:9' };

async function round(cwd, samples) {
  const client = connect([process.execPath, km, '--', process.execPath, join(here, 'echo-server.mjs')], { env, cwd, stderr: 'ignore' });
  await initialize(client);
  const message = 'a realistic argument of a few hundred bytes: ' + 'lorem ipsum dolor sit amet '.repeat(10);
  for (let i = 0; i < 100; i++) await client.request('tools/call', { name: 'echo', arguments: { message } });
  for (let i = 0; i < CALLS; i++) {
    const t0 = performance.now();
    await client.request('tools/call', { name: 'echo', arguments: { message: `${message} ${i}` } });
    samples.push(performance.now() - t0);
  }
  await client.close();
}

const samples = { plain: [], policy: [] };
for (let r = 0; r < ROUNDS; r++) {
  await round(plain, samples.plain);
  await round(guarded, samples.policy);
}
const f = (x) => x.toFixed(3).padStart(8);
console.log(`${ROUNDS * CALLS} sequential tools/call per mode`);
console.log('mode         p50 ms   p99 ms');
for (const mode of ['plain', 'policy']) console.log(`${mode.padEnd(10)} ${f(quantile(samples[mode], 0.5))} ${f(quantile(samples[mode], 0.99))}`);
console.log(`p50 round trip, policy / plain  ${(quantile(samples.policy, 0.5) / quantile(samples.plain, 0.5)).toFixed(2)}x`);
console.log(`p99 round trip, policy / plain  ${(quantile(samples.policy, 0.99) / quantile(samples.plain, 0.99)).toFixed(2)}x`);
for (const dir of [home, plain, guarded]) rmSync(dir, { recursive: true, force: true });
