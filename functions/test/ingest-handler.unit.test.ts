import { gzipSync } from 'node:zlib';
import { sessionsProjection, type KmEvent } from '@km/shared';
import { ApiKeyAuthenticator, hashApiKey } from '../src/adapters/api-key-authenticator';
import { MemoryEventLog } from '../src/adapters/memory-event-log';
import { MemoryReadModelStore } from '../src/adapters/memory-read-model-store';
import { SqliteEventLog } from '../src/adapters/sqlite-event-log';
import { openSqliteDatabase } from '../src/adapters/sqlite-database';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeIngestHandler, type IngestDeps } from '../src/handlers/ingest';
import { EventTooLargeError, type EventLog } from '../src/ports';
import { runProjectorOnce } from '../src/projector';
import { aSessionOfEvents, anEnvelope, interaction } from './fixtures';
import { anHttpRequest, anInvocationContext, bearer } from './http-fixtures';

const KEY_A = 'key-of-org-a';
const KEY_WEB = 'key-of-project-web';
const authenticator = new ApiKeyAuthenticator([
  { keyHash: hashApiKey(KEY_A), orgId: 'org-a' },
  { keyHash: hashApiKey(KEY_WEB), orgId: 'org-a', projectId: 'web' },
]);
const NOW = new Date('2026-05-01T12:00:00.000Z');

function setup(overrides: Partial<IngestDeps> = {}) {
  const eventLog = new MemoryEventLog();
  const readModelStore = new MemoryReadModelStore();
  let appendedNotices = 0;
  let batchCount = 0;
  const handler = makeIngestHandler({
    eventLog,
    readModelStore,
    authenticator,
    now: () => NOW,
    newBatchId: () => `batch-${++batchCount}`,
    onEventsAppended: () => appendedNotices++,
    ...overrides,
  });
  const post = async (body: string | Buffer, headers: Record<string, string> = bearer(KEY_A)) => {
    const context = anInvocationContext('ingest');
    const response = await handler(anHttpRequest({ method: 'POST', path: '/api/ingest', body, headers }), context);
    return { status: response.status, body: response.jsonBody, headers: response.headers, logged: context.logged };
  };
  const logged = async () => (await eventLog.read(0, 10_000)).map((entry) => entry.event);
  const foldSessions = () => runProjectorOnce(sessionsProjection, eventLog, readModelStore, 10_000);
  return { post, logged, notices: () => appendedNotices, foldSessions };
}

const batchOf = (events: unknown[]) => JSON.stringify({ events });
const orgAEvents = (): KmEvent[] => aSessionOfEvents(anEnvelope({ orgId: 'org-a' }), '2026-05-01T11:00:00.000Z', 2);

