import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KM_BIN, requireBuiltKm } from './e2e-support';
import { tempHome } from './helpers';

const RAW_SERVER = join(__dirname, 'fixtures', 'raw-server.js');
const STUBBORN_SERVER = join(__dirname, 'fixtures', 'stubborn-server.js');

/** Running, and not a zombie: a killed orphan waits for a PID 1 that, in some containers, never reaps it. */
const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] !== 'Z';
  } catch {
    return true; // no /proc (macOS): running, as far as one can tell
  }
};

/** killAfterMs: KM_SERVER_KILL_AFTER_MS, long by default, so a server's own way of exiting is never cut short here. */
function startKm(args: string[], home = tempHome(), killAfterMs = 600_000): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [KM_BIN, ...args], { env: { ...process.env, KM_HOME: home, KM_ENDPOINT: 'http://127.0.0.1:1', KM_SERVER_KILL_AFTER_MS: String(killAfterMs) } });
}

/** Collects a stream's bytes and lets a test wait for some of them to arrive. */
function collector(stream: NodeJS.ReadableStream) {
  const chunks: Buffer[] = [];
  const waiters: Array<() => void> = [];
  stream.on('data', (c: Buffer) => {
    chunks.push(c);
    waiters.splice(0).forEach((w) => w());
  });
  const bytes = () => Buffer.concat(chunks);
  const waitFor = async (needle: string) => {
    while (!bytes().includes(needle)) await new Promise<void>((r) => waiters.push(r));
  };
  return { bytes, waitFor };
}

const exited = (child: ChildProcessWithoutNullStreams) => new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('close', (code, signal) => r({ code, signal })));

