import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startEmbeddedHost } from '@km/functions/dist/host/embedded-host';
import { BIN_DIR, KM_BIN, getJson, requireBuiltKm, until } from './e2e-support';
import { tempHome } from './helpers';

/**
 * The spine, end to end: the official MCP SDK client talks to real servers from npm, once directly and once
 * through `km`; it must see exactly the same answers, and the query API must then show each interaction.
 */
type Scenario = (client: Client) => Promise<unknown[]>;
interface ExpectedCall {
  method: string;
  target: string | null;
  outcome: string;
}

async function run(command: string, args: string[], env: Record<string, string>, scenario: Scenario) {
  const transport = new StdioClientTransport({ command, args, env, stderr: 'ignore' });
  const client = new Client({ name: 'km-e2e', version: '1.0.0' });
  await client.connect(transport);
  const seen = [client.getServerVersion(), client.getServerCapabilities(), ...(await scenario(client))];
  await client.close();
  return seen;
}

/** Tool errors come back as results or as JSON-RPC errors depending on the server: keep either. */
const settle = (p: Promise<unknown>) => p.then((value) => ({ value }), (err: Error) => ({ error: err.message }));

const everything: Scenario = async (c) => [
  await c.listTools(),
  await settle(c.callTool({ name: 'echo', arguments: { message: 'hello km' } })),
  await settle(c.callTool({ name: 'get-sum', arguments: { a: 2, b: 40 } })),
  await settle(c.callTool({ name: 'no-such-tool', arguments: {} })),
  await settle(c.callTool({ name: 'get-sum', arguments: { a: 'not a number' } })),
  await c.listResources(),
  await c.listPrompts(),
  await settle(c.getPrompt({ name: 'simple-prompt', arguments: {} })),
];
const everythingCalls: ExpectedCall[] = [
  { method: 'initialize', target: null, outcome: 'ok' },
  { method: 'tools/list', target: null, outcome: 'ok' },
  { method: 'tools/call', target: 'echo', outcome: 'ok' },
  { method: 'tools/call', target: 'get-sum', outcome: 'ok' },
  { method: 'tools/call', target: 'no-such-tool', outcome: 'tool_error' },
  { method: 'tools/call', target: 'get-sum', outcome: 'tool_error' },
  { method: 'resources/list', target: null, outcome: 'ok' },
  { method: 'prompts/list', target: null, outcome: 'ok' },
  { method: 'prompts/get', target: 'simple-prompt', outcome: 'ok' },
];

const memory: Scenario = async (c) => [
  await c.listTools(),
  await settle(c.callTool({ name: 'create_entities', arguments: { entities: [{ name: 'km', entityType: 'tool', observations: ['counts MCP calls'] }] } })),
  await settle(c.callTool({ name: 'read_graph', arguments: {} })),
  await settle(c.callTool({ name: 'open_nodes', arguments: { names: 'not-an-array' } })),
];
const memoryCalls: ExpectedCall[] = [
  { method: 'initialize', target: null, outcome: 'ok' },
  { method: 'tools/list', target: null, outcome: 'ok' },
  { method: 'tools/call', target: 'create_entities', outcome: 'ok' },
  { method: 'tools/call', target: 'read_graph', outcome: 'ok' },
  { method: 'tools/call', target: 'open_nodes', outcome: 'tool_error' },
];

describe('km between a real MCP client and real MCP servers', () => {
  let host: Awaited<ReturnType<typeof startEmbeddedHost>>;
  let home: string;
  beforeAll(async () => {
    requireBuiltKm();
    home = tempHome('km-e2e');
    host = await startEmbeddedHost({ home, port: 0 });
  });
  afterAll(() => host?.close());

  const baseEnv = () => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KM_HOME: home, KM_USER: 'e2e@example.com' });
  const api = (path: string) => getJson(host.url, path);

  const cases: Array<[string, string[], Record<string, string>, Scenario, ExpectedCall[]]> = [
    ['server-everything', [join(BIN_DIR, 'mcp-server-everything'), 'stdio'], {}, everything, everythingCalls],
    ['server-memory', [join(BIN_DIR, 'mcp-server-memory')], { MEMORY_FILE_PATH: '' }, memory, memoryCalls],
  ];

  it.each(cases)('%s: the client sees exactly the same through km, and the API shows every interaction', async (name, command, extraEnv, scenario, expected) => {
    const env = (label: string) => {
      const e: Record<string, string> = { ...baseEnv(), ...extraEnv };
      if ('MEMORY_FILE_PATH' in extraEnv) e.MEMORY_FILE_PATH = join(mkdtempSync(join(tmpdir(), `mem-${label}-`)), 'memory.jsonl');
      return e;
    };
    const direct = await run(command[0]!, command.slice(1), env('direct'), scenario);
    const wrapped = await run(process.execPath, [KM_BIN, '--project', 'e2e', '--name', name, '--', ...command], env('km'), scenario);
    expect(wrapped).toEqual(direct);

    const session = await until(`the ${name} session`, async () => {
      const { sessions } = await api('/api/sessions');
      return (sessions as any[]).find((s) => s.server.name === name && s.endedAt !== null);
    });
    expect(session).toMatchObject({ projectId: 'e2e', userId: 'e2e@example.com', exitCode: 0, client: { name: 'km-e2e', version: '1.0.0' }, interactionCount: expected.length });
    expect(session.protocolVersion).toMatch(/^\d{4}-\d{2}-\d{2}$/);

    const { interactions } = await api(`/api/sessions/${session.id}/interactions`);
    expect((interactions as any[]).map((i) => ({ method: i.method, target: i.target, outcome: i.outcome }))).toEqual(expected);
    for (const i of interactions as any[]) {
      expect(i.latencyMs).toBeGreaterThanOrEqual(0);
      expect(i.requestBytes).toBeGreaterThan(0);
      expect(i.responseBytes).toBeGreaterThan(0);
      expect(i.sessionId).toBe(session.id);
    }
  });
});
