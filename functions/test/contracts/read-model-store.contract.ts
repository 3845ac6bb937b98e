import { ConcurrencyError, type ReadModelStore } from '../../src/ports';

/**
 * Opens a read-model store over the storage named `storage`. Persistent adapters return the same data when called
 * again with the same name after close(); every test uses its own name.
 */
export type MakeReadModelStore = (storage: string) => Promise<ReadModelStore>;

interface Doc {
  id: string;
  orgId: string;
  projectId: string;
  startedAt: string;
  calls: number;
  live: boolean;
}

const aDoc = (id: string, overrides: Partial<Doc> = {}): Doc => ({
  id,
  orgId: 'org-a',
  projectId: 'alpha',
  startedAt: '2026-01-01T00:00:00.000Z',
  calls: 0,
  live: false,
  ...overrides,
});

/** The behaviour every ReadModelStore adapter must have (DESIGN.md: one contract suite per port). */
export function testReadModelStore(makeStore: MakeReadModelStore, options: { persistent?: boolean } = {}): void {
  const opened: ReadModelStore[] = [];
  let storageCount = 0;
  const open = async (storage = `store-${++storageCount}`) => {
    const store = await makeStore(storage);
    opened.push(store);
    return store;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
  });

  describe('remove (stores that have it)', () => {
    it('deletes a document of its tenant only, and refuses a stale ETag', async () => {
      const store = await open();
      if (!store.remove) return;
      const etag = await store.upsert('sessions', 'org-a', 's1', aDoc('s1'));
      await store.upsert('sessions', 'org-b', 's1', aDoc('s1', { orgId: 'org-b' }));
      await expect(store.remove('sessions', 'org-a', 's1', 'stale')).rejects.toBeInstanceOf(ConcurrencyError);
      expect(await store.remove('sessions', 'org-a', 's1', etag)).toBe(true);
      expect(await store.get('sessions', 'org-a', 's1')).toBeNull();
      expect(await store.remove('sessions', 'org-a', 's1')).toBe(false);
      expect(await store.get('sessions', 'org-b', 's1')).toMatchObject({ doc: { orgId: 'org-b' } });
    });
  });

  describe('get and upsert', () => {
    it('returns null for a document that was never written', async () => {
      expect(await (await open()).get('sessions', 'org-a', 'nope')).toBeNull();
    });

    it('returns the written document with the ETag the write returned', async () => {
      const store = await open();
      const etag = await store.upsert('sessions', 'org-a', 's1', aDoc('s1'));
      expect(await store.get('sessions', 'org-a', 's1')).toEqual({ doc: aDoc('s1'), etag });
    });

    it('changes the ETag on every write, even of the same content', async () => {
      const store = await open();
      const first = await store.upsert('sessions', 'org-a', 's1', aDoc('s1'));
      const second = await store.upsert('sessions', 'org-a', 's1', aDoc('s1'));
      const third = await store.upsert('sessions', 'org-a', 's1', aDoc('s1'), second);
      expect(new Set([first, second, third]).size).toBe(3);
    });

    it('hands out copies from get, and query results that changing cannot reach the stored document (frozen where shared)', async () => {
      const store = await open();
      const doc = aDoc('s1');
      await store.upsert('sessions', 'org-a', 's1', doc);
      doc.calls = 99;
      (await store.get<Doc>('sessions', 'org-a', 's1'))!.doc.calls = 42;
      const [listed] = await store.query<Doc>('sessions', 'org-a');
      // A store that keeps query results for the next query hands them out frozen: changing one throws.
      if (Object.isFrozen(listed)) expect(() => (listed!.calls = 43)).toThrow(TypeError);
      else listed!.calls = 43;
      expect((await store.get<Doc>('sessions', 'org-a', 's1'))!.doc.calls).toBe(0);
      expect((await store.query<Doc>('sessions', 'org-a'))[0]!.calls).toBe(0);
    });

    it('keeps models apart: the same partition and id in two models are two documents', async () => {
      const store = await open();
      await store.upsert('sessions', 'org-a', 'x', aDoc('x', { calls: 1 }));
      await store.upsert('interactions', 'org-a', 'x', aDoc('x', { calls: 2 }));
      expect((await store.get<Doc>('sessions', 'org-a', 'x'))!.doc.calls).toBe(1);
      expect((await store.get<Doc>('interactions', 'org-a', 'x'))!.doc.calls).toBe(2);
    });
  });

  describe('optimistic concurrency', () => {
    it('writes when ifMatch is the current ETag', async () => {
      const store = await open();
      const etag = await store.upsert('sessions', 'org-a', 's1', aDoc('s1'));
      await store.upsert('sessions', 'org-a', 's1', aDoc('s1', { calls: 1 }), etag);
      expect((await store.get<Doc>('sessions', 'org-a', 's1'))!.doc.calls).toBe(1);
    });

    it('rejects a stale ETag with ConcurrencyError and keeps the newer document', async () => {
      const store = await open();
      const stale = await store.upsert('sessions', 'org-a', 's1', aDoc('s1'));
      await store.upsert('sessions', 'org-a', 's1', aDoc('s1', { calls: 1 }), stale);
      await expect(store.upsert('sessions', 'org-a', 's1', aDoc('s1', { calls: 2 }), stale)).rejects.toBeInstanceOf(
        ConcurrencyError,
      );
      expect((await store.get<Doc>('sessions', 'org-a', 's1'))!.doc.calls).toBe(1);
    });

    it('rejects ifMatch null when the document exists: somebody created it first', async () => {
      const store = await open();
      await store.upsert('sessions', 'org-a', 's1', aDoc('s1', { calls: 1 }), null);
      await expect(store.upsert('sessions', 'org-a', 's1', aDoc('s1', { calls: 2 }), null)).rejects.toBeInstanceOf(
        ConcurrencyError,
      );
      expect((await store.get<Doc>('sessions', 'org-a', 's1'))!.doc.calls).toBe(1);
    });

    it('rejects an ETag for a document that does not exist', async () => {
      const store = await open();
      const etag = await store.upsert('sessions', 'org-a', 's1', aDoc('s1'));
      await expect(store.upsert('sessions', 'org-a', 's2', aDoc('s2'), etag)).rejects.toBeInstanceOf(ConcurrencyError);
      expect(await store.get('sessions', 'org-a', 's2')).toBeNull();
    });

    it('overwrites unconditionally when ifMatch is undefined', async () => {
      const store = await open();
      await store.upsert('sessions', 'org-a', 's1', aDoc('s1', { calls: 1 }));
      await store.upsert('sessions', 'org-a', 's1', aDoc('s1', { calls: 2 }));
      expect((await store.get<Doc>('sessions', 'org-a', 's1'))!.doc.calls).toBe(2);
    });
  });

  describe('tenant isolation', () => {
    it('never returns a document of one partition to a get or query on another, even with the same id', async () => {
      const store = await open();
      await store.upsert('sessions', 'org-a', 'shared-id', aDoc('shared-id', { orgId: 'org-a', calls: 1 }));
      await store.upsert('sessions', 'org-a', 'only-a', aDoc('only-a', { orgId: 'org-a' }));
      await store.upsert('sessions', 'org-b', 'shared-id', aDoc('shared-id', { orgId: 'org-b', calls: 2 }));

      expect((await store.get<Doc>('sessions', 'org-b', 'shared-id'))!.doc.calls).toBe(2);
      expect(await store.get('sessions', 'org-b', 'only-a')).toBeNull();
      expect((await store.query<Doc>('sessions', 'org-b')).map((d) => d.orgId)).toEqual(['org-b']);
      expect(await store.query('sessions', 'org-b', { where: { orgId: 'org-a' } })).toEqual([]);
      expect(await store.query('sessions', 'org-c')).toEqual([]);
    });

    it('keeps ETags per partition: an ETag from one tenant cannot write into another', async () => {
      const store = await open();
      const etagA = await store.upsert('sessions', 'org-a', 'shared-id', aDoc('shared-id'));
      await store.upsert('sessions', 'org-b', 'shared-id', aDoc('shared-id', { orgId: 'org-b' }));
      await expect(
        store.upsert('sessions', 'org-b', 'shared-id', aDoc('shared-id', { calls: 9 }), etagA),
      ).rejects.toBeInstanceOf(ConcurrencyError);
    });
  });

  describe('query', () => {
    const seed = async (store: ReadModelStore) => {
      const docs = [
        aDoc('s1', { projectId: 'alpha', startedAt: '2026-01-01T00:00:03.000Z', calls: 5, live: true }),
        aDoc('s2', { projectId: 'beta', startedAt: '2026-01-01T00:00:01.000Z', calls: 1 }),
        aDoc('s3', { projectId: 'alpha', startedAt: '2026-01-01T00:00:02.000Z', calls: 10 }),
        aDoc('s4', { projectId: 'alpha', startedAt: '2026-01-01T00:00:02.000Z', calls: 7, live: true }),
      ];
      for (const doc of docs) await store.upsert('sessions', 'org-a', doc.id, doc);
    };
    const ids = (docs: Doc[]) => docs.map((doc) => doc.id);

    it('returns every document of the partition without options', async () => {
      const store = await open();
      await seed(store);
      expect(ids(await store.query<Doc>('sessions', 'org-a')).sort()).toEqual(['s1', 's2', 's3', 's4']);
    });

    it('filters by equality on top-level string, number and boolean fields, all of them at once', async () => {
      const store = await open();
      await seed(store);
      expect(ids(await store.query<Doc>('sessions', 'org-a', { where: { projectId: 'alpha' } })).sort()).toEqual(['s1', 's3', 's4']);
      expect(ids(await store.query<Doc>('sessions', 'org-a', { where: { calls: 10 } }))).toEqual(['s3']);
      expect(ids(await store.query<Doc>('sessions', 'org-a', { where: { live: true } })).sort()).toEqual(['s1', 's4']);
      expect(ids(await store.query<Doc>('sessions', 'org-a', { where: { projectId: 'alpha', live: false } }))).toEqual(['s3']);
      expect(await store.query('sessions', 'org-a', { where: { projectId: 'gamma' } })).toEqual([]);
    });

    it('orders by a top-level field, ascending or descending, ties broken by id in the same direction', async () => {
      const store = await open();
      await seed(store);
      expect(ids(await store.query<Doc>('sessions', 'org-a', { orderBy: 'startedAt' }))).toEqual(['s2', 's3', 's4', 's1']);
      expect(ids(await store.query<Doc>('sessions', 'org-a', { orderBy: 'startedAt', direction: 'desc' }))).toEqual([
        's1',
        's4',
        's3',
        's2',
      ]);
      expect(ids(await store.query<Doc>('sessions', 'org-a', { orderBy: 'calls', direction: 'desc' }))).toEqual(['s3', 's4', 's1', 's2']);
    });

    it('limits after filtering and ordering', async () => {
      const store = await open();
      await seed(store);
      const newestAlpha = await store.query<Doc>('sessions', 'org-a', {
        where: { projectId: 'alpha' },
        orderBy: 'startedAt',
        direction: 'desc',
        limit: 2,
      });
      expect(ids(newestAlpha)).toEqual(['s1', 's4']);
      expect(await store.query('sessions', 'org-a', { limit: 0 })).toEqual([]);
    });

    it('bounds the orderBy field, both ends included, before the limit', async () => {
      const store = await open();
      await seed(store);
      const between = (from?: string, to?: string, limit?: number) =>
        store.query<Doc>('sessions', 'org-a', { orderBy: 'startedAt', direction: 'desc', between: { from, to }, ...(limit === undefined ? {} : { limit }) });
      expect(ids(await between('2026-01-01T00:00:02.000Z'))).toEqual(['s1', 's4', 's3']);
      expect(ids(await between(undefined, '2026-01-01T00:00:02.000Z'))).toEqual(['s4', 's3', 's2']);
      expect(ids(await between('2026-01-01T00:00:02.000Z', '2026-01-01T00:00:02.000Z', 1))).toEqual(['s4']);
      expect(ids(await store.query<Doc>('sessions', 'org-a', { where: { projectId: 'alpha' }, orderBy: 'calls', between: { from: 6 } }))).toEqual(['s4', 's3']);
      await expect(store.query('sessions', 'org-a', { between: { from: 'x' } })).rejects.toThrow(/orderBy/);
    });

    it('refuses a field name that is not a plain identifier', async () => {
      const store = await open();
      await expect(store.query('sessions', 'org-a', { orderBy: "x') OR 1=1 --" })).rejects.toThrow(/field/);
      await expect(store.query('sessions', 'org-a', { where: { 'a.b': 1 } })).rejects.toThrow(/field/);
    });
  });

  describe('log positions and batched writes (issue 11)', () => {
    it('keeps the positions a document folded beside it, never inside it', async () => {
      const store = await open();
      const etag = await store.upsert('sessions', 'org-a', 's1', aDoc('s1'), null, { log: 41, '7': 3 });
      expect(await store.get('sessions', 'org-a', 's1')).toEqual({ doc: aDoc('s1'), etag, positions: { log: 41, '7': 3 } });
      expect(await store.query('sessions', 'org-a')).toEqual([aDoc('s1')]);
      await store.upsert('sessions', 'org-a', 's1', aDoc('s1', { calls: 1 }), etag);
      expect((await store.get('sessions', 'org-a', 's1'))!.positions).toBeUndefined();
    });

    it('writes many documents, each judged on its own ETag: a conflict on one never stops the others', async () => {
      const store = await open();
      if (!store.upsertMany) return;
      const stale = await store.upsert('sessions', 'org-a', 's1', aDoc('s1'));
      const current = await store.upsert('sessions', 'org-a', 's1', aDoc('s1', { calls: 1 }), stale);
      const outcomes = await store.upsertMany('sessions', [
        { partitionKey: 'org-a', id: 's2', doc: aDoc('s2'), ifMatch: null, positions: { log: 2 } },
        { partitionKey: 'org-a', id: 's1', doc: aDoc('s1', { calls: 9 }), ifMatch: stale },
        { partitionKey: 'org-b', id: 's1', doc: aDoc('s1', { orgId: 'org-b' }), ifMatch: null },
        { partitionKey: 'org-a', id: 's3', doc: aDoc('s3'), ifMatch: current },
      ]);
      expect(outcomes.map((outcome) => ('conflict' in outcome ? 'conflict' : 'written'))).toEqual(['written', 'conflict', 'written', 'conflict']);
      expect((await store.get<Doc>('sessions', 'org-a', 's2'))!).toEqual({ doc: aDoc('s2'), etag: (outcomes[0] as { etag: string }).etag, positions: { log: 2 } });
      expect((await store.get<Doc>('sessions', 'org-a', 's1'))!.doc.calls).toBe(1);
      expect((await store.get<Doc>('sessions', 'org-b', 's1'))!.doc.orgId).toBe('org-b');
      expect(await store.get('sessions', 'org-a', 's3')).toBeNull();
    });
  });

  if (options.persistent) {
    it('keeps documents and ETags after close and reopen', async () => {
      const before = await open('persisted');
      const etag = await before.upsert('sessions', 'org-a', 's1', aDoc('s1', { calls: 3 }));
      await before.close();
      const after = await open('persisted');
      expect(await after.get('sessions', 'org-a', 's1')).toEqual({ doc: aDoc('s1', { calls: 3 }), etag });
      await after.upsert('sessions', 'org-a', 's1', aDoc('s1', { calls: 4 }), etag);
    });
  }
}
