import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { ChunkBatch, ToObserver, FromObserver } from './observer-protocol';
import { findProjectConfigFile, readPolicy, type ProjectConfigFile } from '../config/project-config';
import { serverName } from '../config/attribution';
import type { Policy } from './policy';
import type { ClientEnded } from './observer';
import { kmHome, loadSettings } from '../config/settings';
import { descendantsOf, killRunning } from './process-tree';
import { observationEnv } from '../config/observation-env';
import { JournalFiles, JournalWriter } from './journal';

/**
 * `km [--project P] [--name N] [--] <command> [args...]`: runs the MCP server as a child and forwards stdio
 * byte for byte. This thread does the forwarding and almost nothing else: each chunk gets an arrival time
 * and a place in a queue, and every few milliseconds the queue goes to the observer thread, which frames,
 * parses, pairs, spools and ships. Nothing the observer does (or fails to do) can delay or alter the bytes.
 *
 * Only node built-ins load here, and the child is spawned before the observer thread starts, so the
 * server's start-up overlaps with km's.
 */
export interface WrapOptions {
  /** The server's command, or for a remote server its URL. */
  command: string;
  args: string[];
  project?: string;
  name?: string;
  /** A remote (Streamable HTTP) server, bridged by remote-server.ts instead of a child process. */
  url?: string;
}

const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** How long chunks wait before going to the observer in one message: batching keeps the hot path cheap. */
const HANDOFF_INTERVAL_MS = 5;
/** Past this many queued bytes, hand off at once (bounded memory for large frames). */
const HANDOFF_BYTES = 1024 * 1024;
/**
 * Bytes posted to the observer and not yet observed: past this, batches go by reference to their journal record
 * (which is written anyway) and the observer reads them back, so however far behind it falls in a burst, km holds
 * this much of the traffic in memory at most (issue 11). How far behind it may fall is the observer's bound
 * (KM_OBSERVER_BACKLOG_BYTES, observer-queue.ts).
 */
const IN_MEMORY_BYTES = 2 * 1024 * 1024;
/**
 * The observer thread's heap: V8's default young generation (16 MB semi-spaces, grown under allocation pressure)
 * is most of what a burst adds to km's resident set, and the observer makes short-lived garbage only. The old
 * generation is left unbounded: an observer out of memory would lose what it had not spooled.
 */
const OBSERVER_RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 4 };
/**
 * V8 flags are per process and read when an isolate's heap is made: set before the observer thread starts, they
 * size its heap (this thread's is sized already; its JIT sees them too, and forwarding here is stream plumbing).
 * Measured on a 20k-call burst: km's peak RSS 115 MB -> 93 MB, calls/s unchanged (the observer's heap grows less).
 */
const OBSERVER_V8_FLAGS = '--optimize-for-size';
/** The observer gets this long to spool and ship the end of the session once the server is gone. */
const OBSERVER_EXIT_BUDGET_MS = 5000;
/** How long the server's stdout may stay open after the server exited, and how long the client may take to read. */
const CLOSE_AFTER_EXIT_MS = 2000;
const STDOUT_DRAIN_MS = 2000;

const now = () => performance.timeOrigin + performance.now();

