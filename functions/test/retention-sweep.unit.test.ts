import { interactionsProjection, riskProjection, type InteractionPageDoc, type LoggedEvent, type RiskFindingDoc } from '@km/shared';
import { MemoryEventLog } from '../src/adapters/memory-event-log';
import { MemoryReadModelStore } from '../src/adapters/memory-read-model-store';
import { orgEventsOfLog } from '../src/adapters/log-org-events';
import { auditCheckpoint } from '../src/audit/org-chain';
import { ConcurrencyError, type OrgEventArchive } from '../src/ports';
import { fromEmbeddedLog, projectBatch } from '../src/projector';
import { retentionOf, setRetention, sweepRetention } from '../src/retention/retention';
import { anEnvelope, interaction, stored } from './fixtures';

const NOW = new Date('2026-12-01T00:00:00.000Z');
const OLD = '2026-09-01T00:00:00.000Z';

/** A memory log and store holding `count` old calls of org-a (a batch of 500 each), org-b's between them, interactions folded. */
async function aLog(count: number) {
  const log = new MemoryEventLog();
  const store = new MemoryReadModelStore();
  for (let from = 0; from < count; from += 500) {
    const calls = Array.from({ length: Math.min(500, count - from) }, (_, i) => interaction(anEnvelope({ orgId: 'org-a', sessionId: `s${from}` }), OLD, { requestId: String(from + i), requestPreview: '{"q":1}' }));
    await log.append(stored(calls, `a-${from}`, OLD));
    await log.append(stored([interaction(anEnvelope({ orgId: 'org-b' }), OLD)], `b-${from}`, OLD));
  }
  await projectBatch(interactionsProjection, store, fromEmbeddedLog(await log.read(0, 1_000_000)));
  const deps = { store, append: async (events: LoggedEvent[]) => void (await log.append(events)), now: () => NOW, newBatchId: () => 'settings' };
  await setRetention(deps, 'org-a', { rawEventDays: 30, previewDays: 7 }, 'test');
  return { log, store };
}

/** The archive, with every call it gets recorded. */
function watched(log: MemoryEventLog) {
  const archive = orgEventsOfLog(log);
  const calls = { readOrg: [] as number[], removeEvents: [] as number[] };
  const spy: OrgEventArchive = {
    readOrg: (orgId, after, max) => (calls.readOrg.push(after), archive.readOrg(orgId, after, max)),
    removeEvents: (orgId, ids) => (calls.removeEvents.push(ids.size), archive.removeEvents(orgId, ids)),
  };
  return { spy, calls };
}

/** The org's calls in the log (setRetention logs a retention.set of its own, which no cut takes: it is recent). */
const orgEvents = async (log: MemoryEventLog, orgId: string) => (await log.read(0, 1_000_000)).filter(({ event }) => event.orgId === orgId && event.type === 'mcp.interaction');

