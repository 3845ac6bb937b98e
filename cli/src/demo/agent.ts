import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { join } from 'node:path';
import { KM_VERSION } from '../version';
import { DEMO_SERVERS, DENIED_TOOL, fakeAwsKeyId, type DemoServer } from './facts';
import { serverCommand, type ServerCommand } from './servers';

/**
 * The scripted agent of `km demo`: the official MCP SDK client, one session per server, each server run through km
 * so that every call is recorded. Its own bundle (demo-agent.js), loaded only by km demo: the SDK client is large.
 */
export interface DemoAgentOptions {
  /** How to run km itself: the servers' command lines go after its `--name N --`. */
  km: ServerCommand;
  /** The directory whose km.json gives the sessions their project and policy. */
  cwd: string;
  env: Record<string, string>;
  /** A scratch directory: server-filesystem's root and server-memory's file. */
  workspace: string;
  say(line: string): void;
}

/** What one call came to, in the words the demo prints. */
type Outcome = 'ok' | 'tool error' | 'refused';
interface Step {
  what: string;
  run(client: Client): Promise<unknown>;
}

async function outcomeOf(step: Step, client: Client): Promise<Outcome> {
  try {
    const result = (await step.run(client)) as { isError?: unknown } | undefined;
    return result?.isError === true ? 'tool error' : 'ok';
  } catch {
    // A JSON-RPC error: km's policy, or the server refusing the call.
    return 'refused';
  }
}

function everythingSteps(): Step[] {
  return [
    { what: 'echo', run: (c) => c.callTool({ name: 'echo', arguments: { message: 'summarise the open orders' } }) },
    { what: 'get-sum', run: (c) => c.callTool({ name: 'get-sum', arguments: { a: 19.9, b: 5 } }) },
    // The leaked credential: the Risk Monitor finds it in the request and in the echoed answer, and stores neither.
    { what: 'echo with a leaked key', run: (c) => c.callTool({ name: 'echo', arguments: { message: `deploy with aws_access_key_id ${fakeAwsKeyId()}` } }) },
    // The slow call: two seconds of "work" on the server, with progress notifications.
    { what: 'a slow operation', run: (c) => c.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 2, steps: 2 } }, undefined, { timeout: 30_000, onprogress: () => {} }) },
    // Denied by the demo's km.json: km answers with a JSON-RPC error and the server never sees the call.
    { what: DENIED_TOOL, run: (c) => c.callTool({ name: DENIED_TOOL, arguments: {} }) },
    // The failing call: arguments the tool's schema refuses.
    { what: 'get-sum with a bad argument', run: (c) => c.callTool({ name: 'get-sum', arguments: { a: 'forty', b: 2 } }) },
  ];
}

function filesystemSteps(workspace: string): Step[] {
  return [
    { what: 'write_file', run: (c) => c.callTool({ name: 'write_file', arguments: { path: join(workspace, 'notes.md'), content: '# Notes\n\nTwo open orders, 24.90 in all.\n' } }) },
    { what: 'read_text_file', run: (c) => c.callTool({ name: 'read_text_file', arguments: { path: join(workspace, 'notes.md') } }) },
    { what: 'list_directory', run: (c) => c.callTool({ name: 'list_directory', arguments: { path: workspace } }) },
    // Fails: there is no such file.
    { what: 'read_text_file of a missing file', run: (c) => c.callTool({ name: 'read_text_file', arguments: { path: join(workspace, 'invoices.csv') } }) },
  ];
}

function memorySteps(): Step[] {
  return [
    { what: 'create_entities', run: (c) => c.callTool({ name: 'create_entities', arguments: { entities: [{ name: 'nightly-import', entityType: 'job', observations: ['runs at 02:00 UTC'] }] } }) },
    { what: 'read_graph', run: (c) => c.callTool({ name: 'read_graph', arguments: {} }) },
    { what: 'search_nodes', run: (c) => c.callTool({ name: 'search_nodes', arguments: { query: 'import' } }) },
  ];
}

async function session(options: DemoAgentOptions, server: DemoServer, serverArgs: string[], steps: Step[], extraEnv: Record<string, string> = {}): Promise<void> {
  const command = serverCommand(server);
  const transport = new StdioClientTransport({
    command: options.km.command,
    args: [...options.km.args, '--name', server.name, '--', command.command, ...command.args, ...serverArgs],
    cwd: options.cwd,
    env: { ...options.env, ...extraEnv },
    stderr: 'ignore',
  });
  const client = new Client({ name: 'km-demo-agent', version: KM_VERSION });
  await client.connect(transport);
  try {
    await client.listTools();
    const outcomes: string[] = [];
    for (const step of steps) outcomes.push(`${step.what} ${await outcomeOf(step, client)}`);
    options.say(`${server.name}: tools/list ok, ${outcomes.join(', ')}`);
  } finally {
    await client.close();
  }
}

/** One session with each server, one after the other (the machine may be small). */
export async function runDemoAgent(options: DemoAgentOptions): Promise<void> {
  await session(options, DEMO_SERVERS.everything, ['stdio'], everythingSteps());
  await session(options, DEMO_SERVERS.filesystem, [options.workspace], filesystemSteps(options.workspace));
  await session(options, DEMO_SERVERS.memory, [], memorySteps(), { MEMORY_FILE_PATH: join(options.workspace, 'memory.jsonl') });
}