/** headers: a remote server's HTTP headers (`--header`), kept out of options: those are journaled, and headers hold tokens. */
export function runWrap(options: WrapOptions, headers: string[] = []): void {
  const startedAt = now();
  const child = options.url ? remoteServer(options.url, headers) : spawn(options.command, options.args, { stdio: ['pipe', 'pipe', 'inherit'], windowsHide: true });
  const childIn = child.stdin!;
  const childOut = child.stdout!;

  // The hot path. Errors on either pipe mean a peer went away; exit is handled by the child's 'close'.
  // With a km.json policy, policy-gate.ts decides each client line before forwarding (set up below, once the tap exists).
  // km.json is read once, here (the policy is needed before the first byte); the observer gets it as it is.
  const projectConfig = findProjectConfigFile(process.cwd());
  const policy = loadPolicy(options, projectConfig);
  if (!policy) {
    process.stdin.pipe(childIn);
    childOut.pipe(process.stdout);
  }
  childIn.on('error', () => {});
  process.stdout.on('error', () => {});

  // Each batch is journaled before the observer gets it, so a kill -9 loses nothing it had not spooled (journal.ts).
  // A failure is told after the batches journaled before it (handOff): the observer stops the journal on it, and
  // batches it would then get by reference could no longer be read back.
  let journalFailure: string | null = null;
  const journal = new JournalWriter(JournalFiles.fresh(kmHome()), { kmPid: process.pid, startedAt, options, projectConfig, env: observationEnv(process.env) }, (reason) => {
    journalFailure = reason;
    setImmediate(() => handOff());
  });
  const observer = startObserver(options, startedAt, projectConfig, journal);
  let queue: ChunkBatch = { directions: [], times: [], chunks: [] };
  let queuedBytes = 0;
  let timer: NodeJS.Timeout | null = null;
  let seq = 0;
  let postedBytes = 0;
  /** A refusal was noted: its line (tapped next) is handed off at once, so it is journaled before the client sees the error. */
  let refused = false;
  /** Batches journaled and not yet posted to the observer: posted together at the next hand-off. */
  let journaled: Array<{ seq: number; batch: ChunkBatch; bytes: number; ref: ReturnType<JournalWriter['append']> }> = [];
  let journaledBytes = 0;
  /** The queued chunks become a batch of the journal (one write); the observer gets it at the next hand-off. */
  const journalQueue = () => {
    if (queue.chunks.length === 0) return;
    seq++;
    journaled.push({ seq, batch: queue, bytes: queuedBytes, ref: journal.append(seq, queue) });
    journaledBytes += queuedBytes;
    queue = { directions: [], times: [], chunks: [] };
    queuedBytes = 0;
  };
  const handOff = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    journalQueue();
    for (const { seq: at, batch, bytes, ref } of journaled) {
      if (ref && postedBytes - observer.observedBytes() + bytes > IN_MEMORY_BYTES) {
        observer.post({ type: 'journaled', seq: at, ref, bytes });
      } else {
        postedBytes += bytes;
        observer.post({ type: 'chunks', seq: at, batch });
      }
    }
    journaled = [];
    journaledBytes = 0;
    if (journalFailure !== null) {
      observer.post({ type: 'journal-failed', reason: journalFailure });
      journalFailure = null;
    }
  };
  /**
   * The server's bytes are journaled as they come, before they are forwarded: a client that has an answer may kill
   * km at once (a health check after initialize), and an answer it got must not be lost from the record. The
   * observer still gets batches every HANDOFF_INTERVAL_MS (or HANDOFF_BYTES), not a wake-up per answer; the
   * client's bytes are journaled with the server's next bytes or at the hand-off.
   */
  const tap = (direction: 0 | 1) => (chunk: Buffer) => {
    // The session has ended (its end recorded, its journal closed): bytes a client still writes go nowhere.
    if (finished) return;
    queue.directions.push(direction);
    queue.times.push(now());
    queue.chunks.push(chunk);
    queuedBytes += chunk.length;
    if (refused || queuedBytes + journaledBytes >= HANDOFF_BYTES) {
      refused = false;
      handOff();
      return;
    }
    if (direction === 1) journalQueue();
    if (!timer) timer = setTimeout(handOff, HANDOFF_INTERVAL_MS);
  };
  if (!policy) {
    process.stdin.on('data', tap(0));
    // Before pipe()'s own listener, which writes the chunk to the client: journaled first (see tap).
    childOut.prependListener('data', tap(1));
  } else {
    const taps = [tap(0), tap(1)] as const;
    // Loaded only with a policy: the detection rules are not needed on the plain pipe path.
    const { startPolicyGate } = require('./policy-gate') as typeof import('./policy-gate');
    startPolicyGate(policy, {
      clientIn: process.stdin,
      clientOut: process.stdout,
      childIn,
      childOut,
      tap: (direction, chunk) => taps[direction](chunk),
      // Into the batch that carries the refused line (tapped right after, before km answers): journaled with it.
      blocked: (block) => {
        (queue.blocks ??= []).push({ ...block, at: now() });
        refused = true;
      },
    });
  }

  const hasExited = () => child.exitCode !== null || child.signalCode !== null;
  // When and how the client ended the session (the first of its signal and the end of its stdin): see abandonedBy.
  let clientEnded: ClientEnded | null = null;
  process.stdin.once('end', () => (clientEnded ??= { at: now(), how: 'stdin' }));
  let killTimer: NodeJS.Timeout | undefined;
  /** The server's descendants as the client's first signal found them (process-tree.ts). */
  let below: number[] = [];
  for (const signal of FORWARDED_SIGNALS) {
    process.on(signal, () => {
      if (hasExited()) {
        // The server is gone but km is still finishing (a grandchild holding stdout, a client not reading): a signal
        // now means stop, and must never be swallowed. The end journaled is the server's own.
        if (!finished) {
          handOff();
          journal.appendEnd({ exitCode: child.exitCode, signal: child.signalCode, at: now() });
        }
        process.exit(128 + (signal === 'SIGHUP' ? 1 : signal === 'SIGINT' ? 2 : 15));
      }
      clientEnded ??= { at: now(), how: 'signal' };
      // The end goes into the journal at once: a client that signals may SIGKILL km soon after, and a replay of the
      // journal then records it. The session itself ends when the server does, its last answers passed on and
      // recorded; km stays until then, passing on the client's next signals (a SIGTERM after an ignored SIGINT).
      if (!finished) {
        handOff();
        journal.appendEnd({ exitCode: null, signal, at: now(), clientEnded });
      }
      if (!killTimer && child.pid !== undefined) below = descendantsOf(child.pid);
      child.kill(signal);
      // A client's signal means it wants the server gone: one that has not exited in time is killed, or km would wait
      // for it until the client SIGKILLs km, and the server would live on, orphaned. Its descendants too, as they
      // are before the signal reaches them: a launcher (npx, a shell script) may exit on it and leave the server.
      if (!killTimer) {
        const killAfterMs = loadSettings().serverKillAfterMs;
        killTimer = setTimeout(() => {
          const left = killRunning([...(hasExited() ? [] : [child.pid!]), ...below]);
          if (left.length > 0) process.stderr.write(`km: the server did not exit within ${killAfterMs / 1000} s of ${signal}; killing it (SIGKILL${left.length > 1 ? `, ${left.length} processes` : ''}).\n`);
        }, killAfterMs).unref();
      }
    });
  }

  let finished = false;
  child.on('error', (err: NodeJS.ErrnoException) => {
    if (child.pid !== undefined || finished) return; // an error after a successful start is not a spawn failure
    finished = true;
    const why = err.code === 'ENOENT' ? 'command not found' : err.code === 'EACCES' ? 'permission denied' : err.message;
    const startError = `cannot start "${options.command}": ${why} (${err.code ?? 'error'})`;
    process.stderr.write(`km: ${startError}. Check the command in your MCP client config.\n`);
    // Recorded, so a broken config shows in km status and on the dashboard, not only in the client's log.
    const exitCode = err.code === 'ENOENT' ? 127 : 126;
    const end = { exitCode, signal: null, at: now(), startError };
    journal.appendEnd(end);
    journal.close();
    void observer.finish({ type: 'finish', ...end }).then(() => process.exit(exitCode));
  });
  child.on('spawn', () => observer.post({ type: 'started', pid: child.pid ?? 0 }));

  const finish = (code: number | null, signal: NodeJS.Signals | null) => {
    if (finished) return;
    finished = true;
    handOff();
    const ended = clientEnded ? { clientEnded } : {};
    journal.appendEnd({ exitCode: code, signal, at: now(), ...ended });
    journal.close(); // the observer removes it once the end is spooled
    const observed = observer.finish({ type: 'finish', exitCode: code, signal, at: now(), ...ended });
    // process.exit drops pending pipe writes: let the client get the server's last bytes first, within reason.
    const stdoutDrained = new Promise<void>((resolve) => {
      process.stdout.write('', () => resolve());
      setTimeout(resolve, STDOUT_DRAIN_MS).unref();
    });
    void Promise.all([observed, stdoutDrained]).then(() => {
      for (const s of FORWARDED_SIGNALS) process.removeAllListeners(s);
      // Exit the way the server did (finish runs once it has exited), so the client sees the same status: a server
      // that exits 0 on the client's SIGINT gives 0.
      if (signal) {
        process.kill(process.pid, signal);
        setTimeout(() => process.exit(128), 1000).unref();
      } else {
        process.exit(code ?? 0);
      }
    });
  };
  child.on('close', finish);
  // 'close' waits for the server's stdout to end; a grandchild (npx, uv run) may hold it open after the server
  // exited. Then the exit is what counts.
  child.on('exit', (code, signal) => setTimeout(() => finish(code, signal), CLOSE_AFTER_EXIT_MS).unref());
}

