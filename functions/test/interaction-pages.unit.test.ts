import fc from 'fast-check';
import {
  LARGE_PAGES,
  MAIN_PAGE_MAX_EVENT_BYTES,
  MAX_SESSION_PAGES,
  interactionsProjection,
  pageInteractions,
  readInteractionDocs,
  type InteractionDoc,
  type InteractionPageDoc,
  type KmEvent,
  type StoredEvent,
  withoutInteractions,
} from '@km/shared';
import { ApiKeyAuthenticator, hashApiKey } from '../src/adapters/api-key-authenticator';
import { MemoryEventLog } from '../src/adapters/memory-event-log';
import { MemoryReadModelStore } from '../src/adapters/memory-read-model-store';
import { makeIngestHandler } from '../src/handlers/ingest';
import type { HttpHandler } from '../src/handlers/http-results';
import { makeQueryRecentInteractionsHandler } from '../src/handlers/query-recent-interactions';
import { makeQuerySessionInteractionsHandler } from '../src/handlers/query-session-interactions';
import { projectBatch, runProjectorsOnce } from '../src/projector';
import { readModels } from '../src/read-models';
import { anEnvelope, interaction, positioned, stored } from './fixtures';
import { anHttpRequest, anInvocationContext, bearer } from './http-fixtures';

