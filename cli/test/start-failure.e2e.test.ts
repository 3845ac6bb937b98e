import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbeddedHost } from '@km/functions/dist/host/embedded-host';
import { KM_BIN, getJson, requireBuiltKm, runKm, until } from './e2e-support';
import { tempHome } from './helpers';

/**
 * Issue 13: a server whose command does not exist was a message on the client's stderr and nothing else. Now km
 * records the session's end with the reason, so km status, km doctor and the dashboard's sessions show it.
 */
describe('a server km cannot start', () => {
  beforeAll(() => requireBuiltKm());

  it('is recorded with the reason and shows in the sessions API, km status and km doctor', async () => {
    const home = tempHome('km-start-failure');
    const host = await startEmbeddedHost({ home, port: 0 });
    try {
      const env = { PATH: process.env.PATH ?? '', HOME: home, KM_HOME: home, KM_USER: 'start@example.com' };
      const run = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
        // Started the way a client starts it: stdin a pipe (km refuses to wrap when stdin is a terminal).
        const child = spawn(process.execPath, [KM_BIN, '--name', 'broken', '--', '/no/such/mcp-server', '--flag'], { env, stdio: ['pipe', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (c: Buffer) => (stderr += c));
        child.on('close', (status) => resolve({ status, stderr }));
        child.stdin.end();
      });
      expect(run.status).toBe(127);
      expect(run.stderr).toContain('km: cannot start "/no/such/mcp-server": command not found (ENOENT)');

      const session = await until('the failed session in the sessions API', async () => {
        const { sessions } = await getJson(host.url, '/api/sessions');
        return sessions.find((s: any) => s.server.name === 'broken' && s.endedAt !== null);
      });
      expect(session).toMatchObject({ exitCode: 127, startError: 'cannot start "/no/such/mcp-server": command not found (ENOENT)', interactionCount: 0, droppedPreviews: 0 });

      const status = await runKm(['status'], env);
      expect(status.stdout).toContain('failed:    1 server(s) km could not start in the last day:');
      expect(status.stdout).toMatch(/^ {11}broken: cannot start "\/no\/such\/mcp-server": command not found \(ENOENT\), last at /m);
      // No client config names "broken": a one-off run, a warning only.
      const oneOff = await runKm(['doctor'], env);
      expect(oneOff.stdout).toMatch(/^warn {2}server broken: cannot start "\/no\/such\/mcp-server": .*: a one-off run, not in any MCP client config found$/m);
      expect(oneOff.stdout).toContain('km doctor: 0 problem(s)');
      expect(oneOff.status).toBe(0);
      // A config that names it: the client will start it again, so it is a problem to fix.
      mkdirSync(join(home, '.cursor'));
      writeFileSync(join(home, '.cursor', 'mcp.json'), JSON.stringify({ mcpServers: { broken: { command: 'km', args: ['--name', 'broken', '--', '/no/such/mcp-server'] } } }));
      const doctor = await runKm(['doctor'], env);
      expect(doctor.status).toBe(1);
      expect(doctor.stdout).toContain('FAIL  server broken: cannot start "/no/such/mcp-server"');
    } finally {
      await host.close();
    }
  }, 60_000);
});
