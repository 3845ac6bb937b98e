import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbeddedHost } from '@km/functions/dist/host/embedded-host';
import { BIN_DIR, getJson, KM_BIN, requireBuiltKm, runKm, until } from './e2e-support';
import { silent, tempHome } from './helpers';

/** A KM_PROJECT or KM_USER longer than an event may carry used to make the API refuse the whole session, in silence. */
describe('names longer than an event carries', () => {
  beforeAll(() => requireBuiltKm());

  it('name the session by their first 200 characters, and km.log says so; km doctor tells of events the API refused for good', async () => {
    const serveHome = tempHome('km-long-serve');
    const host = await startEmbeddedHost({ home: serveHome, port: 0, logger: silent });
    try {
      const home = tempHome('km-long');
      const project = `p${'r'.repeat(249)}`;
      const user = `${'u'.repeat(240)}@example.com`;
      const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KM_HOME: home, KM_ENDPOINT: host.url, KM_API_KEY: readFileSync(join(serveHome, 'api-key'), 'utf8').trim(), KM_PROJECT: project, KM_USER: user };
      const client = new Client({ name: 'long-names-e2e', version: '1' });
      await client.connect(new StdioClientTransport({ command: process.execPath, args: [KM_BIN, '--name', 'everything', '--', join(BIN_DIR, 'mcp-server-everything')], env }));
      await client.callTool({ name: 'echo', arguments: { message: 'hello' } });
      await client.close();
      const session = await until('the session in km serve', async () => (await getJson(host.url, '/api/sessions?limit=10')).sessions?.find((s: { projectId: string }) => s.projectId.startsWith('prr')));
      expect([session.projectId, session.userId]).toEqual([project.slice(0, 200), user.slice(0, 200)]);
      expect(readFileSync(join(home, 'km.log'), 'utf8')).toMatch(/the project name is over 200 characters/);

      // Events refused for good are kept aside: doctor says how many, where, and why.
      const rejected = { reason: '400: events[0].projectId: String must contain at most 200 character(s)', event: { id: 'e1' } };
      writeFileSync(join(home, 'spool', 'rejected.jsonl'), `${JSON.stringify(rejected)}\n${JSON.stringify(rejected)}\n`);
      const doctor = await runKm(['doctor'], env);
      expect(doctor.stdout).toMatch(/2 event\(s\) the API refused for good, kept in .*rejected\.jsonl: 400: events\[0\]\.projectId/);
    } finally {
      await host.close();
    }
  }, 90_000);
});
