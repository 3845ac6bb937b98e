// Records the demo's dataset (dashboard/demo/events.ndjson): sessions of the official MCP SDK client through the
// built km against real MCP servers from npm, into a km serve in a temporary KM_HOME, then the log as it stands.
// Each view gets something to show: a leaked fake key in an argument, a tool denied by km.json policy, a slow call
// and failing ones. Run after `npm run build`: node dashboard/scripts/record-demo.mjs
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const { SqliteEventLog } = require(join(root, 'functions', 'dist', 'adapters', 'sqlite-event-log.js'));
const km = join(root, 'cli', 'bin', 'km.js');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const out = process.argv[2] ?? join(root, 'dashboard', 'demo', 'events.ndjson');

const work = mkdtempSync(join(tmpdir(), 'km-demo-'));
const home = join(work, 'home');
const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KM_HOME: home };

/** Two projects, as a team would have them: each a directory with its km.json (the policy denies delete_*). */
function project(name) {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'km.json'), `${JSON.stringify({ project: name, policy: { deny: { tools: ['delete_*'] } } }, null, 2)}\n`);
  return dir;
}

/** A fake AWS key id and a Luhn-valid test card number: what an agent should never send to a tool. */
const LEAKED = 'use aws_access_key_id AKIAQ3EGRIT7DEMOEXAM and charge card 4111 1111 1111 1111 for the deploy';
const settle = (promise) => promise.catch(() => undefined);

async function session({ cwd, name, user, server, extraEnv = {} }, scenario) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [km, '--name', name, '--', ...server],
    cwd,
    env: { ...env, KM_USER: user, ...extraEnv },
    stderr: 'ignore',
  });
  const client = new Client({ name: 'km-demo-agent', version: '1.0.0' });
  await client.connect(transport);
  await scenario(client);
  await client.close();
}

