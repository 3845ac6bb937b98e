import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiKeyAuthenticator, hashApiKey } from '../src/adapters/api-key-authenticator';
import { MemoryReadModelStore } from '../src/adapters/memory-read-model-store';
import { openSqliteDatabase } from '../src/adapters/sqlite-database';
import { SqliteEventLog } from '../src/adapters/sqlite-event-log';
import { makeIngestHandler } from '../src/handlers/ingest';
import { KeyDirectory } from '../src/keys/key-directory';
import { aSessionOfEvents, anEnvelope } from './fixtures';
import { anHttpRequest, anInvocationContext, bearer } from './http-fixtures';

const KEY_A = 'key-of-org-a';
const authenticator = new ApiKeyAuthenticator([{ keyHash: hashApiKey(KEY_A), orgId: 'org-a' }]);
const NOW = new Date('2026-05-01T12:00:00.000Z');

describe('ingest stamps after what km.db holds', () => {
  it('goes on from the latest batch even when the last block is a server event stamped by the set-back clock', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'km-arrival-'));
    try {
      const file = join(dir, 'km.db');
      const stamps: string[] = [];
      for (const [i, now] of [NOW, new Date(NOW.getTime() - 3_600_000)].entries()) {
        const db = openSqliteDatabase(file);
        const eventLog = new SqliteEventLog(db);
        const readModelStore = new MemoryReadModelStore();
        // The restarted km serve: before its first ingest batch, someone makes a key (a server event, receivedAt = its ts).
        if (i === 1) {
          const keys = new KeyDirectory(readModelStore, async (events) => void (await eventLog.append(events)), () => now, () => 'srv');
          await keys.create({ orgId: 'org-a', role: 'member', projectId: null, label: null, actor: 'cli' });
        }
        const handler = makeIngestHandler({ eventLog, readModelStore, authenticator, now: () => now, newBatchId: () => `b-${i}` });
        const body = JSON.stringify({ events: aSessionOfEvents(anEnvelope({ orgId: 'org-a', sessionId: `s-${i}` }), '2026-05-01T10:00:00.000Z', 1) });
        const response = await handler(anHttpRequest({ method: 'POST', path: '/api/ingest', body, headers: bearer(KEY_A) }), anInvocationContext('ingest'));
        expect(response.status).toBe(202);
        const events = (await eventLog.read(0, 100)).map((entry) => entry.event);
        stamps.push(events[events.length - 1]!.receivedAt);
        db.close();
      }
      // The second batch must not sort before the first (NOW).
      expect(Date.parse(stamps[1]!)).toBeGreaterThan(Date.parse(stamps[0]!));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SqliteEventLog.lastReceivedAt', () => {
  it('still knows the latest stamp after retention removed the last block', async () => {
    const log = new SqliteEventLog(':memory:');
    const at = (ms: number) => new Date(NOW.getTime() + ms).toISOString();
    const [a] = aSessionOfEvents(anEnvelope({ orgId: 'org-a', sessionId: 's-a' }), '2026-05-01T10:00:00.000Z', 1);
    const [b] = aSessionOfEvents(anEnvelope({ orgId: 'org-b', sessionId: 's-b' }), '2026-05-01T10:00:00.000Z', 1);
    await log.append([{ ...a!, receivedAt: at(0), batchId: 'b1' }]);
    await log.append([{ ...b!, receivedAt: at(60_000), batchId: 'b2' }]);
    expect(log.lastReceivedAt()).toBe(NOW.getTime() + 60_000);
    // org-b's retention sweep takes its (expired) events out: the last block goes.
    await log.removeEvents('org-b', new Set([b!.id]));
    // Else a batch stamped from here could sort before the events just cut.
    expect(log.lastReceivedAt()).toBe(NOW.getTime() + 60_000);
  });
});

describe('a clock once set forward', () => {
  it('does not pin every later process to a future stamp', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'km-arrival-fwd-'));
    try {
      const file = join(dir, 'km.db');
      const stamps: string[] = [];
      // A km serve with its clock a year ahead (then corrected), then km serve restarted with the right time.
      for (const [i, now] of [new Date(NOW.getTime() + 365 * 86_400_000), NOW].entries()) {
        const db = openSqliteDatabase(file);
        const eventLog = new SqliteEventLog(db);
        const handler = makeIngestHandler({ eventLog, readModelStore: new MemoryReadModelStore(), authenticator, now: () => now, newBatchId: () => `b-${i}` });
        const body = JSON.stringify({ events: aSessionOfEvents(anEnvelope({ orgId: 'org-a', sessionId: `s-${i}` }), '2026-05-01T10:00:00.000Z', 1) });
        expect((await handler(anHttpRequest({ method: 'POST', path: '/api/ingest', body, headers: bearer(KEY_A) }), anInvocationContext('ingest'))).status).toBe(202);
        const events = (await eventLog.read(0, 100)).map((entry) => entry.event);
        stamps.push(events[events.length - 1]!.receivedAt);
        db.close();
      }
      // Not 2027-05-01T12:00:00.001Z: retention (by receivedAt) and the preview sweep would pass over it, and every batch after, for a year.
      expect(stamps[1]).toBe(NOW.toISOString());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