/** A remote server behind the same interface as a child (its own bundle: the MCP SDK loads only for it). */
function remoteServer(url: string, headers: string[]) {
  const { RemoteServer, DEFAULT_OAUTH_PORT } = require(join(__dirname, 'remote-server.js')) as typeof import('./remote-server');
  const byName = Object.fromEntries(headers.map((h) => [h.slice(0, h.indexOf(':')).trim(), h.slice(h.indexOf(':') + 1).trim()]));
  const auth = { home: kmHome(), port: Number(process.env.KM_OAUTH_PORT) || DEFAULT_OAUTH_PORT, tell: (line: string) => process.stderr.write(`${line}\n`), browser: process.env.KM_BROWSER || undefined };
  return new RemoteServer(new URL(url), byName, auth) as unknown as ReturnType<typeof spawn>;
}

/** The project's policy (km.json `policy`), or null: then the forwarding stays plain pipes. */
function loadPolicy(options: WrapOptions, projectConfig: ProjectConfigFile | null): Policy | null {
  const { policy: config, problem } = readPolicy(projectConfig);
  if (!config && !problem) return null;
  const { Policy: PolicyClass } = require('./policy') as typeof import('./policy');
  const empty = { denyServers: [], allowServers: null, denyTools: [], allowTools: null, denyArguments: [], blockSecrets: false };
  if (problem) {
    // A security control fails closed: a km.json that cannot be read (or whose policy cannot be used) may deny
    // what the user meant to deny, so tool calls are refused.
    process.stderr.write(`km: ${problem}; every tools/call is refused until km.json is fixed\n`);
  }
  return new PolicyClass(config ?? empty, serverName(options.name, options.command, options.args), problem);
}

