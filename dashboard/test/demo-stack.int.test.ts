import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteEventLog } from '@km/functions/dist/adapters/sqlite-event-log';
import { startEmbeddedHost, type EmbeddedHost } from '@km/functions/dist/host/embedded-host';
import { readModels } from '@km/functions/dist/read-models';
import { parseEventLines, shiftToRecent } from '../demo/demo-events';
import { openDemoStack, type DemoApi } from '../demo/demo-stack';

/**
 * Given the demo's recorded events, when the demo stack (memory ports, in the page) and km serve (SQLite, its
 * projector loop) have both folded them, then the same requests get the same answers: one code path.
 */
const EVENTS = join(__dirname, '..', 'demo', 'events.ndjson');
const NOW = new Date('2026-06-15T12:00:00.000Z');
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('the demo stack answers as km serve does, over the same events', () => {
  const events = shiftToRecent(parseEventLines(readFileSync(EVENTS, 'utf8')), NOW);
  let home: string;
  let host: EmbeddedHost;
  let demo: DemoApi;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'km-demo-stack-'));
    // The events go into the log as ingest left them (receivedAt and batch ids included), before km serve starts.
    const log = new SqliteEventLog(join(home, 'km.db'));
    await log.append(events);
    const last = (await log.read(0, events.length)).at(-1)!.position;
    host = await startEmbeddedHost({ home, port: 0, projectorIntervalMs: 50, logger: silent });
    await until('every read model folded the log', async () => {
      const checkpoints = await Promise.all(readModels.map((model) => log.getCheckpoint(model.name)));
      return checkpoints.every((position) => position >= last) ? true : undefined;
    });
    await log.close();
    demo = await openDemoStack(events, () => NOW);
  }, 90_000);

  afterAll(async () => {
    await host?.close();
    rmSync(home, { recursive: true, force: true });
  });

  const fromDemo = async (path: string) => {
    const answer = await demo('GET', new URL(`http://demo.invalid${path}`), new Headers(), null);
    return { status: answer.status ?? 200, body: answer.jsonBody };
  };
  const fromHost = async (path: string) => {
    const response = await fetch(`${host.url}${path}`);
    return { status: response.status, body: await response.json() };
  };

  it('has recorded sessions to compare', async () => {
    const { body } = await fromDemo('/api/sessions?limit=500');
    expect((body as { sessions: unknown[] }).sessions.length).toBeGreaterThanOrEqual(5);
  });

  const from = '2026-06-01T00:00:00.000Z';
  const to = NOW.toISOString();
  it.each([
    '/api/sessions?limit=500',
    `/api/cost?from=2026-06-01&to=2026-06-15&groupBy=server`,
    `/api/latency?from=${from}&to=${to}&groupBy=tool`,
    `/api/risk/findings?from=${from}&to=${to}`,
    `/api/risk/summary?from=${from}&to=${to}`,
    '/api/no-such-route',
  ])('GET %s', async (path) => {
    const [inPage, served] = [await fromDemo(path), await fromHost(path)];
    expect(inPage.status).toBe(served.status);
    if (served.status === 200) expect(inPage.body).toEqual(served.body);
  });

  it("a session's interactions", async () => {
    const { sessions } = (await fromHost('/api/sessions?limit=500')).body as { sessions: Array<{ id: string }> };
    for (const { id } of sessions.slice(0, 2)) {
      const path = `/api/sessions/${encodeURIComponent(id)}/interactions`;
      expect((await fromDemo(path)).body).toEqual((await fromHost(path)).body);
    }
  });
});
