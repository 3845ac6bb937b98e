import fc from 'fast-check';
import type { Projection, StoredEvent } from '@km/shared';
import { MemoryEventLog } from '../src/adapters/memory-event-log';
import { MemoryReadModelStore } from '../src/adapters/memory-read-model-store';
import type { ReadModelStore } from '../src/ports';
import { fromEmbeddedLog, projectBatch, type PositionedEvent } from '../src/projector';
import { startProjectorLoop } from '../src/host/projector-loop';
import { readModels } from '../src/read-models';
import { anEnvelope, interaction, sessionEnded, stored } from './fixtures';

/**
 * Batch folds with replay protection by log position (issue 11): whatever the batch splits, replays after a crash,
 * order within a batch and racing replicas, the documents equal a from-scratch fold of the distinct events.
 */
const ORGS = ['org-a', 'org-b'];
const sessions = ORGS.flatMap((orgId) => [0, 1, 2].map((i) => anEnvelope({ orgId, sessionId: `s-${i}`, projectId: `p-${i % 2}`, userId: `u-${i}` })));

const anEvent = fc
  .record({
    session: fc.nat({ max: sessions.length - 1 }),
    minute: fc.nat({ max: 180 }),
    latencyMs: fc.integer({ min: 0, max: 5000 }),
    outcome: fc.constantFrom('ok', 'error', 'tool_error'),
    tool: fc.constantFrom('echo', 'search', 'write_file'),
    end: fc.boolean(),
  })
  .map(({ session, minute, latencyMs, outcome, tool, end }) => {
    const envelope = sessions[session]!;
    const at = new Date(Date.UTC(2026, 9, 1, 10, minute)).toISOString();
    if (end && minute % 7 === 0) return sessionEnded(envelope, at, { durationMs: minute * 1000 });
    return interaction(envelope, at, {
      latencyMs,
      outcome: outcome as 'ok',
      error: outcome === 'error' ? { code: -32603, message: 'boom' } : null,
      target: tool,
      costUsd: latencyMs / 1e6,
      findings: latencyMs % 5 === 0 ? [{ ruleId: 'email', severity: 'low', path: '$.params' }] : [],
    });
  });

/** The log of these events, as a projector reads it; a session ends once (the wrapper sends one session.ended). */
async function logOf(events: StoredEvent[]): Promise<PositionedEvent[]> {
  const log = new MemoryEventLog();
  const ended = new Set<string>();
  await log.append(events.filter((event) => event.type !== 'session.ended' || (!ended.has(event.orgId + event.sessionId) && ended.add(event.orgId + event.sessionId))));
  return fromEmbeddedLog(await log.read(0, events.length + 1));
}

/** Every document of every read model, keyed by model, org and id (compared as values: key order is not meaning). */
async function documents(store: ReadModelStore): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const projection of readModels) {
    for (const orgId of ORGS) {
      for (const doc of await store.query<{ id: string }>(projection.name, orgId)) out[`${projection.name}/${orgId}/${doc.id}`] = doc;
    }
  }
  return out;
}

async function projectAll(store: ReadModelStore, batches: PositionedEvent[][]): Promise<void> {
  for (const batch of batches) for (const projection of readModels) await projectBatch(projection as Projection<unknown>, store, batch);
}

async function fromScratch(entries: PositionedEvent[]): Promise<Record<string, unknown>> {
  const store = new MemoryReadModelStore();
  await projectAll(store, [entries]);
  return documents(store);
}

/** Cuts the log into consecutive batches at the given points. */
function split<T>(items: T[], cuts: number[]): T[][] {
  const points = [...new Set(cuts.map((c) => c % (items.length + 1)))].sort((a, b) => a - b);
  const batches: T[][] = [];
  let from = 0;
  for (const point of [...points, items.length]) {
    if (point > from) batches.push(items.slice(from, point));
    from = Math.max(from, point);
  }
  return batches;
}

