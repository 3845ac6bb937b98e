import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { startEmbeddedHost } from '@km/functions/dist/host/embedded-host';
import { getJson, requireBuiltKm, runKm, until } from './e2e-support';
import { deadPid, notification, tempHome } from './helpers';

/** A key of another tenant (403) must not leave a spool file in the way of everything after it. */
describe('a spool file refused for its key', () => {
  beforeAll(() => requireBuiltKm());

  it('is set aside, shown by km status with the reason, and shipped by km flush --retry-refused', async () => {
    const stored: string[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.headers.authorization !== 'Bearer right') {
          res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'key of another org' }));
          return;
        }
        if (req.url === '/api/ingest') stored.push(...(JSON.parse(gunzipSync(Buffer.concat(chunks)).toString()).events as Array<{ id: string }>).map((e) => e.id));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sessions: [] }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const home = tempHome('km-refused');
      mkdirSync(join(home, 'spool'), { recursive: true, mode: 0o700 });
      const old = notification();
      writeFileSync(join(home, 'spool', `1-1-aaaaaa.${deadPid()}.jsonl`), JSON.stringify(old) + '\n');
      const env = (key: string) => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KM_HOME: home, KM_ENDPOINT: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, KM_API_KEY: key });

      const refused = await runKm(['flush'], env('wrong'));
      expect(refused.status).not.toBe(0);
      expect(refused.stderr).toMatch(/set aside/);
      const status = await runKm(['status'], env('wrong'));
      expect(status.stdout).toMatch(/refused: +1 file\(s\)/);
      expect(status.stdout).toMatch(/403: key of another org/);

      // Logged in right again: newer files are not blocked, and the set-aside one ships on request.
      const newer = notification();
      writeFileSync(join(home, 'spool', `2-2-bbbbbb.${deadPid()}.jsonl`), JSON.stringify(newer) + '\n');
      const next = await runKm(['flush'], env('right'));
      expect(next.status).toBe(0);
      expect(stored).toEqual([newer.id]);
      const retried = await runKm(['flush', '--retry-refused'], env('right'));
      expect(retried.status).toBe(0);
      expect(retried.stdout).toMatch(/shipped 1 event\(s\)/);
      expect(stored).toEqual([newer.id, old.id]);
      expect((await runKm(['status'], env('right'))).stdout).not.toMatch(/refused:/);
    } finally {
      server.close();
    }
  }, 60_000);

  it('stamped with another org: km says so, and sends it as the key\'s org only when asked (--reassign-org), never what was acknowledged', async () => {
    const home = tempHome('km-refused-org');
    const host = await startEmbeddedHost({ home, port: 0 });
    try {
      mkdirSync(join(home, 'spool'), { recursive: true, mode: 0o700 });
      const [shipped, waiting] = [notification('acme-session'), notification('acme-session')].map((e) => ({ ...e, orgId: 'acme' }));
      const first = JSON.stringify(shipped) + '\n';
      writeFileSync(join(home, 'spool', `3-3-cccccc.${deadPid()}.jsonl`), first + JSON.stringify(waiting) + '\n');
      writeFileSync(join(home, 'spool', '3-3-cccccc.ack'), String(Buffer.byteLength(first))); // the first one went before
      const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KM_HOME: home };

      const refused = await runKm(['flush'], env);
      expect(refused.stderr).toContain(`km flush --retry-refused --reassign-org sends them as the key's org ("local")`);
      expect((await runKm(['status'], env)).stdout).toContain("add --reassign-org to send them as the key's org");
      expect((await runKm(['flush', '--retry-refused'], env)).status).not.toBe(0); // still acme's: refused again
      expect((await runKm(['flush', '--reassign-org'], env)).stderr).toContain('--reassign-org goes with --retry-refused');

      const reassigned = await runKm(['flush', '--retry-refused', '--reassign-org'], env);
      expect(reassigned.stdout).toMatch(/shipped 1 event\(s\)/);
      const sessions = await until('the event, projected', async () => {
        const answer = (await getJson(host.url, '/api/sessions')).sessions;
        return answer.length > 0 ? answer : undefined;
      });
      expect(sessions.map((x: any) => [x.id, x.notificationCount])).toEqual([['acme-session', 1]]);
      expect((await runKm(['status'], env)).stdout).not.toMatch(/refused:/);
    } finally {
      await host.close();
    }
  }, 60_000);
});
