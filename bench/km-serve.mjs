// `km serve` as the benches run it: a process of its own on KM_HOME, as users run it, and what /proc says of a
// process (its peak resident set and CPU), so a bench's figures are the measured process's own.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const km = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'bin', 'km.js');

/** Node options for the measured process only, e.g. BENCH_SERVE_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'. */
const nodeArgs = (process.env.BENCH_SERVE_NODE_ARGS ?? '').split(' ').filter(Boolean);

/** `km serve --port 0` on home, once it says where it listens; stop() ends it with SIGTERM and waits for its exit. */
export async function startServe(home) {
  const child = spawn(process.execPath, [...nodeArgs, km, 'serve', '--port', '0'], {
    env: { ...process.env, KM_HOME: home },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  // Its log (stderr): where it listens, and any error, which the bench passes on.
  let log = '';
  const url = await new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const match = /listening on (http:\S+)/.exec(log);
      if (match) resolve(match[1]);
    });
    exited.then((code) => reject(new Error(`km serve exited (${code}) before it listened: ${log}`)));
  });
  return {
    url,
    pid: child.pid,
    stop: async () => {
      child.kill('SIGTERM');
      const code = await exited;
      // A failed exit shows the whole log (a crash's stack has no level); a clean one its errors and warnings.
      const errors = code === 0 ? log.split('\n').filter((line) => / (error|warn) /.test(line)) : [log];
      if (code !== 0 || errors.length > 0) console.error(`km serve exited ${code}:\n${errors.join('\n')}`);
    },
  };
}

/** A live process's peak resident set, from the kernel's own high-water mark. */
export const peakRssOf = (pid) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;

/** A live process's user and system CPU seconds so far (/proc/<pid>/stat, in clock ticks of 1/100 s on Linux). */
export function cpuSecondsOf(pid) {
  // The command name (field 2) may hold spaces: the fields counted from after its closing parenthesis.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
const CLOCK_TICKS = Number(process.env.BENCH_CLOCK_TICKS ?? 100);
