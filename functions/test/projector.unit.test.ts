import { interactionsProjection, readInteractionDocs, sessionsProjection, sessionView, type SessionDoc, type StoredEvent } from '@km/shared';
import { MemoryEventLog } from '../src/adapters/memory-event-log';
import { MemoryReadModelStore } from '../src/adapters/memory-read-model-store';
import { ConcurrencyError, type ReadModelStore } from '../src/ports';
import { fromEmbeddedLog, projectBatch, runProjectorOnce } from '../src/projector';
import { anEnvelope, interaction, positioned, sessionEnded, sessionStarted, stored } from './fixtures';

/** A session of org `orgId`: started at :00, two tool calls (one failing), ended at :10. */
function sessionEvents(orgId = 'org-a', sessionId = 'session-1'): StoredEvent[] {
  const envelope = anEnvelope({ orgId, sessionId });
  return stored([
    sessionStarted(envelope, '2026-03-01T10:00:00.000Z'),
    interaction(envelope, '2026-03-01T10:00:01.000Z', { requestId: '1' }),
    interaction(envelope, '2026-03-01T10:00:02.000Z', { requestId: '2', outcome: 'tool_error' }),
    sessionEnded(envelope, '2026-03-01T10:00:10.000Z', { exitCode: 0, durationMs: 10_000 }),
  ]);
}

const expectedSession = (orgId = 'org-a') =>
  expect.objectContaining({
    id: 'session-1',
    orgId,
    startedAt: '2026-03-01T10:00:00.000Z',
    firstSeenAt: '2026-03-01T10:00:00.000Z',
    lastActivityAt: '2026-03-01T10:00:10.000Z',
    endedAt: '2026-03-01T10:00:10.000Z',
    exitCode: 0,
    durationMs: 10_000,
    interactionCount: 2,
    errorCount: 1,
    toolCallCount: 2,
  });

async function sessionDoc(store: ReadModelStore, orgId = 'org-a') {
  const found = await store.get<SessionDoc>('sessions', orgId, 'session-1');
  return found && sessionView(found.doc);
}

describe('projectBatch', () => {
  it('given a session shuffled and with duplicates, when projected in one batch, then one document counts each event once', async () => {
    const store = new MemoryReadModelStore();
    const [started, first, second, ended] = positioned(sessionEvents());
    const result = await projectBatch(sessionsProjection, store, [ended!, second!, first!, second!, started!, ended!]);
    expect(result).toEqual({ written: 1, folded: 6 });
    expect(await sessionDoc(store)).toEqual(expectedSession());
  });

  it('given the same events split across batches and replayed, then the document is the same as from one batch', async () => {
    const store = new MemoryReadModelStore();
    const [started, first, second, ended] = positioned(sessionEvents());
    await projectBatch(sessionsProjection, store, [first!, started!]);
    await projectBatch(sessionsProjection, store, [first!, second!]);
    await projectBatch(sessionsProjection, store, [ended!]);
    await projectBatch(sessionsProjection, store, [started!, first!, second!, ended!]);
    expect(await sessionDoc(store)).toEqual(expectedSession());
  });

  it('given a batch that was already projected, when replayed, then nothing is rewritten', async () => {
    const store = new MemoryReadModelStore();
    const events = positioned(sessionEvents());
    await projectBatch(sessionsProjection, store, events);
    const etag = (await store.get('sessions', 'org-a', 'session-1'))!.etag;
    expect(await projectBatch(sessionsProjection, store, events)).toEqual({ written: 0, folded: 4 });
    expect((await store.get('sessions', 'org-a', 'session-1'))!.etag).toBe(etag);
  });

  it('given two orgs using the same session id, then each org gets its own document in its own partition', async () => {
    const store = new MemoryReadModelStore();
    const fromB = sessionEvents('org-b').slice(0, 2);
    await projectBatch(sessionsProjection, store, positioned([...sessionEvents('org-a'), ...fromB]));
    expect(await sessionDoc(store, 'org-a')).toEqual(expectedSession('org-a'));
    expect(await sessionDoc(store, 'org-b')).toEqual(
      expect.objectContaining({ orgId: 'org-b', interactionCount: 1, endedAt: null }),
    );
  });

  it('given a session, then the interactions read model holds each interaction once, in one page of its batch, and skips the rest', async () => {
    const store = new MemoryReadModelStore();
    const events = sessionEvents();
    expect(await projectBatch(interactionsProjection, store, positioned(events))).toEqual({ written: 1, folded: 2 });
    const docs = readInteractionDocs(await store.query('interactions', 'org-a')).sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    expect(docs.map((doc) => [doc.id, doc.requestId])).toEqual([
      [events[1]!.id, '1'],
      [events[2]!.id, '2'],
    ]);
  });

  it('when another writer changes the document between read and write, then it re-reads and folds onto the newer one', async () => {
    const inner = new MemoryReadModelStore();
    const [started, first, second, ended] = positioned(sessionEvents());
    let interfered = false;
    const racingStore: ReadModelStore = {
      get: (...args) => inner.get(...args),
      query: (...args) => inner.query(...args),
      close: () => inner.close(),
      async upsert(model, pk, id, doc, ifMatch, positions) {
        if (!interfered) {
          interfered = true;
          // another replica, reading the same log from the same checkpoint, wins the race with a shorter page
          await projectBatch(sessionsProjection, inner, [started!, first!]);
        }
        return inner.upsert(model, pk, id, doc, ifMatch, positions);
      },
    };
    await projectBatch(sessionsProjection, racingStore, [started!, first!, second!, ended!]);
    expect(interfered).toBe(true);
    expect(await sessionDoc(inner)).toEqual(expectedSession());
  });

  it('when the document keeps changing under it, then it gives up with the ConcurrencyError', async () => {
    const inner = new MemoryReadModelStore();
    const alwaysStale: ReadModelStore = {
      get: (...args) => inner.get(...args),
      query: (...args) => inner.query(...args),
      close: () => inner.close(),
      upsert: async (model, _pk, id) => {
        throw new ConcurrencyError(model, id);
      },
    };
    await expect(projectBatch(sessionsProjection, alwaysStale, positioned(sessionEvents()))).rejects.toBeInstanceOf(ConcurrencyError);
  });
});

