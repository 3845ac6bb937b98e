import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KM_BIN, requireBuiltKm } from './e2e-support';
import { tempHome } from './helpers';

/** A full spool (KM_MAX_SPOOL_BYTES): the session keeps its start and end, the end says what was dropped, stderr stays quiet. */
describe('the spool bound', () => {
  beforeAll(() => requireBuiltKm());

  it('keeps session.started and session.ended, counts the drops in session.ended, and warns in km.log only', async () => {
    const home = tempHome('km-bound');
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KM_HOME: home, KM_ENDPOINT: 'http://127.0.0.1:1', KM_USER: 'bound@example.com', KM_MAX_SPOOL_BYTES: '4000' };
    const input = Array.from({ length: 200 }, (_, i) => JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { n: i } })).join('\n') + '\n';
    const { status, stderr } = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [KM_BIN, '--', process.execPath, join(__dirname, 'fixtures', 'raw-server.js')], { env });
      let err = '';
      child.stdout.resume();
      child.stderr.on('data', (c) => (err += c));
      child.on('close', (code) => resolve({ status: code, stderr: err }));
      child.stdin.end(input);
    });
    expect(status).toBe(0);
    expect(stderr).not.toMatch(/spool/);
    expect(readFileSync(join(home, 'km.log'), 'utf8')).toMatch(/is full/);
    const dir = join(home, 'spool');
    const events = readdirSync(dir)
      .filter((n) => n.endsWith('.jsonl') && n !== 'rejected.jsonl')
      .flatMap((n) => readFileSync(join(dir, n), 'utf8').split('\n'))
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l));
    expect(events.filter((e) => e.type === 'session.started')).toHaveLength(1);
    const ended = events.filter((e) => e.type === 'session.ended');
    expect(ended).toHaveLength(1);
    const notifications = events.filter((e) => e.type === 'mcp.notification').length;
    expect(notifications).toBeLessThan(400);
    expect(ended[0].droppedObservations).toBe(400 - notifications);
  }, 60_000);
});