/**
 * The observer thread. If it cannot start or crashes, the session goes on unobserved: messages to it are
 * dropped and the exit does not wait for it.
 */
function startObserver(options: WrapOptions, startedAt: number, projectConfig: ProjectConfigFile | null, journal: JournalWriter) {
  let worker: Worker | null = null;
  let observedBytes = 0;
  try {
    const { dir, base } = journal.files;
    setFlagsFromString(OBSERVER_V8_FLAGS);
    // stdout: true keeps anything the worker might print off our stdout, which belongs to the server's bytes.
    worker = new Worker(join(__dirname, 'observer-worker.js'), { workerData: { options, startedAt, projectConfig, journal: { dir, base } }, stdout: true, stderr: false, resourceLimits: OBSERVER_RESOURCE_LIMITS });
    worker.stdout.resume();
    worker.unref();
    worker.on('message', (reply: FromObserver) => {
      if (reply.type === 'observed') observedBytes = reply.bytes;
      if (reply.type !== 'spooled') return;
      if (reply.neededFrom === Number.POSITIVE_INFINITY) journal.close(); // the observer cannot track it any more
      else journal.spooled(reply.neededFrom);
    });
    // A worker that ends (crash or exit) is forgotten at once: nothing is posted to it or waited for any more.
    // What it had not spooled stays in the journal for the next km (its files are replayed once km is gone).
    worker.on('exit', () => {
      worker = null;
      journal.close();
    });
    worker.on('error', (err) => {
      worker = null;
      journal.close();
      // Nowhere else to say it when KM_HOME itself is the problem; stderr only on request, as always.
      if (process.env.KM_DEBUG && process.env.KM_DEBUG !== '0') process.stderr.write(`km: not recording this session: ${err.message}\n`);
    });
  } catch {
    worker = null;
    journal.close(); // nobody would trim it
  }
  return {
    post(message: ToObserver) {
      worker?.postMessage(message);
    },
    observedBytes: () => observedBytes,
    finish(message: ToObserver): Promise<void> {
      const current = worker;
      if (!current) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timeout = setTimeout(resolve, OBSERVER_EXIT_BUDGET_MS);
        const done = () => {
          clearTimeout(timeout);
          resolve();
        };
        current.on('message', (reply: FromObserver) => reply.type === 'finished' && done());
        current.on('error', done);
        current.on('exit', done);
        current.postMessage(message);
      });
    },
  };
}
