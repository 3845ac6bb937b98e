import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BIN_DIR, KM_BIN, requireBuiltKm, until } from './e2e-support';
import { tempHome } from './helpers';

/**
 * Issue 10: kill -9 of km at a random point loses nothing the client was answered before the kill (km journals the
 * server's bytes before it forwards them), and records nothing twice. A raw JSON-RPC driver talks to
 * server-everything through km, notes when each answer arrived, kills km with SIGKILL, runs `km flush` (nothing
 * listens: the events stay in the spool to be counted).
 */
const TRIALS = 20;

/** The kill comes `killAfterMs` after the `killAfterAnswers`-th answer reached the driver. */
type Trial = { mode: 'burst' | 'paced'; calls: number; killAfterAnswers: number; killAfterMs: number };

interface Recorded {
  eventIds: Map<string, Set<string>>; // requestId -> distinct event ids of its mcp.interaction
  ended: Array<Record<string, unknown>>;
  sessions: Set<string>;
  /** tools/call interactions without the protocol revision learned from initialize (a replay must resume it). */
  unversioned: number;
}

function spooled(home: string): Recorded {
  const dir = join(home, 'spool');
  const eventIds = new Map<string, Set<string>>();
  const ended: Array<Record<string, unknown>> = [];
  const sessions = new Set<string>();
  let unversioned = 0;
  if (!existsSync(dir)) return { eventIds, ended, sessions, unversioned };
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.jsonl') && n !== 'rejected.jsonl')) {
    const lines = readFileSync(join(dir, name), 'utf8').split('\n');
    for (const [at, line] of lines.entries()) {
      if (line.trim() === '') continue;
      // A kill -9 inside a write can leave the file's last line torn: the spool's reader skips it as garbage (its
      // events were not acknowledged, so the journal's replay made them again elsewhere). Only the last line may be.
      const last = lines.slice(at + 1).every((rest) => rest.trim() === '');
      let event: Record<string, unknown>;
      try {
        event = JSON.parse(line) as Record<string, unknown>;
      } catch (error) {
        if (last) continue;
        throw error;
      }
      sessions.add(String(event.sessionId));
      if (event.type === 'session.ended') ended.push(event);
      if (event.type !== 'mcp.interaction' || event.method !== 'tools/call') continue;
      if (event.protocolVersion === null) unversioned++;
      const key = String(JSON.parse(String(event.requestId))); // the JSON-RPC id as JSON: "c0"
      if (!eventIds.has(key)) eventIds.set(key, new Set());
      eventIds.get(key)!.add(String(event.id));
    }
  }
  return { eventIds, ended, sessions, unversioned };
}

function runKm(args: string[], env: Record<string, string>): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [KM_BIN, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c) => (stderr += c));
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

/** Drives one session; returns the request ids answered, the SIGKILL's moment wherever it fell (all were forwarded, so journaled). */
async function killedSession(home: string, trial: Trial, n: number): Promise<string[]> {
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KM_HOME: home, KM_ENDPOINT: 'http://127.0.0.1:9', KM_USER: 'kill@example.com' };
  const km: ChildProcess = spawn(process.execPath, [KM_BIN, '--name', 'everything', '--', join(BIN_DIR, 'mcp-server-everything'), 'stdio'], { env, stdio: ['pipe', 'pipe', 'ignore'] });
  const answeredAt = new Map<string, number>();
  let buffered = '';
  km.stdout!.on('data', (chunk: Buffer) => {
    const at = performance.now();
    buffered += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        const msg = JSON.parse(line) as { id?: unknown; result?: unknown };
        if (msg.id !== undefined && msg.result !== undefined) answeredAt.set(String(msg.id), at);
      } catch {
        // not ours to judge
      }
    }
  });
  const exited = new Promise<void>((resolve) => km.on('exit', () => resolve()));
  km.stdin!.on('error', () => {}); // the pacer may still write as km dies
  const send = (message: unknown) => km.stdin!.write(JSON.stringify(message) + '\n');
  const call = (id: string) => send({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: `call ${id}` } } });
  try {
    send({ jsonrpc: '2.0', id: 'init', method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'kill-journal', version: '1' } } });
    await until('the initialize answer', () => (answeredAt.has('init') ? true : undefined));
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    if (trial.mode === 'burst') {
      for (let i = 0; i < trial.calls; i++) call(`t${n}c${i}`);
    } else {
      let i = 0;
      const pacer = setInterval(() => (i < trial.calls && km.exitCode === null && km.signalCode === null ? call(`t${n}c${i++}`) : clearInterval(pacer)), 10);
    }
    // The kill comes at the trial's random point; the margin is judged on the driver's own clock.
    await until('the answers before the kill', () => (answeredAt.size > trial.killAfterAnswers ? true : undefined));
    await new Promise((r) => setTimeout(r, trial.killAfterMs));
    km.kill('SIGKILL');
    await exited;
    return [...answeredAt.keys()].filter((id) => id !== 'init');
  } finally {
    km.kill('SIGKILL');
  }
}