describe('projectBatch over a log', () => {
  it('given a batch folded at once, then the documents equal the same events folded one by one', async () => {
    const entries = await logOf(stored(fc.sample(anEvent, { numRuns: 60, seed: 11 })));
    const oneByOne = new MemoryReadModelStore();
    await projectAll(oneByOne, entries.map((entry) => [entry]));
    expect(await documents(oneByOne)).toEqual(await fromScratch(entries));
  });

  it('given a crash after the write and before the checkpoint, then a replay of any suffix changes nothing', async () => {
    const entries = await logOf(stored(fc.sample(anEvent, { numRuns: 40, seed: 5 })));
    const expected = await fromScratch(entries);
    for (const from of [0, 1, 13, 39]) {
      const store = new MemoryReadModelStore();
      await projectAll(store, [entries]);
      await projectAll(store, [entries.slice(from)]);
      expect(await documents(store)).toEqual(expected);
    }
  });

  it('given the events of one org out of order within a batch, then the documents are the same', async () => {
    const entries = await logOf(stored(fc.sample(anEvent, { numRuns: 50, seed: 3 })));
    const shuffled = fc.sample(fc.shuffledSubarray(entries, { minLength: entries.length }), { numRuns: 1, seed: 8 })[0]!;
    expect(shuffled).not.toEqual(entries);
    expect(await fromScratch(shuffled)).toEqual(await fromScratch(entries));
  });

  it('given two projector replicas racing on the same documents (ETag conflicts), then nothing is lost or counted twice', async () => {
    const entries = await logOf(stored(fc.sample(anEvent, { numRuns: 40, seed: 21 })));
    const inner = new MemoryReadModelStore();
    let conflicts = 0;
    const counting: ReadModelStore = {
      get: (...args) => inner.get(...args),
      query: (...args) => inner.query(...args),
      upsert: (...args) => inner.upsert(...args),
      close: () => inner.close(),
      async upsertMany(model, writes) {
        const outcomes = await inner.upsertMany(model, writes);
        conflicts += outcomes.filter((outcome) => 'conflict' in outcome).length;
        return outcomes;
      },
    };
    // Both read the same log from the same checkpoint, one in pages of 7, the other in pages of 16.
    await Promise.all([projectAll(counting, split(entries, [7, 14, 21, 28, 35])), projectAll(counting, split(entries, [16, 32]))]);
    expect(conflicts).toBeGreaterThan(0);
    expect(await documents(inner)).toEqual(await fromScratch(entries));
  });

  it('over random streams, batch splits and replay points, the documents equal a from-scratch fold of the distinct events (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(anEvent, { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 3 }),
        async (events, cuts, replays) => {
          const entries = await logOf(stored(events));
          // A replay: after batch i, the projector restarts from an earlier checkpoint and reads up to where it was.
          const pages = split(entries, cuts);
          const batches: PositionedEvent[][] = [];
          let end = 0;
          pages.forEach((page, i) => {
            batches.push(page);
            end += page.length;
            for (const [after, back] of replays) if (after % pages.length === i) batches.push(entries.slice(end - (back % (end + 1)), end));
          });
          const store = new MemoryReadModelStore();
          await projectAll(store, batches);
          expect(await documents(store)).toEqual(await fromScratch(entries));
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('the embedded loop over a log (runProjectorsOnce)', () => {
  it('over random streams, page sizes and store failures of one model, every read model ends as a from-scratch fold (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(anEvent, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 25 }),
        fc.array(fc.tuple(fc.nat({ max: readModels.length - 1 }), fc.nat({ max: 6 })), { maxLength: 3 }),
        async (events, maxBatch, failures) => {
          const log = new MemoryEventLog();
          await log.append((await logOf(stored(events))).map((entry) => entry.event));
          const inner = new MemoryReadModelStore();
          // The k-th batched write of a model fails once: that projector sits out and catches up on a later run.
          const pending = new Set(failures.map(([model, k]) => `${readModels[model]!.name}#${k}`));
          const writes = new Map<string, number>();
          const store: ReadModelStore = {
            get: (...args) => inner.get(...args),
            query: (...args) => inner.query(...args),
            upsert: (...args) => inner.upsert(...args),
            close: () => inner.close(),
            async upsertMany(model, docs) {
              const k = writes.get(model) ?? 0;
              writes.set(model, k + 1);
              if (pending.delete(`${model}#${k}`)) throw new Error(`${model} is down`);
              return inner.upsertMany(model, docs);
            },
          };
          const loop = startProjectorLoop({ log, store, projections: readModels, logger: { info() {}, warn() {}, error() {} }, intervalMs: 1e9, maxBatch });
          const end = (await log.read(0, 1000)).at(-1)!.position;
          const caughtUp = async () => (await Promise.all(readModels.map(({ name }) => log.getCheckpoint(name)))).every((at) => at === end);
          for (let run = 0; run < 10 && !(await caughtUp()); run++) {
            loop.notify();
            await loop.idle();
          }
          await loop.stop();
          expect(await caughtUp()).toBe(true);
          expect(await documents(inner)).toEqual(await fromScratch(fromEmbeddedLog(await log.read(0, 1000))));
        },
      ),
      { numRuns: 60 },
    );
  });
});