describe('runProjectorOnce', () => {
  it('projects from the checkpoint, at most maxBatch events a run, and moves the checkpoint', async () => {
    const log = new MemoryEventLog();
    const store = new MemoryReadModelStore();
    await log.append(sessionEvents());
    expect(await runProjectorOnce(sessionsProjection, log, store, 3)).toBe(3);
    expect(await sessionDoc(store)).toEqual(expect.objectContaining({ interactionCount: 2, endedAt: null }));
    expect(await runProjectorOnce(sessionsProjection, log, store, 3)).toBe(1);
    expect(await runProjectorOnce(sessionsProjection, log, store, 3)).toBe(0);
    expect(await sessionDoc(store)).toEqual(expectedSession());
    const positions = (await log.read(0, 10)).map((entry) => entry.position);
    expect(await log.getCheckpoint('sessions')).toBe(positions[3]);
    expect(await log.getCheckpoint('interactions')).toBe(0);
  });

  it('given a crash after the write but before the checkpoint, when run again, then the replay changes nothing', async () => {
    const log = new MemoryEventLog();
    const store = new MemoryReadModelStore();
    const events = sessionEvents();
    await log.append(events);
    await projectBatch(sessionsProjection, store, fromEmbeddedLog(await log.read(0, 100))); // the write happened, the checkpoint did not
    expect(await runProjectorOnce(sessionsProjection, log, store, 100)).toBe(4);
    expect(await sessionDoc(store)).toEqual(expectedSession());
  });
});

describe('an event that makes a fold throw', () => {
  it('is skipped and reported, and the rest of the batch is still folded (a retry could never succeed)', async () => {
    const store = new MemoryReadModelStore();
    const events = positioned(sessionEvents());
    const poison = events[1]!.event.id;
    // The batch fold throws on the batch holding it, and the one-event fold on it alone.
    const fragile = {
      ...sessionsProjection,
      evolve: (state: SessionDoc | null, event: Parameters<typeof sessionsProjection.evolve>[1], docId: string) => {
        if (event.id === poison) throw new Error('cannot fold this one');
        return sessionsProjection.evolve(state, event, docId);
      },
      evolveBatch: (state: SessionDoc | null, batch: ReadonlyArray<Parameters<typeof sessionsProjection.evolve>[1]>, docId: string) => {
        if (batch.some((event) => event.id === poison)) throw new Error('cannot fold this one');
        return sessionsProjection.evolveBatch!(state, batch, docId);
      },
    };
    const errors = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let reported = '';
    try {
      await projectBatch(fragile, store, events);
      reported = errors.mock.calls.map((call) => String(call[0])).join('');
    } finally {
      errors.mockRestore();
    }
    const doc = (await store.get<SessionDoc>(sessionsProjection.name, 'org-a', 'session-1'))!.doc;
    expect(doc).toMatchObject({ interactionCount: 1, endedAt: '2026-03-01T10:00:10.000Z' });
    expect(reported).toContain(`skipped event ${poison}`);
  });
});