describe('the retention sweep', () => {
  it('cuts a large run a chunk at a time (checkpoint, rows, log), so it never holds the whole cut in memory', async () => {
    const { log, store } = await aLog(4100);
    const { spy, calls } = watched(log);
    const swept = await sweepRetention(spy, store, NOW);
    expect(calls.removeEvents).toEqual([2000, 2000, 100]);
    expect(await orgEvents(log, 'org-a')).toEqual([]);
    expect(await orgEvents(log, 'org-b')).toHaveLength(9);
    expect(swept.get('org-a')).toMatchObject({ eventsRemoved: 4100, previewsRemoved: 4100, checkpoint: { seq: 4100 } });
    expect(await auditCheckpoint(store, 'org-a')).toMatchObject({ seq: 4100 });
    const pages = await store.query<InteractionPageDoc>('interactions', 'org-a', {});
    expect(pages.map((page) => page.rows.length)).toEqual(pages.map(() => 0));
  });

  it('after a sweep that ended, reads nothing before its checkpoint again (a big log is not scanned every hour)', async () => {
    const { log, store } = await aLog(600);
    await sweepRetention(orgEventsOfLog(log), store, NOW);
    const checkpoint = (await auditCheckpoint(store, 'org-a'))!;
    const { spy, calls } = watched(log);
    await sweepRetention(spy, store, NOW);
    expect(calls.readOrg.every((after) => after >= checkpoint.position)).toBe(true);
    expect(calls.removeEvents).toEqual([]);
  });

  it('finishes a sweep that stopped after its checkpoint, even when retention was turned off since', async () => {
    const { log, store } = await aLog(2600);
    const failing = { ...orgEventsOfLog(log), removeEvents: () => Promise.reject(new Error('the disk went away')) };
    await expect(sweepRetention(failing, store, NOW)).rejects.toThrow('the disk went away');
    expect(await orgEvents(log, 'org-a')).toHaveLength(2600);
    expect(await auditCheckpoint(store, 'org-a')).toMatchObject({ seq: 2000 });
    const deps = { store, append: async (events: LoggedEvent[]) => void (await log.append(events)), now: () => NOW, newBatchId: () => 'off' };
    await setRetention(deps, 'org-a', { rawEventDays: null, previewDays: null }, 'test');
    await sweepRetention(orgEventsOfLog(log), store, NOW);
    // What the chain already passes over (the first chunk, up to the checkpoint) goes; the rest stays, rows and all.
    const left = await orgEvents(log, 'org-a');
    expect(left.map(({ event }) => (event as { requestId: string }).requestId)).toEqual(Array.from({ length: 600 }, (_, i) => String(2000 + i)));
    expect((await retentionOf(store, 'org-a')).lastSweep).toMatchObject({ eventsRemoved: 2000, checkpoint: { seq: 2000 } });
    const rows = (await store.query<InteractionPageDoc>('interactions', 'org-a', {})).reduce((sum, page) => sum + page.rows.length, 0);
    expect(rows).toBe(600);
  });

  it('counts a page’s previews once when its rewrite met another writer and was made again', async () => {
    const { log, store } = await aLog(3);
    let conflicts = 1;
    const upsert = store.upsert.bind(store);
    store.upsert = async (model, partitionKey, id, doc, ifMatch, positions) => {
      if (model === 'interactions' && conflicts-- > 0) throw new ConcurrencyError(model, id);
      return upsert(model, partitionKey, id, doc, ifMatch, positions);
    };
    const swept = await sweepRetention(orgEventsOfLog(log), store, NOW);
    expect(swept.get('org-a')).toMatchObject({ eventsRemoved: 3, previewsRemoved: 3 });
  });
});

/** The org's documents of a model that the store's queries hand out, counted as the sweep reads them. */
function countedReads(store: MemoryReadModelStore) {
  const read = new Map<string, number>();
  const query = store.query.bind(store);
  store.query = async (model, partitionKey, options) => {
    const docs = await query(model, partitionKey, options);
    read.set(model, (read.get(model) ?? 0) + docs.length);
    return docs;
  };
  return read;
}

const HOUR = 3600_000;
const later = (hours: number) => new Date(NOW.getTime() + hours * HOUR);
const aSecretCall = (ts: string, requestId: string) =>
  interaction(anEnvelope({ orgId: 'org-a' }), ts, { requestId, requestPreview: '{"key":"[REDACTED:aws-access-key-id]"}', findings: [{ ruleId: 'aws-access-key-id', severity: 'critical', path: '$.params.arguments.key' }] });
const foldAll = async (log: MemoryEventLog, store: MemoryReadModelStore, after = 0) => {
  const page = fromEmbeddedLog(await log.read(after, 1_000_000));
  for (const projection of [interactionsProjection, riskProjection]) await projectBatch(projection as never, store, page);
};
const findingsOf = (store: MemoryReadModelStore) => store.query<RiskFindingDoc>('risk', 'org-a', { where: { kind: 'secret', detected: true } });

