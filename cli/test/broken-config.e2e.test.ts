import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN_DIR, KM_BIN, requireBuiltKm, until } from './e2e-support';
import { tempHome } from './helpers';

/** km wrapping the everything server from the project's directory, its stderr piped. */
const kmTransport = (project: string, kmHome: string) =>
  new StdioClientTransport({
    command: process.execPath,
    args: [KM_BIN, '--name', 'everything', '--', join(BIN_DIR, 'mcp-server-everything')],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KM_HOME: kmHome, KM_USER: 'cfg@example.com', KM_ENDPOINT: 'http://127.0.0.1:9' },
    cwd: project,
    stderr: 'pipe',
  });

/** Issue 10: a km.json that cannot be parsed must fail closed, not turn the policy off. */
describe('a broken km.json', () => {
  beforeAll(() => requireBuiltKm());

  it('refuses every tools/call with an error naming file, line and column, says so on stderr once, and records a config-invalid policy.blocked', async () => {
    const project = tempHome('km-broken-config');
    const kmHome = tempHome('km-broken-home');
    // A policy denying echo, broken by one trailing comma (line 3).
    writeFileSync(join(project, 'km.json'), '{\n  "project": "guarded",\n  "policy": { "deny": { "tools": ["echo"] } },\n}\n');
    const transport = kmTransport(project, kmHome);
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const client = new Client({ name: 'km-config-e2e', version: '1.0.0' });
    await client.connect(transport);
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toContain('echo');
    const file = join(project, 'km.json');
    for (const name of ['echo', 'add']) {
      await expect(client.callTool({ name, arguments: name === 'echo' ? { message: 'hi' } : { a: 1, b: 2 } })).rejects.toThrow(
        new RegExp(`km policy: km.json cannot be read or its policy cannot be used.*${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:4:1`),
      );
    }
    await client.close();
    expect(stderr.split('\n').filter((line) => line.includes('km.json') && line.includes(':4:1'))).toHaveLength(1);

    const blocked = await until('the config-invalid events in the spool', () => {
      const dir = join(kmHome, 'spool');
      if (!existsSync(dir)) return undefined;
      const events = readdirSync(dir)
        .flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n'))
        .filter((line) => line.trim().length > 0)
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((event) => event.type === 'policy.blocked' && event.ruleId === 'config-invalid');
      return events.length === 2 ? events : undefined;
    });
    expect(blocked.map((e) => e.target)).toEqual(['echo', 'add']);
    expect(String(blocked[0]!.reason)).toContain('km.json:4:1');
  });

  it('refuses every tools/call when the policy has the wrong shape, naming the field', async () => {
    const project = tempHome('km-bad-policy');
    const kmHome = tempHome('km-bad-policy-home');
    // Valid JSON, but "tools" is a string: read loosely, it would deny nothing and let echo run.
    writeFileSync(join(project, 'km.json'), JSON.stringify({ project: 'guarded', policy: { deny: { tools: 'echo' } } }));
    const transport = kmTransport(project, kmHome);
    const client = new Client({ name: 'bad-policy-test', version: '0.0.0' });
    await client.connect(transport);
    await expect(client.callTool({ name: 'echo', arguments: { message: 'hi' } })).rejects.toThrow(/policy\.deny\.tools must be a list of non-empty strings/);
    await client.close();
  });
});
