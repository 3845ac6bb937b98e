import type { StoredEvent } from '@km/shared';
import type { EventLog } from '../../src/ports';
import { anEnvelope, interaction, stored } from '../fixtures';

/**
 * Opens an event log over the storage named `storage`. Persistent adapters return the same data when called again
 * with the same name after close(); every test uses its own name.
 */
export type MakeEventLog = (storage: string) => Promise<EventLog>;

export interface EventLogContractOptions {
  persistent?: boolean;
  /**
   * For an append-only log (Event Hubs: the Functions host reads it), how a test sees what was appended, in order.
   * Such a log runs the append part of the suite; read and checkpoints must refuse with an error naming who reads.
   * It cannot tell a repeat across appends (a client retry) from a new event: the idempotent folds absorb those.
   */
  appendOnly?: { appended(storage: string): Promise<StoredEvent[]> };
}

/** The behaviour every EventLog adapter must have (DESIGN.md: one contract suite per port). */
export function testEventLog(makeLog: MakeEventLog, options: EventLogContractOptions = {}): void {
  const opened: EventLog[] = [];
  const storageOf = new Map<EventLog, string>();
  let storageCount = 0;
  const open = async (storage = `log-${++storageCount}`) => {
    const log = await makeLog(storage);
    opened.push(log);
    storageOf.set(log, storage);
    return log;
  };
  const { appendOnly } = options;
  /** Everything the log holds, in append order: through read() where the log reads, else as the adapter says. */
  const contents = async (log: EventLog): Promise<StoredEvent[]> =>
    appendOnly ? appendOnly.appended(storageOf.get(log)!) : (await log.read(0, 1000)).map((entry) => entry.event);
  const readingLogs = appendOnly ? describe.skip : describe;
  const readingTest = appendOnly ? it.skip : it;
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((log) => log.close()));
  });

  const someEvents = (count: number) => {
    const envelope = anEnvelope();
    return stored(Array.from({ length: count }, (_, i) => interaction(envelope, `2026-01-01T00:00:0${i}.000Z`)));
  };

  describe('append', () => {
    it('stores events and reads them back in append order, unchanged', async () => {
      const log = await open();
      const events = someEvents(3);
      expect(await log.append(events)).toEqual({ appended: 3, duplicates: 0 });
      expect(await contents(log)).toEqual(events);
    });

    readingTest('ignores an event id it already holds, across calls', async () => {
      const log = await open();
      const [first, second] = someEvents(2);
      await log.append([first!]);
      expect(await log.append([first!, second!])).toEqual({ appended: 1, duplicates: 1 });
      expect(await log.append([first!])).toEqual({ appended: 0, duplicates: 1 });
      expect((await log.read(0, 10)).map((entry) => entry.event.id)).toEqual([first!.id, second!.id]);
    });

    it("keeps two tenants' events with the same id apart: an event's identity is (orgId, id)", async () => {
      const log = await open();
      const [theirs] = stored([interaction(anEnvelope({ orgId: 'org-b' }), '2026-01-01T00:00:00.000Z')]);
      const ours = { ...theirs!, orgId: 'org-a' };
      expect(await log.append([theirs!, ours, theirs!])).toEqual({ appended: 2, duplicates: 1 });
      expect((await contents(log)).map((event) => [event.orgId, event.id])).toEqual([
        ['org-b', theirs!.id],
        ['org-a', theirs!.id],
      ]);
    });

    it('stores an id repeated within one call once and counts the repeats as duplicates', async () => {
      const log = await open();
      const [a, b] = someEvents(2);
      expect(await log.append([a!, b!, a!, a!])).toEqual({ appended: 2, duplicates: 2 });
      expect((await contents(log)).map((event) => event.id)).toEqual([a!.id, b!.id]);
    });

    readingTest('keeps the first copy of a retried event: a retry never rewrites what was accepted', async () => {
      const log = await open();
      const [event] = someEvents(1);
      await log.append([event!]);
      await log.append([{ ...event!, batchId: 'retry', receivedAt: '2026-02-02T00:00:00.000Z' }]);
      expect((await log.read(0, 10))[0]!.event.batchId).toBe('batch-1');
    });

    readingTest('gives strictly increasing positions, also across calls', async () => {
      const log = await open();
      const events = someEvents(5);
      await log.append(events.slice(0, 2));
      await log.append(events.slice(2));
      const positions = (await log.read(0, 10)).map((entry) => entry.position);
      expect(positions).toHaveLength(5);
      positions.slice(1).forEach((position, i) => expect(position).toBeGreaterThan(positions[i]!));
      expect(positions[0]).toBeGreaterThan(0);
    });
  });

  readingLogs('read', () => {
    it('returns nothing from an empty log', async () => {
      expect(await (await open()).read(0, 10)).toEqual([]);
    });

    it('pages strictly after a position, at most max at a time', async () => {
      const log = await open();
      const events = someEvents(5);
      await log.append(events);
      const first = await log.read(0, 2);
      const second = await log.read(first[1]!.position, 2);
      const third = await log.read(second[1]!.position, 10);
      expect([...first, ...second, ...third].map((entry) => entry.event.id)).toEqual(events.map((e) => e.id));
      expect(third).toHaveLength(1);
      expect(await log.read(third[0]!.position, 10)).toEqual([]);
    });
  });

  if (appendOnly) {
    it('refuses read and checkpoints with an error that says who reads this log', async () => {
      const log = await open();
      await expect(log.read(0, 10)).rejects.toThrow(/Functions host/);
      await expect(log.getCheckpoint('sessions')).rejects.toThrow(/Functions host/);
      await expect(log.setCheckpoint('sessions', 1)).rejects.toThrow(/Functions host/);
    });
  }

  readingLogs('checkpoints', () => {
    it('start at 0 and hold what was set, per projector', async () => {
      const log = await open();
      expect(await log.getCheckpoint('sessions')).toBe(0);
      await log.setCheckpoint('sessions', 7);
      await log.setCheckpoint('interactions', 3);
      await log.setCheckpoint('sessions', 9);
      expect(await log.getCheckpoint('sessions')).toBe(9);
      expect(await log.getCheckpoint('interactions')).toBe(3);
    });
  });

  if (options.persistent && !appendOnly) {
    it('keeps events, positions, deduplication and checkpoints after close and reopen', async () => {
      const events = someEvents(3);
      const before = await open('persisted');
      await before.append(events);
      const positions = (await before.read(0, 10)).map((entry) => entry.position);
      await before.setCheckpoint('sessions', positions[1]!);
      await before.close();

      const after = await open('persisted');
      expect(await after.read(0, 10)).toEqual(events.map((event, i) => ({ position: positions[i], event })));
      expect(await after.getCheckpoint('sessions')).toBe(positions[1]);
      expect(await after.append(events.slice(0, 1))).toEqual({ appended: 0, duplicates: 1 });
      const [next] = someEvents(1);
      await after.append([next!]);
      expect((await after.read(positions[2]!, 10))[0]!.event.id).toBe(next!.id);
    });
  }
}
