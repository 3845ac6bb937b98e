import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbeddedHost } from '@km/functions/dist/host/embedded-host';
import { BIN_DIR, KM_BIN, getJson, requireBuiltKm, runKm, until } from './e2e-support';
import { tempHome } from './helpers';

/** A client config with five servers starts five wrappers sharing one KM_HOME (DESIGN.md): none may lose or mix events. */
describe('five km wrappers at once on one KM_HOME', () => {
  let host: Awaited<ReturnType<typeof startEmbeddedHost>>;
  let home: string;
  beforeAll(async () => {
    requireBuiltKm();
    home = tempHome('km-five');
    host = await startEmbeddedHost({ home, port: 0 });
  });
  afterAll(() => host?.close());

/** Generous: a loaded machine may be slow; every wait below is for a condition, never a fixed time. */
const DEADLINE_MS = 120_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

  it('records every session and every call of each, exactly once, and leaves no spool behind', async () => {
    const calls = [3, 5, 2, 4, 6];
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KM_HOME: home, KM_USER: 'five@example.com' };
    const pids: number[] = [];
    await Promise.all(
      calls.map(async (count, n) => {
        const transport = new StdioClientTransport({
          command: process.execPath,
          args: [KM_BIN, '--name', `server-${n}`, '--', join(BIN_DIR, 'mcp-server-everything'), 'stdio'],
          env,
          stderr: 'ignore',
        });
        const client = new Client({ name: `client-${n}`, version: '1' });
        await client.connect(transport);
        if (transport.pid !== null) pids.push(transport.pid);
        for (let i = 0; i < count; i++) await client.callTool({ name: 'echo', arguments: { message: `${n}.${i}` } });
        await client.close();
      }),
    );
    // Each wrapper removes its spool file once everything in it is acknowledged, within its exit budget. On a loaded
    // machine that budget may run out first; then the file is an orphan that `km flush` ships once the wrapper is gone.
    // So: wait for every wrapper to exit, flush, and only then require an empty spool and read the sessions (a session
    // whose end did not ship within its wrapper's budget reaches the host with that flush: no dependence on timing).
    await until('the five wrappers to exit', () => (pids.every((pid) => !alive(pid)) ? true : undefined), DEADLINE_MS);
    const left = () => readdirSync(join(home, 'spool')).filter((name) => name.endsWith('.jsonl') && name !== 'rejected.jsonl');
    if (left().length > 0) {
      const flush = await runKm(['flush'], env); // not spawnSync: the host under test lives in this process
      expect(flush.stderr).toBe('');
      expect(flush.status).toBe(0);
    }
    expect(left()).toEqual([]);
    const sessions = await until('five ended sessions', async () => {
      const { sessions } = await getJson(host.url, '/api/sessions');
      const ended = (sessions as any[]).filter((s) => s.endedAt);
      return ended.length === calls.length ? ended : undefined;
    }, DEADLINE_MS);
    for (const [n, count] of calls.entries()) {
      const session = sessions.find((s: any) => s.server.name === `server-${n}`);
      expect(session).toMatchObject({ client: { name: `client-${n}` }, toolCallCount: count, interactionCount: count + 1 }); // + initialize
      const { interactions } = await getJson(host.url, `/api/sessions/${session.id}/interactions`);
      expect(new Set((interactions as any[]).map((i) => i.id)).size).toBe(count + 1);
    }
  }, 4 * DEADLINE_MS);
});
