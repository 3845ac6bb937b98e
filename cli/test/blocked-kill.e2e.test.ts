import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN_DIR, KM_BIN, requireBuiltKm, runKm, until } from './e2e-support';
import { tempHome } from './helpers';

/**
 * Issue 10: a policy refusal the client was answered must be recorded even when km is killed with SIGKILL the moment
 * the answer arrives (the refusal is journaled with its line before km answers). A raw JSON-RPC driver talks to
 * server-everything through km, from a project whose km.json denies echo.
 */
const TRIALS = 4;

function spooledBlocks(home: string): Array<Record<string, unknown>> {
  const dir = join(home, 'spool');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.jsonl') && name !== 'rejected.jsonl')
    .flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n'))
    .filter((line) => line.includes('"policy.blocked"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** One session killed with SIGKILL as soon as the client has km's refusal of call `id`. */
async function refusedThenKilled(project: string, env: Record<string, string>, id: string): Promise<void> {
  const km = spawn(process.execPath, [KM_BIN, '--name', 'everything', '--', join(BIN_DIR, 'mcp-server-everything'), 'stdio'], { env, cwd: project, stdio: ['pipe', 'pipe', 'ignore'] });
  const answers = new Map<string, { error?: { message?: string } }>();
  let buffered = '';
  km.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
      const message = JSON.parse(buffered.slice(0, nl)) as { id?: string; error?: { message?: string } };
      buffered = buffered.slice(nl + 1);
      if (message.id === undefined) continue;
      answers.set(message.id, message);
      if (message.id === id) km.kill('SIGKILL'); // at once, on the same tick the refusal arrived
    }
  });
  const exited = new Promise<void>((resolve) => km.on('exit', () => resolve()));
  km.stdin!.on('error', () => {});
  const send = (message: unknown) => km.stdin!.write(JSON.stringify(message) + '\n');
  try {
    send({ jsonrpc: '2.0', id: 'init', method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'blocked-kill', version: '1' } } });
    await until('the initialize answer', () => (answers.has('init') ? true : undefined));
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hi' } } });
    await exited;
    expect(answers.get(id)?.error?.message).toMatch(/^km policy: /);
  } finally {
    km.kill('SIGKILL');
  }
}

describe('a policy refusal and a kill -9 right after it', () => {
  beforeAll(() => requireBuiltKm());

  it(`is recorded once (one event id) after km flush (${TRIALS} sessions)`, async () => {
    const project = tempHome('km-blocked-kill-project');
    writeFileSync(join(project, 'km.json'), JSON.stringify({ project: 'guarded', policy: { deny: { tools: ['echo'] } } }));
    const home = tempHome('km-blocked-kill');
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KM_HOME: home, KM_ENDPOINT: 'http://127.0.0.1:9', KM_USER: 'kill@example.com' };
    const ids = Array.from({ length: TRIALS }, (_, n) => `refused-${n}`);
    for (const id of ids) await refusedThenKilled(project, env, id);
    await runKm(['flush'], env);

    // A replay may write again an event spooled just before the kill, with the same id (ingest keeps one of each).
    const blocks = [...new Map(spooledBlocks(home).map((b) => [b.id, b])).values()];
    expect(blocks.map((b) => [b.target, b.ruleId])).toEqual(ids.map(() => ['echo', 'policy-deny-tool']));
    expect(new Set(blocks.map((b) => b.sessionId)).size).toBe(TRIALS);
    expect(blocks.every((b) => b.projectId === 'guarded')).toBe(true);
  });
});
