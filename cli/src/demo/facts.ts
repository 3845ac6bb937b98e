/**
 * What `km demo` records, named once: the command, its agent and the e2e test all read these.
 * Only node built-ins, so the program bundle can import it without loading the MCP SDK.
 */

/** The project the demo's sessions belong to (its km.json under KM_HOME/demo says so). */
export const DEMO_PROJECT = 'demo';

/** A server from npm: its package, the bin it runs, and the version whose tool names the agent calls. */
export interface DemoServer {
  /** The server's name on the dashboard (km --name). */
  name: string;
  packageName: string;
  bin: string;
  version: string;
}

export const DEMO_SERVERS = {
  everything: { name: 'everything', packageName: '@modelcontextprotocol/server-everything', bin: 'mcp-server-everything', version: '2026.8.31' },
  filesystem: { name: 'filesystem', packageName: '@modelcontextprotocol/server-filesystem', bin: 'mcp-server-filesystem', version: '2026.8.31' },
  memory: { name: 'memory', packageName: '@modelcontextprotocol/server-memory', bin: 'mcp-server-memory', version: '2026.8.31' },
} as const satisfies Record<string, DemoServer>;

/** server-everything's tool that prints the server's environment: denied by the demo's km.json policy. */
export const DENIED_TOOL = 'get-env';

/**
 * A fake AWS access key id of the documented shape, made at run time from pieces so that secret scanners do not
 * flag this repository: the leaked credential the Risk Monitor is shown catching.
 */
export function fakeAwsKeyId(): string {
  return ['AKIA', 'KMDEMO', '7Q2X', 'FAKE', '00'].join('');
}

/** The demo's km.json: its project, and a policy that denies one tool (the Risk Monitor's policy block). */
export function demoProjectConfig(): { project: string; policy: { deny: { tools: string[] } } } {
  return { project: DEMO_PROJECT, policy: { deny: { tools: [DENIED_TOOL] } } };
}