describe('kill -9 of km (the journal)', () => {
  beforeAll(() => requireBuiltKm());

  // Random points, reproducible from the printed seed.
  const seed = Number(process.env.KM_KILL_SEED ?? Date.now() % 100000);
  let state = seed;
  const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const trials: Trial[] = Array.from({ length: TRIALS }, (_, i) =>
    i % 2 === 0
      ? { mode: 'burst', calls: 200, killAfterAnswers: Math.floor(1 + random() * 199), killAfterMs: Math.floor(random() * 150) }
      : { mode: 'paced', calls: 60, killAfterAnswers: Math.floor(1 + random() * 40), killAfterMs: Math.floor(random() * 150) },
  );

  it('records an initialize answer the client got when the client kills km in the same tick (a health check)', async () => {
    const home = tempHome('km-kill-at-once');
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KM_HOME: home, KM_ENDPOINT: 'http://127.0.0.1:9', KM_USER: 'kill@example.com' };
    const km: ChildProcess = spawn(process.execPath, [KM_BIN, '--name', 'everything', '--', join(BIN_DIR, 'mcp-server-everything'), 'stdio'], { env, stdio: ['pipe', 'pipe', 'ignore'] });
    const exited = new Promise<void>((resolve) => km.on('exit', () => resolve()));
    let answered = false;
    km.stdout!.on('data', (chunk: Buffer) => {
      // The answer is here: kill at once, before km's next hand-off to its observer.
      if (!answered && chunk.toString('utf8').includes('"id":"init"')) {
        answered = true;
        km.kill('SIGKILL');
      }
    });
    km.stdin!.write(`${JSON.stringify({ jsonrpc: '2.0', id: 'init', method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'health-check', version: '1' } } })}\n`);
    await exited;
    expect(answered).toBe(true);
    await runKm(['flush'], env);
    const events = readdirSync(join(home, 'spool'))
      .filter((name) => name.endsWith('.jsonl') && name !== 'rejected.jsonl')
      .flatMap((name) => readFileSync(join(home, 'spool', name), 'utf8').split('\n').filter((line) => line.trim() !== ''))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const initialize = events.filter((event) => event.type === 'mcp.interaction' && event.method === 'initialize');
    expect(initialize).toEqual([expect.objectContaining({ outcome: 'ok', protocolVersion: '2025-06-18' })]);
    expect(events.filter((event) => event.type === 'session.ended')).toEqual([expect.objectContaining({ signal: 'SIGKILL' })]);
  }, 60_000);

  it('replays a killed session with the settings km was started with (a client config entry\'s env), not the replayer\'s', async () => {
    const home = tempHome('km-kill-env');
    const base = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KM_HOME: home, KM_ENDPOINT: 'http://127.0.0.1:9' };
    const started = { ...base, KM_ORG: 'acme', KM_PROJECT: 'kill9', KM_USER: 'alice@example.com', KM_MODEL: 'gpt-5', KM_CAPTURE: 'metadata' };
    const km: ChildProcess = spawn(process.execPath, [KM_BIN, '--name', 'everything', '--', join(BIN_DIR, 'mcp-server-everything'), 'stdio'], { env: started, stdio: ['pipe', 'pipe', 'ignore'] });
    const exited = new Promise<void>((resolve) => km.on('exit', () => resolve()));
    km.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString('utf8').includes('"id":"init"')) km.kill('SIGKILL');
    });
    km.stdin!.write(`${JSON.stringify({ jsonrpc: '2.0', id: 'init', method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'health-check', version: '1' } } })}\n`);
    await exited;
    // Killed before its observer wrote the session's envelope (or so made): only the journal's header says who it was.
    const journal = join(home, 'journal');
    for (const name of readdirSync(journal).filter((name) => name.endsWith('.session'))) unlinkSync(join(journal, name));
    // Replayed by a km with other settings of its own (km serve, or a km started from another place).
    await runKm(['flush'], { ...base, KM_ORG: 'other-org', KM_PROJECT: 'elsewhere', KM_USER: 'bob@example.com', KM_MODEL: 'claude-opus-4-1', KM_CAPTURE: 'full' });
    const events = readdirSync(join(home, 'spool'))
      .filter((name) => name.endsWith('.jsonl') && name !== 'rejected.jsonl')
      .flatMap((name) => readFileSync(join(home, 'spool', name), 'utf8').split('\n').filter((line) => line.trim() !== ''))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const initialize = events.filter((event) => event.type === 'mcp.interaction' && event.method === 'initialize');
    expect(initialize).toEqual([expect.objectContaining({ orgId: 'acme', projectId: 'kill9', userId: 'alice@example.com', model: 'gpt-5', requestPreview: null, responsePreview: null })]);
    expect(new Set(events.map((event) => event.projectId))).toEqual(new Set(['kill9']));
  }, 60_000);

  it(`every call answered before the kill is recorded exactly once after km flush (${TRIALS} trials, seed ${seed})`, async () => {
    // One KM_HOME for all trials, as on a user's machine: a km started after a kill replays the dead km's journal
    // while it runs its own session, and `km flush` replays whatever is left.
    const home = tempHome('km-kill-journal');
    const answered: string[][] = [];
    const run = async (trial: Trial, n: number) => (answered[n] = await killedSession(home, trial, n));
    // Two trials at a time keeps the test short without starving the machine.
    for (let i = 0; i < trials.length; i += 2) await Promise.all(trials.slice(i, i + 2).map((trial, j) => run(trial, i + j)));
    await runKm(['flush'], { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KM_HOME: home, KM_ENDPOINT: 'http://127.0.0.1:9' });

    const { eventIds, ended, sessions, unversioned } = spooled(home);
    const report = trials.map((trial, n) => {
      const mine = [...eventIds.keys()].filter((id) => id.startsWith(`t${n}c`));
      const missing = answered[n]!.filter((id) => !eventIds.has(id));
      return `trial ${n} ${trial.mode} kill ${trial.killAfterMs} ms after answer ${trial.killAfterAnswers}: ${answered[n]!.length} answered before the kill, ${mine.length} recorded, ${missing.length} missing`;
    });
    process.stdout.write(report.join('\n') + '\n');
    const missing = answered.flat().filter((id) => !eventIds.has(id));
    const twice = [...eventIds].filter(([, ids]) => ids.size > 1).map(([id]) => id);
    expect({ missing, twice, unversioned }).toEqual({ missing: [], twice: [], unversioned: 0 });
    // Every killed session is ended by a replay, once.
    expect(sessions.size).toBe(TRIALS);
    expect(ended).toHaveLength(TRIALS);
    expect(new Set(ended.map((e) => e.sessionId)).size).toBe(TRIALS);
    for (const end of ended) expect(end).toMatchObject({ exitCode: null, signal: 'SIGKILL' });
    expect(readdirSync(join(home, 'journal'))).toEqual([]);
  }, 120_000);
});
