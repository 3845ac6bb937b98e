import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { Direction } from '@km/shared';
import type { WrapSession } from './session';

/**
 * `km [--project P] [--name N] [--] <command> [args...]`: runs the MCP server as a child and forwards stdio
 * byte for byte. The hot path is two pipes; observation gets a reference to each chunk after it was
 * forwarded, and runs later (setImmediate), so nothing it does can delay or alter the bytes.
 *
 * Only node built-ins load before the child is spawned: the server's start-up overlaps with loading the rest
 * of km (the session module is required afterwards).
 */
export interface WrapOptions {
  command: string;
  args: string[];
  project?: string;
  name?: string;
}

const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const now = () => performance.timeOrigin + performance.now();

export function runWrap(options: WrapOptions): void {
  const startedAt = now();
  const child = spawn(options.command, options.args, { stdio: ['pipe', 'pipe', 'inherit'], windowsHide: true });
  const childIn = child.stdin!;
  const childOut = child.stdout!;

  // The hot path. Errors on either pipe mean a peer went away; exit is handled by the child's 'close'.
  process.stdin.pipe(childIn);
  childOut.pipe(process.stdout);
  childIn.on('error', () => {});
  process.stdout.on('error', () => {});

  // Observation: record arrival times now, do the work later.
  const queue: Array<{ direction: Direction; chunk: Buffer; at: number }> = [];
  let session: WrapSession | null = null;
  let scheduled = false;
  const drain = () => {
    scheduled = false;
    if (!session) return;
    const batch = queue.splice(0, queue.length);
    session.observeChunks(batch);
  };
  const tap = (direction: Direction) => (chunk: Buffer) => {
    queue.push({ direction, chunk, at: now() });
    if (!scheduled && session) {
      scheduled = true;
      setImmediate(drain);
    }
  };
  process.stdin.on('data', tap('client_to_server'));
  childOut.on('data', tap('server_to_client'));

  for (const signal of FORWARDED_SIGNALS) {
    process.on(signal, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    });
  }

  let finished = false;
  child.on('error', (err: NodeJS.ErrnoException) => {
    if (child.pid !== undefined || finished) return; // an error after a successful start is not a spawn failure
    finished = true;
    const why = err.code === 'ENOENT' ? 'command not found' : err.code === 'EACCES' ? 'permission denied' : err.message;
    process.stderr.write(`km: cannot start "${options.command}": ${why} (${err.code ?? 'error'}). Check the command in your MCP client config.\n`);
    process.exit(err.code === 'ENOENT' ? 127 : 126);
  });

  const { startSession } = require('./session') as typeof import('./session');
  session = startSession(options, startedAt);
  child.on('spawn', () => session!.started(child.pid ?? 0));
  if (queue.length > 0) {
    scheduled = true;
    setImmediate(drain);
  }

  child.on('close', (code, signal) => {
    if (finished) return;
    finished = true;
    drain();
    const sessionDone = session!.finish({ exitCode: code, signal, at: now() });
    // process.exit drops pending pipe writes: let the client get the server's last bytes first.
    const stdoutDrained = new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
    void Promise.all([sessionDone, stdoutDrained]).then(() => {
      for (const s of FORWARDED_SIGNALS) process.removeAllListeners(s);
      if (signal) {
        // Die the way the server died, so the client sees the same status.
        process.kill(process.pid, signal);
        setTimeout(() => process.exit(128), 1000).unref();
      } else {
        process.exit(code ?? 0);
      }
    });
  });
}
