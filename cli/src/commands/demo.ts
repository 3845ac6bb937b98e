import { Command } from 'commander';
import { sessionsRoute } from '@km/shared';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_PORT, loadSettings } from '../config/settings';
import { DEMO_PROJECT, DEMO_SERVERS, demoProjectConfig } from '../demo/facts';
import { ensureLocalStack, type LocalStack } from '../demo/local-stack';
import { callApi } from './api-client';
import { parsePort } from './serve';

const SESSIONS_DEADLINE_MS = 60_000;

/**
 * The environment of the demo's wrappers: they ship to the local stack whatever km login or KM_ENDPOINT say (the
 * demo must not land on a team's dashboard), and km.json alone sets the project and capture.
 */
function wrapperEnv(home: string, stack: LocalStack): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value;
  delete env.KM_PROJECT;
  delete env.KM_CAPTURE;
  delete env.KM_API_KEY;
  return { ...env, KM_HOME: home, KM_ENDPOINT: stack.url, ...(stack.apiKey ? { KM_API_KEY: stack.apiKey } : {}) };
}

/** Until the sessions route shows each demo server's session since `since` ended: the dashboard then shows it all. */
async function waitForSessions(stack: LocalStack, since: number): Promise<void> {
  const names = Object.values(DEMO_SERVERS).map((server) => server.name);
  const deadline = Date.now() + SESSIONS_DEADLINE_MS;
  for (;;) {
    const { sessions } = await callApi(sessionsRoute, { request: { projectId: DEMO_PROJECT, limit: 50 }, target: { endpoint: stack.url, apiKey: stack.apiKey } });
    const ours = sessions.filter((s) => s.startedAt !== null && Date.parse(s.startedAt) >= since);
    const missing = names.filter((name) => !ours.some((s) => s.server.name === name && s.endedAt !== null));
    if (missing.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(`the demo's sessions of ${missing.join(', ')} have not reached ${stack.url} after ${SESSIONS_DEADLINE_MS / 1000} s: see km status and KM_HOME/km.log`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** `km demo`: a scripted agent session through km into the local stack, for someone with no MCP client yet. */
export function demoCommand(): Command {
  return new Command('demo')
    .description('Record a scripted agent session (the MCP SDK client, real MCP servers, through km) into the local km serve, starting one if none runs; prints the dashboard URL last')
    .option('-p, --port <port>', 'port of the km serve it starts when none runs', parsePort, DEFAULT_PORT)
    .action(async (options: { port: number }, command: Command) => {
      const { home } = loadSettings();
      const say = (line: string) => process.stdout.write(`km demo: ${line}\n`);
      const stack = await ensureLocalStack(home, options.port);
      // One km serve per KM_HOME: a --port asked for is not the running one's, and the user should hear it.
      const otherPort = command.getOptionValueSource('port') === 'cli' && new URL(stack.url).port !== String(options.port);
      const running = `recording into the km serve running on ${stack.url}${otherPort ? ` (not on port ${options.port}: KM_HOME ${home} has this one; stop it, or give km demo another KM_HOME, to use that port)` : ''}`;
      say(stack.started ? `started km serve on ${stack.url} (log in ${join(home, 'demo-serve.log')})` : running);

      const cwd = join(home, 'demo');
      mkdirSync(cwd, { recursive: true });
      writeFileSync(join(cwd, 'km.json'), `${JSON.stringify(demoProjectConfig(), null, 2)}\n`);
      // A scratch directory under KM_HOME rather than the OS's: its path reads plainly on the dashboard (a random
      // temporary name looks like a token to the risk rules' entropy check).
      const workspace = join(cwd, 'workspace');
      rmSync(workspace, { recursive: true, force: true });
      mkdirSync(workspace);
      // The wrappers start after this, on this machine's clock: earlier demo runs' sessions are not waited for.
      const since = Date.now();
      try {
        const { runDemoAgent } = require(join(__dirname, 'demo-agent.js')) as typeof import('../demo/agent');
        await runDemoAgent({ km: { command: process.execPath, args: [join(__dirname, 'km.js')] }, cwd, env: wrapperEnv(home, stack), workspace, say });
      } finally {
        rmSync(workspace, { recursive: true, force: true });
      }
      await waitForSessions(stack, since);
      say(`recorded in project "${DEMO_PROJECT}"; the dashboard:`);
      process.stdout.write(`${stack.url}/\n`);
    });
}
