import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KM_BIN, REPO_ROOT, requireBuiltKm, runKm, until } from './e2e-support';
import { tempHome } from './helpers';

/**
 * Issue 11: with a small backlog bound (KM_OBSERVER_BACKLOG_BYTES), a pipelined burst far larger than it is
 * forwarded byte for byte, and every event km did not make is counted in session.ended: the events spooled and the
 * drops add up exactly to what the session held, the session's start and end are always there, previews counted
 * dropped are exactly the interactions spooled without them, and a replay after kill -9 adds no duplicates.
 */
const ECHO_SERVER = join(REPO_ROOT, 'bench', 'echo-server.mjs');
const CALLS = 20_000;

type Event = Record<string, unknown>;

function spooled(home: string): Event[] {
  const dir = join(home, 'spool');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.endsWith('.jsonl') && n !== 'rejected.jsonl')
    .flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n'))
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Event);
}

/** One event per id (a replay may write again what the live session spooled just before its kill). */
const unique = (events: Event[]) => [...new Map(events.map((e) => [String(e.id), e])).values()];

const request = (id: number) =>
  id === 0
    ? { jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'backlog-e2e', version: '1' } } }
    : { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: `call ${id}` } } };
/** What bench/echo-server.mjs answers, byte for byte. */
const answer = (id: number) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    result: id === 0 ? { protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'bench-echo', version: '1' } } : { content: [{ type: 'text', text: `call ${id}` }] },
  }) + '\n';

/** Starts km over the echo server, writes the whole burst at once and resolves once every answer arrived. */
async function burst(home: string, backlogBytes: number) {
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KM_HOME: home, KM_ENDPOINT: 'http://127.0.0.1:9', KM_USER: 'backlog@example.com', KM_CAPTURE: 'redacted', KM_OBSERVER_BACKLOG_BYTES: String(backlogBytes) };
  const km = spawn(process.execPath, [KM_BIN, '--name', 'echo', '--', process.execPath, ECHO_SERVER], { env, stdio: ['pipe', 'pipe', 'ignore'] });
  const out: Buffer[] = [];
  let bytes = 0;
  km.stdout!.on('data', (chunk: Buffer) => {
    out.push(chunk);
    bytes += chunk.length;
  });
  const lines: string[] = [];
  for (let id = 0; id <= CALLS; id++) lines.push(JSON.stringify(request(id)) + '\n');
  km.stdin!.write(lines.join(''));
  let expected = '';
  for (let id = 0; id <= CALLS; id++) expected += answer(id);
  await until('every answer', () => (bytes >= Buffer.byteLength(expected) ? true : undefined), 60_000);
  return { km, received: () => Buffer.concat(out).toString('utf8'), expected };
}

describe('km behind a burst, with a small backlog bound', () => {
  beforeAll(() => requireBuiltKm());

  it('forwards every byte, and the events spooled plus those counted dropped are exactly the session', async () => {
    const home = tempHome('km-backlog');
    const { km, received, expected } = await burst(home, 1);
    const exited = new Promise<void>((resolve) => km.on('close', () => resolve()));
    km.stdin!.end();
    await exited;
    expect(received()).toBe(expected);

    const ended = await until('session.ended', () => spooled(home).find((e) => e.type === 'session.ended'), 60_000);
    const events = unique(spooled(home));
    expect(events.filter((e) => e.type === 'session.started')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'session.ended')).toHaveLength(1);
    const interactions = events.filter((e) => e.type === 'mcp.interaction');
    const identified = events.filter((e) => e.type === 'session.identified');
    // What the session held: one interaction per request (initialize included) and initialize's session.identified.
    expect(interactions.length + identified.length + Number(ended.droppedObservations)).toBe(CALLS + 1 + 1);
    expect(events.filter((e) => e.type === 'protocol.violation')).toEqual([]);
    // The whole burst was behind a bound of one byte: almost all of it is counted, not made.
    expect(Number(ended.droppedObservations)).toBeGreaterThan(0);
    const withoutPreviews = interactions.filter((e) => e.requestPreview === null && e.responsePreview === null);
    expect(withoutPreviews.length).toBe(Number(ended.droppedPreviews));
    expect(new Set(interactions.map((e) => e.requestId)).size).toBe(interactions.length);
  }, 120_000);

  it('after kill -9 in a burst, the replay adds exactly what the live session did not spool or count', async () => {
    const home = tempHome('km-backlog-kill');
    const { km, received, expected } = await burst(home, 64 * 1024);
    expect(received()).toBe(expected);
    const killed = new Promise<void>((resolve) => km.on('close', () => resolve()));
    km.kill('SIGKILL');
    await killed;
    const flushed = await runKm(['flush'], { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KM_HOME: home, KM_ENDPOINT: 'http://127.0.0.1:9' });
    expect(flushed.stderr).not.toContain('replay failed');

    const events = unique(spooled(home));
    const ended = events.filter((e) => e.type === 'session.ended');
    expect(ended).toHaveLength(1);
    expect(events.filter((e) => e.type === 'session.started')).toHaveLength(1);
    const interactions = events.filter((e) => e.type === 'mcp.interaction');
    // No interaction twice under two ids, none both made and counted dropped: they add up to the session.
    expect(new Set(interactions.map((e) => e.requestId)).size).toBe(interactions.length);
    const identified = events.filter((e) => e.type === 'session.identified');
    expect(interactions.length + identified.length + Number(ended[0]!.droppedObservations)).toBe(CALLS + 1 + 1);
    expect(interactions.every((e) => e.outcome === 'ok')).toBe(true); // every request was answered before the kill
  }, 120_000);
});