describe('the preview sweep, hour after hour', () => {
  it('reads again none of the pages and findings an earlier sweep left without previews', async () => {
    const { log, store } = await aLog(1500);
    await log.append(stored([aSecretCall(OLD, 'secret')], 'secret', OLD));
    await foldAll(log, store);
    const first = await sweepRetention(orgEventsOfLog(log), store, NOW);
    expect(first.get('org-a')).toMatchObject({ previewsRemoved: 1502 });
    const read = countedReads(store);
    const next = await sweepRetention(orgEventsOfLog(log), store, later(1));
    expect(next.get('org-a')).toMatchObject({ previewsRemoved: 0 });
    // Every old page and finding used to be read again each hour, for ever.
    expect(read.get('interactions') ?? 0).toBe(0);
    expect(read.get('risk') ?? 0).toBe(0);
  });

  it('clears a page folded after a sweep from a backlog accepted before its cut (the sweep knew the backlog)', async () => {
    const { log, store } = await aLog(0);
    // Accepted long ago, folded only after the first sweep (km serve stopped before its projector had it).
    const { position } = (await log.read(0, 1_000_000)).at(-1)!;
    await log.append(stored([interaction(anEnvelope({ orgId: 'org-a' }), OLD, { requestId: 'late', requestPreview: '{"q":"late"}' })], 'late', OLD));
    await sweepRetention(orgEventsOfLog(log), store, NOW, { unfoldedSince: async () => OLD });
    await foldAll(log, store, position);
    expect((await store.query<InteractionPageDoc>('interactions', 'org-a', {})).flatMap((page) => page.rows).length).toBe(1);
    const swept = await sweepRetention(orgEventsOfLog(log), store, later(1), { unfoldedSince: async () => null });
    expect(swept.get('org-a')).toMatchObject({ previewsRemoved: 1 });
    const rows = (await store.query<InteractionPageDoc>('interactions', 'org-a', {})).flatMap((page) => page.rows);
    expect(rows.map((row) => row.includes('{"q":"late"}'))).toEqual([false]);
  });

  it('clears a finding made long ago that came after a sweep (a call shipped late), by when it was accepted', async () => {
    const { log, store } = await aLog(0);
    await sweepRetention(orgEventsOfLog(log), store, NOW);
    const { position } = (await log.read(0, 1_000_000)).at(-1)!;
    // Made in September, before every cut, accepted now: its own time is older than the cut the last sweep passed.
    await log.append(stored([aSecretCall(OLD, 'shipped-late')], 'late', later(0.5).toISOString()));
    await foldAll(log, store, position);
    expect((await findingsOf(store)).map((finding) => finding.preview)).toEqual(['{"key":"[REDACTED:aws-access-key-id]"}']);
    const swept = await sweepRetention(orgEventsOfLog(log), store, later(1));
    expect(swept.get('org-a')).toMatchObject({ previewsRemoved: 1 });
    expect((await findingsOf(store)).map((finding) => finding.preview)).toEqual([null]);
  });
});

describe('the retention document, written by a PUT and by a sweep at once', () => {
  it("keeps a setting changed while a sweep writes its lastSweep, and the sweep's lastSweep", async () => {
    const { log, store } = await aLog(10);
    const deps = { store, append: async (events: LoggedEvent[]) => void (await log.append(events)), now: () => NOW, newBatchId: () => 'put' };
    // The PUT lands between the sweep's last read of the document and its write.
    const racing = Object.create(store) as MemoryReadModelStore;
    let put: Promise<unknown> | null = null;
    racing.upsert = async (...args: Parameters<MemoryReadModelStore['upsert']>) => {
      const [, , id, doc] = args;
      if (id === 'retention' && (doc as { lastSweep?: unknown }).lastSweep && !put) {
        put = setRetention(deps, 'org-a', { rawEventDays: 90, previewDays: 30 }, 'admin');
        await put;
      }
      return store.upsert(...args);
    };
    await sweepRetention(orgEventsOfLog(log), racing, NOW);
    expect(put).not.toBeNull();
    // Before, the sweep wrote back the setting it had read: 30 and 7 again, the admin's change lost.
    expect(await retentionOf(store, 'org-a')).toMatchObject({ rawEventDays: 90, previewDays: 30, updatedBy: 'admin', lastSweep: { eventsRemoved: 10 } });
  });
});
