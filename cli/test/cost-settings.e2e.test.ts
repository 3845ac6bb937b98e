import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN_DIR, KM_BIN, requireBuiltKm, spooledEvents, until } from './e2e-support';
import { tempHome } from './helpers';

/** One echo call through the built km, from a project whose km.json holds cost settings. */
async function echoFrom(project: string, kmHome: string): Promise<void> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [KM_BIN, '--name', 'everything', '--', join(BIN_DIR, 'mcp-server-everything')],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KM_HOME: kmHome, KM_USER: 'cost@example.com', KM_ENDPOINT: 'http://127.0.0.1:9' },
    cwd: project,
    stderr: 'ignore',
  });
  const client = new Client({ name: 'km-cost-settings-e2e', version: '1.0.0' });
  await client.connect(transport);
  await client.callTool({ name: 'echo', arguments: { message: 'priced' } });
  await client.close();
}

/**
 * km.json's model, pricing and toolCosts are read by the observer thread with a schema the bundle keeps in a file of
 * its own (cost-schema.js, loaded only for such a km.json): the built km must still find it and price by it.
 */
describe("km.json's cost settings through the built km", () => {
  beforeAll(() => requireBuiltKm());

  it('prices a call by the project model and tool cost, and reports invalid settings in km.log instead of using them', async () => {
    const project = tempHome('km-cost-settings');
    const kmHome = tempHome('km-cost-settings-home');
    writeFileSync(join(project, 'km.json'), JSON.stringify({ model: 'house-model', pricing: { 'house-model': { input: 0, output: 0 } }, toolCosts: { 'everything/echo': 0.25 } }));
    await echoFrom(project, kmHome);
    const call = await until('the echo interaction in the spool', () =>
      spooledEvents(kmHome).find((event) => event.type === 'mcp.interaction' && event.method === 'tools/call' && event.target === 'echo'),
    );
    expect(call).toMatchObject({ model: 'house-model', costUsd: 0.25 });

    const badProject = tempHome('km-cost-settings-bad');
    const badHome = tempHome('km-cost-settings-bad-home');
    writeFileSync(join(badProject, 'km.json'), JSON.stringify({ toolCosts: { 'everything/echo': -1 } }));
    await echoFrom(badProject, badHome);
    const log = await until('the note in km.log', () => {
      const file = join(badHome, 'km.log');
      const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
      return text.includes('cost settings ignored') ? text : undefined;
    });
    expect(log).toMatch(/km\.json: cost settings ignored: toolCosts\.everything\/echo/);
    const unpriced = await until('the unpriced echo interaction', () =>
      spooledEvents(badHome).find((event) => event.type === 'mcp.interaction' && event.method === 'tools/call' && event.target === 'echo'),
    );
    expect(unpriced.costUsd === null || unpriced.costUsd < 0.25).toBe(true);
  });
});
