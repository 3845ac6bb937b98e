import { readInteractionDocs, type StoredEvent } from '@km/shared';
import { MemoryEventLog } from '../src/adapters/memory-event-log';
import { MemoryReadModelStore } from '../src/adapters/memory-read-model-store';
import { startProjectorLoop, type ProjectorLoop } from '../src/host/projector-loop';
import type { Logger } from '../src/logger';
import type { EventLog, ReadModelStore } from '../src/ports';
import { readModels } from '../src/read-models';
import { aSessionOfEvents, anEnvelope, stored } from './fixtures';

const NEVER = 1e9; // the timer must not interfere: these tests drive the loop with notify()

function aLogger() {
  const lines: string[] = [];
  const logger: Logger = {
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
  };
  return { logger, lines };
}

const session = (sessionId: string): StoredEvent[] =>
  stored(aSessionOfEvents(anEnvelope({ orgId: 'local', sessionId }), '2026-08-01T10:00:00.000Z', 3));

let loop: ProjectorLoop | undefined;
afterEach(async () => loop?.stop());

describe('the projector loop', () => {
  it('catches up on start, page by page, for every read model', async () => {
    const log = new MemoryEventLog();
    const store = new MemoryReadModelStore();
    await log.append(session('s1'));
    const logger = aLogger().logger;
    loop = startProjectorLoop({ log, store, projections: readModels, logger, intervalMs: NEVER, maxBatch: 2 });
    await loop.idle();
    expect(await store.get('sessions', 'local', 's1')).toMatchObject({ doc: { interactionCount: 3, endedAt: expect.any(String) } });
    expect(readInteractionDocs(await store.query('interactions', 'local'))).toHaveLength(3);
    const last = (await log.read(0, 100)).at(-1)!.position;
    expect(await log.getCheckpoint('sessions')).toBe(last);
    expect(await log.getCheckpoint('interactions')).toBe(last);
  });

  it('reads each page of the log once for all read models, and moves every checkpoint past it', async () => {
    const inner = new MemoryEventLog();
    await inner.append([...session('p1'), ...session('p2')]);
    const after: number[] = [];
    const log: EventLog = Object.assign(Object.create(inner) as EventLog, {
      async read(from: number, max: number) {
        after.push(from);
        return inner.read(from, max);
      },
    });
    const store = new MemoryReadModelStore();
    loop = startProjectorLoop({ log, store, projections: readModels, logger: aLogger().logger, intervalMs: NEVER, maxBatch: 4 });
    await loop.idle();
    const positions = (await inner.read(0, 100)).map((entry) => entry.position);
    // 10 events in pages of 4: three reads, each from where the previous page ended.
    expect(positions).toHaveLength(10);
    expect(after).toEqual([0, positions[3], positions[7]]);
    for (const { name } of readModels) expect(await inner.getCheckpoint(name)).toBe(positions.at(-1));
  });

  it('projects what arrives after a notify', async () => {
    const log = new MemoryEventLog();
    const store = new MemoryReadModelStore();
    loop = startProjectorLoop({ log, store, projections: readModels, logger: aLogger().logger, intervalMs: NEVER });
    await loop.idle();
    await log.append(session('s2'));
    loop.notify();
    await loop.idle();
    expect(await store.get('sessions', 'local', 's2')).not.toBeNull();
  });

  it('never runs twice at once: notifies during a run make exactly one more run', async () => {
    const inner = new MemoryEventLog();
    await inner.append(session('s3'));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let reads = 0;
    let active = 0;
    let maxActive = 0;
    const log: EventLog = Object.assign(Object.create(inner) as EventLog, {
      async read(after: number, max: number) {
        reads++;
        maxActive = Math.max(maxActive, ++active);
        await gate;
        active--;
        return inner.read(after, max);
      },
    });
    const store = new MemoryReadModelStore();
    loop = startProjectorLoop({ log, store, projections: readModels, logger: aLogger().logger, intervalMs: NEVER });
    loop.notify();
    loop.notify();
    loop.notify();
    release();
    await loop.idle();
    expect(maxActive).toBe(1);
    // One run for the start, one more for the notifies; each reads the page once for every read model.
    expect(reads).toBe(2);
  });

  it('logs a failing projector once, keeps the others going, and catches up once the failure clears', async () => {
    const log = new MemoryEventLog();
    const inner = new MemoryReadModelStore();
    let sessionsBroken = true;
    const store: ReadModelStore = Object.assign(Object.create(inner) as ReadModelStore, {
      upsert: async <T>(model: string, pk: string, id: string, doc: T, ifMatch?: string | null) => {
        if (model === 'sessions' && sessionsBroken) throw new Error('sessions container is down');
        return inner.upsert(model, pk, id, doc, ifMatch);
      },
    });
    await log.append(session('s4'));
    const { logger, lines } = aLogger();
    loop = startProjectorLoop({ log, store, projections: readModels, logger, intervalMs: NEVER });
    await loop.idle();
    loop.notify();
    await loop.idle();
    expect(lines.filter((line) => line.startsWith('error'))).toEqual([
      expect.stringContaining('projector sessions failed, will retry: Error: sessions container is down'),
    ]);
    expect(readInteractionDocs(await inner.query('interactions', 'local'))).toHaveLength(3);
    expect(await log.getCheckpoint('sessions')).toBe(0);

    sessionsBroken = false;
    loop.notify();
    await loop.idle();
    expect(await inner.get('sessions', 'local', 's4')).not.toBeNull();
    expect(lines.at(-1)).toBe('info projector sessions recovered');
  });

  it('finishes the run in flight on stop, and runs no more afterwards', async () => {
    const log = new MemoryEventLog();
    const store = new MemoryReadModelStore();
    await log.append(session('s5'));
    loop = startProjectorLoop({ log, store, projections: readModels, logger: aLogger().logger, intervalMs: NEVER });
    await loop.stop();
    expect(await store.get('sessions', 'local', 's5')).not.toBeNull();
    await log.append(session('s6'));
    loop.notify();
    await loop.idle();
    expect(await store.get('sessions', 'local', 's6')).toBeNull();
  });
});