async function main() {
  const serve = spawn(process.execPath, [km, 'serve', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    serve.on('exit', (code) => reject(new Error(`km serve exited (${code})`)));
    serve.stdout.on('data', (chunk) => {
      const found = /listening on (http:\S+)/.exec(String(chunk));
      if (found) resolve(found[1]);
    });
  });
  const shop = project('web-shop');
  const data = project('data-pipeline');
  const files = join(work, 'workspace');
  mkdirSync(files, { recursive: true });
  writeFileSync(join(files, 'README.md'), '# Demo workspace\n\nNotes for the agent.\n');
  writeFileSync(join(files, 'orders.csv'), 'id,total\n1,19.90\n2,5.00\n');
  const memoryFile = (who) => ({ MEMORY_FILE_PATH: join(work, `memory-${who}.jsonl`) });

  const everything = [bin('mcp-server-everything'), 'stdio'];
  const filesystem = [bin('mcp-server-filesystem'), files];
  const memory = [bin('mcp-server-memory')];

  await session({ cwd: shop, name: 'everything', user: 'alice@example.com', server: everything }, async (c) => {
    await c.listTools();
    await settle(c.callTool({ name: 'echo', arguments: { message: 'summarise the open orders' } }));
    await settle(c.callTool({ name: 'get-sum', arguments: { a: 19.9, b: 5 } }));
    await settle(c.callTool({ name: 'echo', arguments: { message: LEAKED } }));
    // The slow one: a few seconds of "work" on the server.
    await settle(c.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 3, steps: 3 } }, undefined, { timeout: 30_000 }));
    await settle(c.callTool({ name: 'no-such-tool', arguments: {} }));
    await c.listResources();
  });
  await session({ cwd: shop, name: 'filesystem', user: 'alice@example.com', server: filesystem }, async (c) => {
    await c.listTools();
    await settle(c.callTool({ name: 'list_directory', arguments: { path: files } }));
    await settle(c.callTool({ name: 'read_text_file', arguments: { path: join(files, 'orders.csv') } }));
    await settle(c.callTool({ name: 'write_file', arguments: { path: join(files, 'summary.md'), content: 'Two open orders, 24.90 in all.\n' } }));
    // Fails: the file does not exist.
    await settle(c.callTool({ name: 'read_text_file', arguments: { path: join(files, 'invoices-2026.csv') } }));
    await settle(c.callTool({ name: 'search_files', arguments: { path: files, pattern: '*.md' } }));
  });
  await session({ cwd: data, name: 'memory', user: 'bob@example.com', server: memory, extraEnv: memoryFile('bob') }, async (c) => {
    await c.listTools();
    await settle(c.callTool({ name: 'create_entities', arguments: { entities: [{ name: 'nightly-import', entityType: 'job', observations: ['runs at 02:00 UTC'] }] } }));
    await settle(c.callTool({ name: 'add_observations', arguments: { observations: [{ entityName: 'nightly-import', contents: ['took 14 minutes on Monday'] }] } }));
    await settle(c.callTool({ name: 'read_graph', arguments: {} }));
    // Denied by km.json's policy: never reaches the server.
    await settle(c.callTool({ name: 'delete_entities', arguments: { entityNames: ['nightly-import'] } }));
    await settle(c.callTool({ name: 'search_nodes', arguments: { query: 'import' } }));
  });
  await session({ cwd: data, name: 'everything', user: 'bob@example.com', server: everything }, async (c) => {
    await c.listTools();
    for (let i = 0; i < 6; i++) await settle(c.callTool({ name: 'get-sum', arguments: { a: i, b: i * 2 } }));
    await settle(c.callTool({ name: 'echo', arguments: { message: 'row counts look right' } }));
    await settle(c.callTool({ name: 'get-structured-content', arguments: { location: 'New York' } }));
  });
  await session({ cwd: shop, name: 'memory', user: 'carol@example.com', server: memory, extraEnv: memoryFile('carol') }, async (c) => {
    await c.listTools();
    await settle(c.callTool({ name: 'create_entities', arguments: { entities: [{ name: 'checkout', entityType: 'service', observations: ['p95 over 800 ms at peak'] }] } }));
    await settle(c.callTool({ name: 'open_nodes', arguments: { names: ['checkout'] } }));
    // Fails: a required argument is missing.
    await settle(c.callTool({ name: 'add_observations', arguments: {} }));
  });

  // Everyday sessions, so that the week has a shape: a few calls each, by the three users.
  const everyday = [
    ['alice@example.com', shop, filesystem, 'filesystem'],
    ['bob@example.com', data, everything, 'everything'],
    ['carol@example.com', shop, everything, 'everything'],
    ['bob@example.com', data, filesystem, 'filesystem'],
    ['alice@example.com', shop, everything, 'everything'],
  ];
  for (const [user, cwd, server, name] of everyday) {
    await session({ cwd, name, user, server }, async (c) => {
      await c.listTools();
      if (name === 'filesystem') {
        await settle(c.callTool({ name: 'list_directory', arguments: { path: files } }));
        await settle(c.callTool({ name: 'read_text_file', arguments: { path: join(files, 'README.md') } }));
      } else {
        await settle(c.callTool({ name: 'echo', arguments: { message: `status check by ${user}` } }));
        await settle(c.callTool({ name: 'get-sum', arguments: { a: 40, b: 2 } }));
      }
    });
  }

  await waitForSessions(url, 10);
  serve.kill('SIGTERM');
  await new Promise((resolve) => serve.on('exit', resolve));

  const log = new SqliteEventLog(join(home, 'km.db'));
  const lines = [];
  for (let after = 0; ; ) {
    const page = await log.read(after, 1000);
    if (page.length === 0) break;
    for (const { position, event } of page) {
      lines.push(JSON.stringify(anonymised(event)));
      after = position;
    }
  }
  await log.close();
  writeFileSync(out, `${lines.join('\n')}\n`);
  console.log(`wrote ${lines.length} events to ${out}`);
  rmSync(work, { recursive: true, force: true });
}

/** The recording machine's paths and host say nothing to a visitor: the temporary directories read as ~/. */
function anonymised(event) {
  return JSON.parse(JSON.stringify(event).split(work).join('/home/demo').split(root).join('/home/demo/km'));
}

async function waitForSessions(url, count) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { sessions = [] } = await (await fetch(`${url}/api/sessions`)).json();
    if (sessions.length >= count && sessions.every((s) => s.endedAt !== null)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} ended sessions (have ${sessions.length})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