const authenticator = new ApiKeyAuthenticator([{ keyHash: hashApiKey('key-a'), orgId: 'org-a' }]);
const T0 = Date.parse('2026-11-25T09:00:00.000Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

/** A store the read models were projected into, in projector pages of `pageSize` (which need not align with batches). */
function aStack() {
  const readModelStore = new MemoryReadModelStore();
  const deps = { readModelStore, authenticator };
  const call = async (handler: HttpHandler, path: string, params: Record<string, string> = {}) => {
    const response = await handler(anHttpRequest({ path, params, headers: bearer('key-a') }), anInvocationContext());
    return { status: response.status, body: response.jsonBody };
  };
  return {
    store: readModelStore,
    async project(events: StoredEvent[], pageSize = 500) {
      for (let i = 0; i < events.length; i += pageSize) {
        const page = positioned(events.slice(i, i + pageSize));
        for (const projection of readModels) await projectBatch(projection, readModelStore, page);
      }
    },
    interactions: (id: string, query = '') => call(makeQuerySessionInteractionsHandler(deps), `/api/sessions/${encodeURIComponent(id)}/interactions${query}`, { id }),
    recent: (query = '') => call(makeQueryRecentInteractionsHandler(deps), `/api/interactions/recent${query}`),
  };
}

/** `batches` ingest batches of `perBatch` calls each, two sessions interleaved, received one second apart. */
function interleavedBatches(batches: number, perBatch: number, sessions = ['s-one', 's-two']): StoredEvent[] {
  const envelopes = sessions.map((sessionId, i) => anEnvelope({ orgId: 'org-a', sessionId, projectId: `p${i}`, userId: `u${i}` }));
  const events: StoredEvent[] = [];
  let n = 0;
  for (let b = 0; b < batches; b++) {
    const batch: KmEvent[] = [];
    for (let i = 0; i < perBatch; i++, n++) {
      // start times run backwards now and then: start order is not arrival order
      batch.push(interaction(envelopes[n % envelopes.length]!, at(n % 7 === 3 ? n - 5 : n), { requestId: String(n) }));
    }
    events.push(...stored(batch, `batch-${b}`, at(10_000 + b)));
  }
  return events;
}

const ids = (interactions: Array<{ id: string }>) => interactions.map((i) => i.id);
const byStart = (a: { startedAt: string; id: string }, b: { startedAt: string; id: string }) => a.startedAt.localeCompare(b.startedAt) || a.id.localeCompare(b.id);
const byArrival = (a: StoredEvent, b: StoredEvent) => a.receivedAt.localeCompare(b.receivedAt) || a.id.localeCompare(b.id);

describe('interaction pages', () => {
  it('given a session spanning many batches, folded in projector pages that split them, then it reads back complete and in start order', async () => {
    const stack = aStack();
    const events = interleavedBatches(40, 25);
    await stack.project(events, 37);
    const pages = await stack.store.query<InteractionPageDoc>('interactions', 'org-a');
    expect(pages).toHaveLength(40);
    const mine = events.filter((e) => e.sessionId === 's-one').sort(byStart);
    const { status, body } = await stack.interactions('s-one', '?limit=5000');
    expect(status).toBe(200);
    expect(ids(body.interactions)).toEqual(ids(mine));
    // the answer is the interaction as it was recorded, envelope and ingest fields included
    const { type: _type, v: _v, ts, ...fields } = mine[0] as StoredEvent & { type: string };
    expect(body.interactions[0]).toEqual({ ...fields, recordedAt: ts });
    expect(ids((await stack.interactions('s-one', '?limit=3')).body.interactions)).toEqual(ids(mine.slice(0, 3)));
  });

  it('reads every call of a session longer than the batches its document lists (km ships every second: 256 batches is 4 minutes)', async () => {
    const stack = aStack();
    const envelope = anEnvelope({ orgId: 'org-a', sessionId: 's-long' });
    const batches = MAX_SESSION_PAGES + 44;
    const events = Array.from({ length: batches }, (_, b) => stored([interaction(envelope, at(b), { requestId: String(b) })], `long-${b}`, at(10_000 + b))).flat();
    // Another session's batch in between.
    const other = stored([interaction(anEnvelope({ orgId: 'org-a', sessionId: 's-other' }), at(5), { requestId: 'o' })], 'other', at(10_005));
    await stack.project([...events, ...other], 37);
    const { body } = await stack.interactions('s-long', '?limit=5000');
    // Before, the answer stopped at the 256th batch, and nothing said so.
    expect(ids(body.interactions)).toEqual(ids(events));
    expect(ids((await stack.interactions('s-long', '?limit=10')).body.interactions)).toEqual(ids(events.slice(0, 10)));
    expect(ids((await stack.interactions('s-other', '?limit=5000')).body.interactions)).toEqual(ids(other));
  });

  it('lists requests sent in one write (the same startedAt) in the order of their JSON-RPC ids, whatever their event ids', async () => {
    const stack = aStack();
    const envelope = anEnvelope({ orgId: 'org-a', sessionId: 's-burst' });
    // Event ids made in the opposite order of the requests (they are derived when the answer comes).
    const calls = [
      ['initialize', '0'],
      ['tools/list', '1'],
      ['tools/call', '2'],
      ['tools/call', '10'],
      ['tools/call', '"c-a"'],
      ['tools/call', '"c-b"'],
    ].map(([method, requestId]) => interaction(envelope, at(1), { method, requestId }));
    const ids = calls.map((call) => call.id).sort().reverse();
    await stack.project(stored(calls.map((call, i) => ({ ...call, id: ids[i]! })), 'burst', at(2)));
    const { body } = await stack.interactions('s-burst');
    expect(body.interactions.map((call: InteractionDoc) => call.requestId)).toEqual(['0', '1', '2', '10', '"c-a"', '"c-b"']);
  });

  it('when km tail polls with its cursor across pages, then it sees every interaction once, in arrival order', async () => {
    const stack = aStack();
    const events = interleavedBatches(12, 30);
    const seen: string[] = [];
    let cursor: string | null = null;
    // the batches arrive while km tail polls
    for (let b = 0; b < 12; b += 3) {
      await stack.project(events.slice(b * 30, (b + 3) * 30), 45);
      for (let poll = 0; poll < 30; poll++) {
        const { body } = await stack.recent(`?limit=7${cursor ? `&after=${cursor}` : ''}`);
        if (cursor === null) {
          // the first poll shows the newest 7; walk from the very start instead, as a cursor of nothing
          cursor = Buffer.from(JSON.stringify(['', ''])).toString('base64url');
          continue;
        }
        expect(body.missed).toBe(false);
        seen.push(...ids(body.interactions));
        cursor = body.cursor;
        if (body.interactions.length === 0) break;
      }
    }
    expect(seen).toEqual(ids([...events].sort(byArrival)));
  });

  it('sees a batch the API took in the same millisecond as the last one polled, whatever its ids (km tail through ingest)', async () => {
    const eventLog = new MemoryEventLog();
    const readModelStore = new MemoryReadModelStore();
    // One clock reading for every request: batches accepted within a millisecond.
    const deps = { eventLog, readModelStore, authenticator, now: () => new Date(T0), newBatchId: (() => { let n = 0; return () => `b${n++}`; })() };
    const ingest = makeIngestHandler(deps);
    const post = async (events: KmEvent[]) => (await ingest(anHttpRequest({ method: 'POST', path: '/api/ingest', body: JSON.stringify({ events }), headers: bearer('key-a') }), anInvocationContext())).status;
    const fold = async () => {
      while ((await runProjectorsOnce(readModels, eventLog, readModelStore, 500)).handled > 0);
    };
    const recent = async (query: string) => (await makeQueryRecentInteractionsHandler({ readModelStore, authenticator })(anHttpRequest({ path: `/api/interactions/recent${query}`, headers: bearer('key-a') }), anInvocationContext())).jsonBody as any;
    // The second batch's event has the lower id.
    const [earlier, later] = [interaction(anEnvelope({ orgId: 'org-a', sessionId: 's-a' }), at(1)), interaction(anEnvelope({ orgId: 'org-a', sessionId: 's-b' }), at(1))].sort((a, b) => (a.id < b.id ? -1 : 1)) as [KmEvent, KmEvent];
    expect(await post([later])).toBe(202);
    await fold();
    const first = await recent('');
    expect(ids(first.interactions)).toEqual([later.id]);
    expect(await post([earlier])).toBe(202);
    await fold();
    // Before, the second batch had the first's receivedAt and sorted before the cursor by id: never shown, not missed.
    expect(await recent(`?after=${first.cursor}`)).toMatchObject({ interactions: [expect.objectContaining({ id: earlier.id })], missed: false });
  });

  it('given more interactions than the live window, then a cursor older than the window says missed', async () => {
    const stack = aStack();
    await stack.project(interleavedBatches(3, 500));
    const oldest = Buffer.from(JSON.stringify(['', ''])).toString('base64url');
    const { body } = await stack.recent(`?limit=5&after=${oldest}`);
    expect(body.missed).toBe(true);
    expect(body.interactions).toHaveLength(5);
    const newest = (await stack.recent('?limit=5')).body;
    expect(newest.missed).toBe(false);
    expect((await stack.recent(`?after=${newest.cursor}`)).body).toMatchObject({ interactions: [], missed: false });
  });

  it('filters km tail by project and user after reading the pages', async () => {
    const stack = aStack();
    const events = interleavedBatches(3, 20);
    await stack.project(events);
    const { body } = await stack.recent('?limit=500&projectId=p1');
    expect(ids(body.interactions)).toEqual(ids(events.filter((e) => e.projectId === 'p1').sort(byArrival)));
    expect((await stack.recent('?limit=500&userId=u0&projectId=p1')).body.interactions).toEqual([]);
  });

  it.each(['__proto__', 'constructor', 'toString'])('keeps a session and a tool named %s like any other', async (name) => {
    const stack = aStack();
    const envelope = anEnvelope({ orgId: 'org-a', sessionId: name, server: { name, command: name } });
    const events = stored([interaction(envelope, at(1), { target: name }), interaction(envelope, at(2), { target: name, requestId: '2' })], name, at(5));
    await stack.project(events);
    const { status, body } = await stack.interactions(name);
    expect(status).toBe(200);
    expect(body.interactions.map((i: InteractionDoc) => [i.sessionId, i.target, i.server.name])).toEqual([
      [name, name, name],
      [name, name, name],
    ]);
    expect(Object.getPrototypeOf(body.interactions[0])).toBe(Object.prototype);
  });

  it('folds a batch at once to the same page as one by one, in any order', () => {
    const events = interleavedBatches(1, 60, ['a', 'b', 'c']);
    const docId = interactionsProjection.docIds(events[0]!)[0]!;
    const oneByOne = events.reduce<InteractionPageDoc | null>((page, event) => interactionsProjection.evolve(page, event, docId), null);
    expect(interactionsProjection.evolveBatch!(null, events, docId)).toEqual(oneByOne);
    const reversed = [...events].reverse();
    expect(interactionsProjection.evolveBatch!(null, reversed.slice(0, 20), docId)).not.toEqual(oneByOne);
    const halves = interactionsProjection.evolveBatch!(interactionsProjection.evolveBatch!(null, reversed.slice(0, 20), docId), reversed.slice(20), docId);
    expect(halves).toEqual(oneByOne);
    // a replay of a folded event changes nothing
    expect(interactionsProjection.evolveBatch!(halves, events.slice(5, 9), docId)).toEqual(oneByOne);
    expect(pageInteractions(oneByOne!)).toHaveLength(60);
  });

  it('a page without some of its interactions (retention) equals the page of the others, refused and abandoned ids and envelopes included (fast-check)', () => {
    const events = interleavedBatches(1, 24, ['a', 'b', 'c', 'd']).map((event, i) =>
      event.type === 'mcp.interaction' ? { ...event, ...(i % 5 === 1 ? { refusedByPolicy: true } : {}), ...(i % 7 === 2 ? { abandoned: true } : {}) } : event,
    );
    const docId = interactionsProjection.docIds(events[0]!)[0]!;
    const page = interactionsProjection.evolveBatch!(null, events, docId)!;
    fc.assert(
      fc.property(fc.subarray(events, { minLength: 1 }), (removed) => {
        const ids = new Set(removed.map((event) => event.id));
        const left = events.filter((event) => !ids.has(event.id));
        const expected = left.length > 0 ? interactionsProjection.evolveBatch!(null, left, docId) : { ...page, envelopes: [], rows: [], refused: undefined, abandoned: undefined };
        expect(JSON.parse(JSON.stringify(withoutInteractions(page, ids)))).toEqual(JSON.parse(JSON.stringify(expected)));
      }),
    );
    expect(withoutInteractions(page, new Set(['not-on-this-page']))).toBeNull();
  });

  it('puts large events on the pages of their batch beside the main one, and reads them back', async () => {
    const stack = aStack();
    const envelope = anEnvelope({ orgId: 'org-a', sessionId: 's-large' });
    const big = 'x'.repeat(3900);
    const events = stored(
      Array.from({ length: 40 }, (_, i) => interaction(envelope, at(i), { requestId: String(i), ...(i % 2 ? { requestPreview: big, responsePreview: big } : {}) })),
      'b-large',
      at(100),
    );
    const pageIds = new Set(events.flatMap((e) => interactionsProjection.docIds(e)));
    expect(pageIds.size).toBeGreaterThan(1);
    expect(pageIds.size).toBeLessThanOrEqual(1 + LARGE_PAGES);
    expect(interactionsProjection.docIds(events[0]!)).toEqual([`${at(100)}|b-large`]);
    expect(JSON.stringify(events[1]).length).toBeGreaterThan(MAIN_PAGE_MAX_EVENT_BYTES);
    await stack.project(events);
    expect(ids((await stack.interactions('s-large')).body.interactions)).toEqual(ids(events));
    expect(ids((await stack.recent('?limit=500')).body.interactions)).toEqual(ids([...events].sort(byArrival)));
  });

  it('still reads the one-per-interaction documents written before pages', async () => {
    const stack = aStack();
    const envelope = anEnvelope({ orgId: 'org-a', sessionId: 's-old' });
    const [older, newer] = stored([interaction(envelope, at(1)), interaction(envelope, at(2), { requestId: '2' })], 'b-old', at(3));
    const { type: _t, v: _v, ts, ...fields } = older as StoredEvent & { type: string };
    await stack.store.upsert('interactions', 'org-a', older!.id, { ...fields, recordedAt: ts });
    await stack.project([newer!]);
    expect(readInteractionDocs(await stack.store.query('interactions', 'org-a'))).toHaveLength(2);
    expect(ids((await stack.interactions('s-old')).body.interactions)).toEqual([older!.id, newer!.id]);
    expect(ids((await stack.recent('?limit=10')).body.interactions).sort()).toEqual([older!.id, newer!.id].sort());
  });
});
