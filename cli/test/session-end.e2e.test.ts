import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN_DIR, KM_BIN, requireBuiltKm, until } from './e2e-support';
import { tempHome } from './helpers';

/** Issue 10: a client that sends SIGTERM then SIGKILL 200 ms later still leaves a session with an end. */
const SLOW_GIT = join(__dirname, 'fixtures', 'slow-git');

function spooled(kmHome: string): Array<Record<string, unknown>> {
  const dir = join(kmHome, 'spool');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n'))
    .filter((line) => line.trim().length > 0)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('the end of a session', () => {
  beforeAll(() => requireBuiltKm());

  /** Starts km over server-everything with a git that answers after 3 s, and waits for the initialize answer. */
  async function initializedKm(kmHome: string) {
    const km = spawn(process.execPath, [KM_BIN, '--name', 'everything', '--', join(BIN_DIR, 'mcp-server-everything')], {
      env: { PATH: `${SLOW_GIT}:${process.env.PATH ?? ''}`, HOME: process.env.HOME ?? '', KM_HOME: kmHome, KM_ENDPOINT: 'http://127.0.0.1:9' },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    let out = '';
    km.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    km.stdin!.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'end-e2e', version: '1' } } }) + '\n');
    await until('the initialize answer', () => (out.includes('"id":1') ? true : undefined));
    return km;
  }

  // SIGTERM, SIGINT and SIGHUP are forwarded to the server; on stdin EOF the client is gone and the server exits.
  it.each(['SIGTERM', 'SIGINT', 'SIGHUP', 'stdin EOF'] as const)(
    '%s then SIGKILL 200 ms later: session.ended is in the spool even while the git user lookup is still running',
    async (how) => {
      const kmHome = tempHome('km-end');
      const km = await initializedKm(kmHome);
      const exited = new Promise<void>((resolve) => km.on('exit', () => resolve()));
      if (how === 'stdin EOF') km.stdin!.end();
      else km.kill(how);
      const killer = setTimeout(() => km.kill('SIGKILL'), 200);
      await exited;
      clearTimeout(killer);
      // Read before any other km could replay a journal: this is the end km itself recorded.
      const ended = await until('session.ended in the spool', () => spooled(kmHome).find((e) => e.type === 'session.ended'));
      expect(ended).toMatchObject({ type: 'session.ended' });
      expect(ended.signal).not.toBe('SIGKILL');
      expect(spooled(kmHome).some((e) => e.type === 'session.started')).toBe(true);
      // A clean end leaves no journal behind.
      expect(existsSync(join(kmHome, 'journal')) ? readdirSync(join(kmHome, 'journal')) : []).toEqual([]);
    },
  );

  // What Claude Code does: initialize and tools/list, then SIGTERM and SIGKILL. The first tools/list is the observer's
  // heaviest moment (tool poisoning and rug-pull checks, context tokens), and the end must not wait behind it.
  it('initialize and tools/list through the MCP SDK client, then SIGTERM and SIGKILL 200 ms later: the end is in the spool after the tools/list', async () => {
    const kmHome = tempHome('km-end-list');
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [KM_BIN, '--name', 'everything', '--', join(BIN_DIR, 'mcp-server-everything'), 'stdio'],
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KM_HOME: kmHome, KM_ENDPOINT: 'http://127.0.0.1:9' },
      stderr: 'ignore',
    });
    const client = new Client({ name: 'end-e2e-list', version: '1' });
    await client.connect(transport);
    const exited = new Promise<void>((resolve) => (client.onclose = () => resolve()));
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    const pid = transport.pid!;
    process.kill(pid, 'SIGTERM');
    const killer = setTimeout(() => process.kill(pid, 'SIGKILL'), 200);
    await exited;
    clearTimeout(killer);
    const ended = await until('session.ended in the spool', () => spooled(kmHome).find((e) => e.type === 'session.ended'));
    expect(ended.signal).not.toBe('SIGKILL');
    const events = spooled(kmHome);
    expect(events.some((e) => e.type === 'mcp.interaction' && e.method === 'tools/list')).toBe(true);
    expect(events.some((e) => e.type === 'mcp.tools_listed')).toBe(true);
  });
});