describe('km forwards stdio untouched', () => {
  beforeAll(requireBuiltKm);

  it('forwards a partial line at once, without waiting for its newline, and every byte as sent', async () => {
    const km = startKm(['--', process.execPath, RAW_SERVER]);
    const out = collector(km.stdout);
    km.stdin.write('partial\n');
    await out.waitFor('"res'); // arrives although the server has not finished the line
    expect(out.bytes().toString()).toBe('{"jsonrpc":"2.0","id":1,"res');
    km.stdin.write('complete\n');
    km.stdin.write('{"jsonrpc":"2.0","id":2,"method":"x","params":{"é":"😀"}}\n');
    km.stdin.write('big 3000000\n');
    km.stdin.end();
    expect(await exited(km)).toEqual({ code: 0, signal: null });
    const expected = Buffer.concat([
      Buffer.from('{"jsonrpc":"2.0","id":1,"result":{}}\r\nBanner: not JSON\n{"jsonrpc":"2.0","id":2,"method":"x","params":{"é":"😀"}}\n'),
      Buffer.from(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { data: 'z'.repeat(3000000) } }) + '\n'),
    ]);
    expect(out.bytes().equals(expected)).toBe(true);
  });

  it('passes stderr through and closes the server stdin when the client closes ours', async () => {
    const km = startKm(['--', process.execPath, RAW_SERVER]);
    const err = collector(km.stderr);
    km.stdin.end();
    expect(await exited(km)).toEqual({ code: 0, signal: null });
    expect(err.bytes().toString()).toContain('raw-server: log line on stderr');
    expect(err.bytes().toString()).toContain('raw-server: stdin closed');
  });

  it("exits with the server's exit code", async () => {
    const km = startKm([process.execPath, RAW_SERVER]); // the short form, without --
    km.stdin.write('exit 3\n');
    expect(await exited(km)).toEqual({ code: 3, signal: null });
  });

  it('passes SIGTERM to the server and dies the same way', async () => {
    const km = startKm(['--', process.execPath, RAW_SERVER]);
    const out = collector(km.stdout);
    km.stdin.write('hello\n');
    await out.waitFor('hello');
    km.kill('SIGTERM');
    expect(await exited(km)).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it("passes the client's next signal to a server that ignored the first, and leaves no server behind", async () => {
    const km = startKm(['--', process.execPath, STUBBORN_SERVER, 'ignore']);
    const out = collector(km.stdout);
    await out.waitFor('pid ');
    const pid = Number(/pid (\d+)/.exec(out.bytes().toString())![1]);
    km.kill('SIGINT');
    await out.waitFor('SIGINT');
    // As Claude Code stops a server: SIGINT, then SIGTERM (~100 ms later). km must still be there to pass it on.
    km.kill('SIGTERM');
    expect(await exited(km)).toEqual({ code: 0, signal: null });
    expect(out.bytes().toString()).toContain('SIGTERM');
    expect(isAlive(pid)).toBe(false);
  });

  it('kills a server that ignores every signal 1 s after the first (before the MCP SDK kills km, 2 s after its SIGTERM), and records the session as ended by SIGKILL', async () => {
    const home = tempHome();
    const km = startKm(['--', process.execPath, STUBBORN_SERVER, 'deaf'], home, 1000);
    const out = collector(km.stdout);
    const err = collector(km.stderr);
    await out.waitFor('pid ');
    const pid = Number(/pid (\d+)/.exec(out.bytes().toString())![1]);
    km.kill('SIGTERM');
    await out.waitFor('SIGTERM');
    // Without the kill, km waited for the server until the client SIGKILLed km, and the server lived on.
    const exit = await exited(km);
    expect(isAlive(pid)).toBe(false);
    expect(exit).toEqual({ code: null, signal: 'SIGKILL' }); // as the server ended
    expect(err.bytes().toString()).toContain('km: the server did not exit within 1 s of SIGTERM; killing it (SIGKILL).');
    const spooled = readdirSync(join(home, 'spool'))
      .filter((name) => name.endsWith('.jsonl'))
      .flatMap((name) => readFileSync(join(home, 'spool', name), 'utf8').trim().split('\n'))
      .map((line) => JSON.parse(line));
    expect(spooled.find((event) => event.type === 'session.ended')).toMatchObject({ signal: 'SIGKILL' });
  });

  it('kills such a server behind a launcher that exits on the signal (a shell script, npx), where it lived on, re-parented', async () => {
    const km = startKm(['--', 'sh', '-c', `"${process.execPath}" "${STUBBORN_SERVER}" deaf; true`], tempHome(), 1000);
    const out = collector(km.stdout);
    const err = collector(km.stderr);
    await out.waitFor('pid ');
    const pid = Number(/pid (\d+)/.exec(out.bytes().toString())![1]);
    km.kill('SIGTERM');
    await exited(km);
    // sh died of the SIGTERM; the server ignored it, and before, km saw its own child gone and left the server running.
    expect(isAlive(pid)).toBe(false);
    expect(err.bytes().toString()).toContain('km: the server did not exit within 1 s of SIGTERM; killing it (SIGKILL)');
  });

  /** km over the stubborn server in this mode, asked one request the server reads, then SIGINT as a client stops it. */
  async function askThenInterrupt(mode: 'slow' | 'answer') {
    const home = tempHome();
    const km = startKm(['--', process.execPath, STUBBORN_SERVER, mode], home);
    const out = collector(km.stdout);
    await out.waitFor('pid ');
    km.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' })}\n`);
    await out.waitFor('read');
    km.kill('SIGINT');
    const exit = await exited(km);
    const spooled = readdirSync(join(home, 'spool'))
      .filter((name) => name.endsWith('.jsonl'))
      .flatMap((name) => readFileSync(join(home, 'spool', name), 'utf8').trim().split('\n'))
      .map((line) => JSON.parse(line));
    return { exit, text: out.bytes().toString(), spooled };
  }

  it('exits as the server does after a signal: 0 for a server that takes its time to exit 0 on SIGINT', async () => {
    // A request the server never answers, and the client leaves at once: abandoned, not the server's timeout.
    const { exit, spooled } = await askThenInterrupt('slow');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(spooled.filter((event) => event.type === 'mcp.interaction').map((event) => [event.method, event.outcome, event.abandoned])).toEqual([['tools/list', 'unanswered', true]]);
    expect(spooled.find((event) => event.type === 'session.ended')).toMatchObject({ exitCode: 0, signal: null });
  });

  it("passes on and records what the server still answers and writes after the client's signal, before km exits", async () => {
    const { exit, text, spooled } = await askThenInterrupt('answer');
    expect(exit).toEqual({ code: 0, signal: null });
    // Every byte the server wrote on its way out reached the client: the answer, the 500 KB line, the last line.
    expect(text).toContain('"id":1,"result":{"tools":[]}');
    expect(text).toContain('z'.repeat(500_000));
    expect(text.endsWith('END\n')).toBe(true);
    // The answer is recorded as the answer, and nothing comes after the session's end.
    expect(spooled.filter((event) => event.type === 'mcp.interaction').map((event) => [event.method, event.outcome])).toEqual([['tools/list', 'ok']]);
    expect(spooled.at(-1)).toMatchObject({ type: 'session.ended', exitCode: 0 });
  });

  it('says in one line why a server cannot start, writes nothing to stdout, and exits non-zero', async () => {
    const km = startKm(['--', 'no-such-mcp-server-xyz', '--flag']);
    const out = collector(km.stdout);
    const err = collector(km.stderr);
    const { code } = await exited(km);
    expect(code).toBe(127);
    expect(out.bytes().length).toBe(0);
    expect(err.bytes().toString()).toMatch(/^km: cannot start "no-such-mcp-server-xyz": command not found \(ENOENT\)\. .*\n$/);
  });

  it('keeps the session intact when KM_HOME cannot be written (nothing is recorded, nothing breaks)', async () => {
    const km = startKm(['--', process.execPath, RAW_SERVER], '/etc/passwd/not-a-dir');
    const out = collector(km.stdout);
    km.stdin.write('{"jsonrpc":"2.0","id":1,"method":"ping"}\n');
    await out.waitFor('"ping"');
    km.stdin.end();
    expect(await exited(km)).toEqual({ code: 0, signal: null });
    expect(out.bytes().toString()).toBe('{"jsonrpc":"2.0","id":1,"method":"ping"}\n');
  });

  it('exits with the server when a grandchild still holds its stdout (npx-style launchers)', async () => {
    // The "server" starts a grandchild that inherits stdout and lingers, then exits 0 itself.
    const launcher = `const c = require('child_process').spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: ['ignore', 'inherit', 'ignore'] }); console.log(c.pid); setTimeout(() => process.exit(0), 100);`;
    const km = startKm(['--', process.execPath, '-e', launcher]);
    const out = collector(km.stdout);
    await out.waitFor('\n');
    const grandchild = Number(out.bytes().toString().trim());
    try {
      expect(await exited(km)).toEqual({ code: 0, signal: null });
    } finally {
      process.kill(grandchild, 'SIGKILL');
    }
  });

  it('rejects a bad invocation with a usage message', async () => {
    const km = startKm(['--bogus']);
    const err = collector(km.stderr);
    expect((await exited(km)).code).toBe(2);
    expect(err.bytes().toString()).toMatch(/unknown option --bogus/);
  });
});
