import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_PROJECT, DENIED_TOOL, fakeAwsKeyId } from '../src/demo/facts';
import { freePort, getJson, requireBuiltKm, runKm, until } from './e2e-support';
import { tempHome } from './helpers';

/**
 * km demo end to end: into a fresh KM_HOME it starts km serve itself (detached, so it outlives the demo), records the
 * scripted agent's sessions with real servers from npm, and prints the dashboard URL last; the API then has
 * something for every view. A second km demo records into the same km serve.
 */
const lastLine = (text: string) => text.trimEnd().split('\n').at(-1)!;

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

function servePid(home: string): number | null {
  try {
    return (JSON.parse(readFileSync(join(home, 'serve.json'), 'utf8')) as { pid: number }).pid;
  } catch {
    return null;
  }
}

describe('km demo', () => {
  let home: string;
  let pid: number | null = null;
  beforeAll(() => {
    requireBuiltKm();
    home = tempHome('km-demo-e2e');
  });
  afterAll(async () => {
    // The km serve that km demo started: it was detached so that the dashboard stays up, and the test must stop it.
    pid ??= servePid(home);
    if (pid === null) return;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return; // already gone
    }
    await until('km serve to stop', () => {
      try {
        process.kill(pid!, 0);
        return undefined;
      } catch {
        return true;
      }
    }, 20_000);
  });

  const env = () => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KM_HOME: home, KM_USER: 'demo@example.com' });

  it('starts km serve, records every kind of call into project demo, and prints the dashboard URL on its last line', async () => {
    const port = await freePort();
    const run = await runKm(['demo', '--port', String(port)], env());
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
    const url = `http://127.0.0.1:${port}/`;
    expect(lastLine(run.stdout)).toBe(url);
    pid = servePid(home);
    expect(pid).not.toBeNull();
    expect(readFileSync(join(home, 'demo-serve.log'), 'utf8')).toContain(`listening on http://127.0.0.1:${port}`);
    const base = url.slice(0, -1);
    const api = (path: string) => getJson(base, path);

    const dashboard = await fetch(url);
    expect(dashboard.status).toBe(200);
    expect(dashboard.headers.get('content-type')).toMatch(/text\/html/);

    // km demo waited for its sessions to end: they are there already.
    const { sessions } = await api(`/api/sessions?projectId=${DEMO_PROJECT}`);
    expect((sessions as any[]).map((s) => ({ server: s.server.name, ended: s.endedAt !== null, exitCode: s.exitCode, userId: s.userId })).sort((a, b) => a.server.localeCompare(b.server))).toEqual(
      ['everything', 'filesystem', 'memory'].map((server) => ({ server, ended: true, exitCode: 0, userId: 'demo@example.com' })),
    );

    // Risk Monitor: the leaked key, found in the request and in the echoed answer, shown redacted.
    const leaked = await until('the leaked key findings', async () => {
      const { findings } = await api(`/api/risk/findings?kind=secret&projectId=${DEMO_PROJECT}`);
      const mine = (findings as any[]).filter((f) => f.ruleId === 'aws-access-key-id');
      return mine.length >= 2 ? mine : undefined;
    }, 30_000);
    expect(leaked.map((f: any) => ({ tool: f.tool, server: f.server, severity: f.severity, path: f.path })).sort((a: any, b: any) => a.path.localeCompare(b.path))).toEqual([
      { tool: 'echo', server: 'everything', severity: 'critical', path: '$.params.arguments.message' },
      { tool: 'echo', server: 'everything', severity: 'critical', path: '$.result.content[0].text' },
    ]);
    for (const finding of leaked) expect(finding.preview).toContain('[REDACTED:aws-access-key-id]');

    // The policy block: the denied tool, refused by km before the server saw it.
    const blocked = await until('the policy block', async () => {
      const { findings } = await api(`/api/risk/findings?kind=policy&projectId=${DEMO_PROJECT}`);
      return (findings as any[]).find((f) => f.ruleId === 'policy-deny-tool');
    }, 30_000);
    expect(blocked).toMatchObject({ tool: DENIED_TOOL, server: 'everything' });

    // Journey and Performance Hub: the slow call, the failing ones and the refused one, each an interaction.
    const calls = await until('the interactions of the three sessions', async () => {
      const { interactions } = await api(`/api/interactions/recent?projectId=${DEMO_PROJECT}&limit=500`);
      const tools = (interactions as any[]).filter((i) => i.method === 'tools/call');
      return tools.length >= 13 ? tools : undefined;
    }, 30_000);
    const outcome = (server: string, tool: string) => calls.filter((i: any) => i.server === server && i.tool === tool).map((i: any) => i.outcome);
    expect(outcome('everything', 'trigger-long-running-operation')).toEqual(['ok']);
    expect(outcome('everything', DENIED_TOOL)).toEqual(['error']);
    expect(calls.filter((i: any) => i.refusedByPolicy === true).map((i: any) => i.tool)).toEqual([DENIED_TOOL]);
    expect(outcome('everything', 'get-sum')).toEqual(['ok', 'tool_error']);
    expect(outcome('filesystem', 'read_text_file')).toEqual(['ok', 'tool_error']);
    expect(outcome('memory', 'create_entities')).toEqual(['ok']);

    // The key reached the server and came back to the client, but nothing km keeps on disk holds it.
    const key = fakeAwsKeyId();
    const stored = filesUnder(home);
    expect(stored.some((f) => f.endsWith('km.db'))).toBe(true);
    for (const file of stored) expect({ file, leaked: readFileSync(file).includes(key) }).toEqual({ file, leaked: false });
  });

  it('a second km demo records into the km serve already running, and says so when --port names another', async () => {
    const before = servePid(home);
    expect(before).not.toBeNull();
    const { port } = JSON.parse(readFileSync(join(home, 'serve.json'), 'utf8')) as { port: number };
    const asked = await freePort();
    const run = await runKm(['demo', '--port', String(asked)], env());
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
    expect(lastLine(run.stdout)).toBe(`http://127.0.0.1:${port}/`);
    // Says so when the port asked for is not the running one's.
    expect(run.stdout).toContain(`recording into the km serve running on http://127.0.0.1:${port} (not on port ${asked}: KM_HOME ${home} has this one`);
    expect(servePid(home)).toBe(before);
    const { sessions } = await getJson(`http://127.0.0.1:${port}`, `/api/sessions?projectId=${DEMO_PROJECT}`);
    expect((sessions as any[]).filter((s) => s.endedAt !== null)).toHaveLength(6);
  });
});