describe('POST /api/ingest', () => {
  it('appends a valid batch with receivedAt and the batch id, and answers 202 with the counts', async () => {
    const { post, logged, notices } = setup();
    const events = orgAEvents();
    const response = await post(batchOf(events));
    expect(response).toMatchObject({ status: 202, body: { batchId: 'batch-1', accepted: 4, duplicates: 0 } });
    expect(await logged()).toEqual(events.map((event) => ({ ...event, receivedAt: NOW.toISOString(), batchId: 'batch-1' })));
    expect(notices()).toBe(1);
  });

  it("goes on from the latest receivedAt km.db holds when the clock was set back across a restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'km-ingest-clock-'));
    try {
      const file = join(dir, 'km.db');
      const stamps: string[] = [];
      // One km serve, then another on the same km.db with the clock an hour behind (each its own log object).
      for (const now of [NOW, new Date(NOW.getTime() - 3_600_000)]) {
        const db = openSqliteDatabase(file);
        const eventLog = new SqliteEventLog(db);
        const { post } = setup({ eventLog, now: () => now });
        expect((await post(batchOf(aSessionOfEvents(anEnvelope({ orgId: 'org-a', sessionId: `s-${stamps.length}` }), '2026-05-01T10:00:00.000Z', 1)))).status).toBe(202);
        const events = (await eventLog.read(0, 100)).map((entry) => entry.event);
        stamps.push(events[events.length - 1]!.receivedAt);
        db.close();
      }
      // Stamped before the first batch, the second would sort before what the retention sweep had already passed.
      expect(stamps).toEqual([NOW.toISOString(), new Date(NOW.getTime() + 1).toISOString()]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('accepts a gzip body', async () => {
    const { post, logged } = setup();
    const events = orgAEvents();
    const response = await post(gzipSync(batchOf(events)), { ...bearer(KEY_A), 'content-encoding': 'gzip' });
    expect(response).toMatchObject({ status: 202, body: { accepted: 4, duplicates: 0 } });
    expect((await logged()).map((event) => event.id)).toEqual(events.map((event) => event.id));
  });

  it('accepts duplicate ids, within a batch and across retries, and stores each event exactly once', async () => {
    const { post, logged, notices } = setup();
    const events = orgAEvents();
    expect((await post(batchOf([...events, events[0]]))).body).toMatchObject({ accepted: 4, duplicates: 1 });
    expect(await post(batchOf(events))).toMatchObject({ status: 202, body: { batchId: 'batch-2', accepted: 0, duplicates: 4 } });
    expect(await logged()).toHaveLength(4);
    expect(notices()).toBe(1);
  });

  describe('refuses, storing nothing', () => {
    it('a body that is not JSON: 400', async () => {
      const { post, logged } = setup();
      const response = await post('{"events": [');
      expect(response.status).toBe(400);
      expect(response.body.error).toMatch(/^body is not valid JSON: /);
      expect(await logged()).toEqual([]);
    });

    it('events that do not match the schema: 400 naming each bad event by index and path', async () => {
      const { post, logged } = setup();
      const [good1, bad1, good2, bad2] = orgAEvents();
      const response = await post(
        batchOf([good1, { ...bad1!, server: { name: '', command: 'x' } }, good2, { ...bad2!, surprise: true }]),
      );
      expect(response.status).toBe(400);
      expect(response.body.error).toMatch(/2 event\(s\) do not match/);
      expect(response.body.issues).toEqual([
        { index: 1, path: 'events[1].server.name', message: expect.any(String) },
        { index: 3, path: 'events[3]', message: expect.stringContaining('surprise') },
      ]);
      expect(await logged()).toEqual([]);
    });

    it('a body that is not a batch: 400 with an issue outside any event', async () => {
      const { post } = setup();
      const response = await post(JSON.stringify([]));
      expect(response.status).toBe(400);
      expect(response.body.issues[0]).toMatchObject({ index: null, path: '' });
      expect((await post(batchOf([]))).body.issues[0]).toMatchObject({ index: null, path: 'events' });
    });

    it('more events than a batch may hold: 400 before validating each of them', async () => {
      const { post } = setup();
      const response = await post(batchOf(Array.from({ length: 1001 }, () => ({}))));
      expect(response.status).toBe(400);
      expect(response.body.error).toMatch(/at most 1000 events/);
    });

    it('a body larger than the limit, declared or actual: 413', async () => {
      const { post, logged } = setup({ maxBodyBytes: 2_000 });
      const big = batchOf(orgAEvents());
      expect(big.length).toBeGreaterThan(2_000);
      const declared = await post(big, { ...bearer(KEY_A), 'content-length': String(big.length) });
      const undeclared = await post(big);
      for (const response of [declared, undeclared]) {
        expect(response.status).toBe(413);
        expect(response.body.error).toMatch(/2000-byte limit: send fewer events per batch/);
      }
      expect(await logged()).toEqual([]);
    });

    it('a small gzip body that expands beyond the limit: 413', async () => {
      const { post, logged } = setup({ maxBodyBytes: 10_000 });
      const bomb = gzipSync(`{"events":[${' '.repeat(1_000_000)}]}`);
      expect(bomb.length).toBeLessThan(10_000);
      const response = await post(bomb, { ...bearer(KEY_A), 'content-encoding': 'gzip' });
      expect(response.status).toBe(413);
      expect(response.body.error).toMatch(/decompressed body/);
      expect(await logged()).toEqual([]);
    });

    it('a body that claims gzip but is not: 400; an encoding other than gzip: 415', async () => {
      const { post } = setup();
      expect((await post('not gzip', { ...bearer(KEY_A), 'content-encoding': 'gzip' })).status).toBe(400);
      expect((await post(batchOf(orgAEvents()), { ...bearer(KEY_A), 'content-encoding': 'br' })).status).toBe(415);
    });

    it('a wrong or missing API key: 401 telling what to check', async () => {
      const { post, logged } = setup();
      for (const headers of [bearer('wrong-key'), {}, { authorization: KEY_A }]) {
        const response = await post(batchOf(orgAEvents()), headers);
        expect(response.status).toBe(401);
        expect(response.body.error).toMatch(/KM_API_KEY.*km login/);
      }
      expect(await logged()).toEqual([]);
    });

    it('events of another org than the key\'s: 403 naming them, even when the rest of the batch is fine', async () => {
      const { post, logged } = setup();
      const mine = orgAEvents();
      const theirs = interaction(anEnvelope({ orgId: 'org-b' }), '2026-05-01T11:00:00.000Z');
      const response = await post(batchOf([...mine, theirs]));
      expect(response.status).toBe(403);
      expect(response.body.issues).toEqual([{ index: 4, path: 'events[4].orgId', message: expect.stringContaining('org-b') }]);
      expect(await logged()).toEqual([]);
    });

    it('a batch the log cannot take: 503 asking to retry, and the failure is logged', async () => {
      const failingLog: EventLog = Object.assign(new MemoryEventLog(), {
        append: async () => {
          throw new Error('disk full');
        },
      });
      const { post } = setup({ eventLog: failingLog });
      const response = await post(batchOf(orgAEvents()));
      expect(response.status).toBe(503);
      expect(response.body.error).toMatch(/retry later/);
      expect(response.logged.join('\n')).toMatch(/disk full/);
    });
  });

  it("refuses a project key's events naming another project's session, each by index, and takes the rest of its events", async () => {
    const { post, logged, foldSessions } = setup();
    const theirs = aSessionOfEvents(anEnvelope({ orgId: 'org-a', projectId: 'api', sessionId: 'session-of-api' }), '2026-05-01T10:00:00.000Z', 1);
    expect((await post(batchOf(theirs))).status).toBe(202);
    await foldSessions();
    const before = (await logged()).length;
    // The key's own project named, but another project's session: calls, errors or an end in a session it cannot read.
    const forged = aSessionOfEvents(anEnvelope({ orgId: 'org-a', projectId: 'web', sessionId: 'session-of-api' }), '2026-05-01T11:00:00.000Z', 1);
    const mine = aSessionOfEvents(anEnvelope({ orgId: 'org-a', projectId: 'web', sessionId: 'session-of-web' }), '2026-05-01T11:00:00.000Z', 1);
    const refused = await post(batchOf([mine[0], ...forged, ...mine.slice(1)]), bearer(KEY_WEB));
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(/^this API key is scoped to project "web" and 3 event\(s\) name a session of another project of the org/);
    expect(refused.body.issues).toEqual([1, 2, 3].map((index) => ({ index, path: `events[${index}].sessionId`, message: 'session "session-of-api" is another project\'s' })));
    expect((await logged()).length).toBe(before);
    // The shipper quarantines the events named and sends the others again: they are the key's own.
    expect((await post(batchOf(mine), bearer(KEY_WEB))).status).toBe(202);
    // A key of the whole org may write to any of its sessions.
    expect((await post(batchOf(forged))).status).toBe(202);
  });

  it('in embedded mode, takes a request without Authorization as the anonymous org but still refuses a wrong key', async () => {
    const local = new ApiKeyAuthenticator([], { anonymousOrgId: 'local' });
    const { post } = setup({ authenticator: local });
    const events = aSessionOfEvents(anEnvelope({ orgId: 'local' }), '2026-05-01T11:00:00.000Z', 1);
    expect((await post(batchOf(events), {})).status).toBe(202);
    expect((await post(batchOf(events), bearer('wrong'))).status).toBe(401);
  });
});

describe('ingest when the log cannot hold an event', () => {
  it('answers 413 naming the event, so the shipper quarantines it and resends the rest', async () => {
    const events = orgAEvents();
    const tooLarge = events[1]!.id;
    const refusing: EventLog = Object.assign(new MemoryEventLog(), {
      append: async () => {
        throw new EventTooLargeError(tooLarge, 2_000_000);
      },
    });
    const { post } = setup({ eventLog: refusing });
    const { status, body } = await post(batchOf(events));
    expect(status).toBe(413);
    expect((body as { issues: unknown[] }).issues).toEqual([expect.objectContaining({ index: 1, path: 'events[1]' })]);
  });
});
