import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { BIN_DIR, getJson, KM_BIN, requireBuiltKm, until } from './e2e-support';
import { tempHome } from './helpers';

/**
 * Issue 10: a km killed with SIGKILL leaves its session live until its journal is replayed. km serve replays dead
 * journals at start and every 30 s, so the session gets its end without another km run.
 */
const REPLAY_WAIT_MS = 75_000; // the 30 s interval, with room for a slow machine

describe('km serve ends the sessions of killed wrappers', () => {
  const home = tempHome('km-serve-journals');
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KM_HOME: home, KM_USER: 'journals@example.com' };
  const children: ChildProcess[] = [];
  beforeAll(() => requireBuiltKm());
  afterAll(() => children.forEach((child) => child.exitCode === null && child.signalCode === null && child.kill('SIGTERM')));

  /** A km over server-everything that has answered initialize. */
  async function initializedKm(): Promise<ChildProcess> {
    const km = spawn(process.execPath, [KM_BIN, '--name', 'everything', '--', join(BIN_DIR, 'mcp-server-everything'), 'stdio'], { env, stdio: ['pipe', 'pipe', 'ignore'] });
    children.push(km);
    let out = '';
    km.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    km.stdin!.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'serve-journals-e2e', version: '1' } } }) + '\n');
    await until('the initialize answer', () => (out.includes('"id":1') ? true : undefined));
    return km;
  }

  async function killed(km: ChildProcess): Promise<void> {
    const exited = new Promise<void>((resolve) => km.on('exit', () => resolve()));
    km.kill('SIGKILL');
    await exited;
  }

  const sessions = async (url: string): Promise<Array<Record<string, unknown>>> => (await getJson(url, '/api/sessions')).sessions;

  it('at start, and while it runs, a SIGKILLed session gets its end', async () => {
    // Killed before km serve starts: nothing has shipped, the journal holds the session.
    await killed(await initializedKm());

    const serve = spawn(process.execPath, [KM_BIN, 'serve', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(serve);
    let said = '';
    serve.stdout!.on('data', (chunk: Buffer) => (said += chunk.toString('utf8')));
    const url = await until('km serve listening', () => /listening on (http:\/\/\S+)/.exec(said)?.[1]);

    const first = await until('the first session ended by the replay at start', async () => {
      const found = await sessions(url);
      return found.length === 1 && found[0]!.endedAt ? found[0] : undefined;
    });
    expect(first).toMatchObject({ signal: 'SIGKILL', server: { name: 'everything' } });

    // Killed while km serve runs: its start shipped (the session is live), its end comes from the next replay.
    const second = await initializedKm();
    const live = await until('the second session, live', async () => (await sessions(url)).find((s) => s.id !== first.id), 20_000);
    expect(live.endedAt).toBeNull();
    await killed(second);
    const ended = await until('the second session ended by a periodic replay', async () => (await sessions(url)).find((s) => s.id === live.id && s.endedAt), REPLAY_WAIT_MS);
    expect(ended).toMatchObject({ signal: 'SIGKILL' });
  }, REPLAY_WAIT_MS + 60_000);
});
