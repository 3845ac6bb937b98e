import fc from 'fast-check';
import { addInteraction, emptyStats, expandBucket, latencyProjection, mergeAllStats, sessionsProjection, mergeStats, newEventId, slowInteractionOf, summarizeStats, summarizeAllStats, type SessionDayDoc, type KmEvent, type Interaction, type LatencyBucket, type LatencyBucketDoc, type LatencyStats, type LatencyDoc, type Projection, type SessionDoc } from '../src/index';
import { binsOf } from '../src/projections/latency/sketch';

const base = Date.UTC(2026, 10, 25, 23, 58, 0);

/** An interaction with the fields the latency fold reads drawn at random (3 minutes around an hour and a day boundary). */
const anInteraction = fc
  .record({
    offsetMs: fc.integer({ min: 0, max: 180_000 }),
    latencyMs: fc.oneof(fc.constant(0), fc.double({ min: 0.001, max: 60_000, noNaN: true })),
    outcome: fc.constantFrom('ok', 'error', 'tool_error', 'unanswered'),
    code: fc.constantFrom(-32601, -32602, -32603),
    method: fc.constantFrom('tools/call', 'resources/read', 'initialize'),
    tool: fc.constantFrom('echo', 'slow', 'a|b/c?'),
    server: fc.constantFrom('everything', 'memory'),
    projectId: fc.constantFrom('alpha', 'beta'),
    sessionId: fc.constantFrom('s1', 's2'),
    requestBytes: fc.nat(10_000),
    responseBytes: fc.nat(10_000),
  })
  .map((r): KmEvent => {
    const startedAt = new Date(base + r.offsetMs).toISOString();
    const answered = r.outcome !== 'unanswered';
    return {
      v: 1, id: newEventId(base + r.offsetMs), ts: startedAt, type: 'mcp.interaction', orgId: 'o', projectId: r.projectId, userId: 'u', machineId: 'm',
      sessionId: r.sessionId, server: { name: r.server, command: 'x' }, direction: 'client_to_server', requestId: '1', method: r.method,
      target: r.method === 'initialize' ? null : r.tool, protocolVersion: null, startedAt, endedAt: answered ? startedAt : null,
      latencyMs: answered ? r.latencyMs : null, requestBytes: r.requestBytes, responseBytes: answered ? r.responseBytes : 0,
      outcome: r.outcome as 'ok', error: r.outcome === 'error' ? { code: r.code, message: 'x' } : null, resultType: null, tokensIn: null,
      tokensOut: null, costUsd: null, findings: [], requestPreview: null, responsePreview: null,
    };
  });

/** Folds events into documents as a projector does: per document, in the order given. The JSON text is compared. */
function project<S>(projection: Projection<S>, events: KmEvent[]): Record<string, string> {
  const docs = new Map<string, S | null>();
  for (const event of events) for (const id of projection.docIds(event)) docs.set(id, projection.evolve(docs.get(id) ?? null, event, id));
  return Object.fromEntries([...docs.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, doc]) => [id, JSON.stringify(doc)]));
}

/**
 * The buckets a stored document stands for: an org bucket itself; a session day (stored since issue 11) each of its
 * hours, once as its project's and once as its user's hour bucket.
 */
function bucketsOf(text: string): LatencyBucket[] {
  const doc = JSON.parse(text) as LatencyDoc;
  if (!('kind' in doc)) return [expandBucket(doc)];
  return Object.entries(doc.hours).flatMap(([period, hour]) =>
    [`project:${doc.projectId}`, `user:${doc.userId}`].map((scope) =>
      expandBucket({ id: doc.id, orgId: doc.orgId, scope, granularity: 'hour', period, ...hour, slowest: hour.slowest.map((entry) => slowInteractionOf(entry, doc.sessionId)) }),
    ),
  );
}

describe('latency projection', () => {
  it.each([
    ['a few events', 1, 40, 150],
    ['more events than the slowest list keeps', 110, 160, 15],
  ])('gives byte-identical documents for any order of the events (%s; replays are skipped by the projector)', (_what, minLength, maxLength, numRuns) => {
    fc.assert(
      fc.property(
        fc.array(anInteraction, { minLength, maxLength }).chain((events) => fc.tuple(fc.constant(events), fc.shuffledSubarray(events, { minLength: events.length }))),
        ([events, shuffled]) => {
          expect(project(latencyProjection, shuffled)).toEqual(project(latencyProjection, events));
          // The per-session waits the bottleneck view reads, kept in the session documents.
          const waits = (docs: Record<string, string>) => Object.values(docs).map((text) => JSON.stringify((JSON.parse(text) as SessionDoc).waits));
          expect(waits(project(sessionsProjection as Projection<SessionDoc>, shuffled))).toEqual(waits(project(sessionsProjection as Projection<SessionDoc>, events)));
        },
      ),
      { numRuns },
    );
  });

  it('leaves out what km\'s policy refused: the server never saw it', () => {
    fc.assert(
      fc.property(anInteraction, (event) => {
        expect(latencyProjection.docIds({ ...(event as Interaction), refusedByPolicy: true })).toEqual([]);
        expect(latencyProjection.docIds(event).length).toBeGreaterThan(0);
      }),
      { numRuns: 20 },
    );
  });

  it('buckets by hour and day for the org, by hour only for the project and the user, with counts per outcome', () => {
    fc.assert(
      fc.property(fc.array(anInteraction, { minLength: 1, maxLength: 60 }), (events) => {
        const docs = Object.values(project(latencyProjection, events)).flatMap(bucketsOf);
        for (const granularity of ['hour', 'day']) {
          const org = docs.filter((d) => d.scope === 'org' && d.granularity === granularity);
          const sum = (f: (d: LatencyBucket) => number) => org.reduce((n, d) => n + f(d), 0);
          expect(sum((d) => d.total.count)).toBe(events.length);
          const interactions = events as Array<Extract<KmEvent, { type: 'mcp.interaction' }>>;
          expect(sum((d) => d.total.timeouts)).toBe(interactions.filter((e) => e.outcome === 'unanswered').length);
          expect(sum((d) => d.total.toolErrors)).toBe(interactions.filter((e) => e.outcome === 'tool_error').length);
          expect(sum((d) => Object.values(d.total.errorCodes).reduce((a, b) => a + b, 0))).toBe(interactions.filter((e) => e.outcome === 'error').length);
          expect(sum((d) => d.total.bytesIn)).toBe(interactions.reduce((n, e) => n + e.requestBytes, 0));
          for (const kind of ['project:', 'user:']) {
            const scoped = docs.filter((d) => d.scope.startsWith(kind) && d.granularity === granularity);
            expect(scoped.reduce((n, d) => n + d.total.count, 0)).toBe(granularity === 'hour' ? events.length : 0);
          }
        }
      }),
      { numRuns: 50 },
    );
  });

  it('folds into a document written before, with [key, count] sketch bins, as into one written packed', () => {
    fc.assert(
      fc.property(fc.array(anInteraction, { minLength: 2, maxLength: 40 }), (events) => {
        const [last, ...rest] = events;
        const older = (stats: LatencyStats) => ({ ...stats, sketch: { zeros: stats.sketch.zeros, bins: binsOf(stats.sketch) } }) as unknown as LatencyStats;
        // Written before: every stats field present, bins as [key, count] pairs.
        const olderDoc = (doc: LatencyBucket): LatencyBucketDoc => {
          const each = <T extends LatencyStats>(record: Record<string, T>) => Object.fromEntries(Object.entries(record).map(([k, v]) => [k, { ...v, ...older(v) }]));
          return { ...doc, total: older(doc.total), servers: each(doc.servers), tools: each(doc.tools), methods: each(doc.methods) };
        };
        // Session days came after flat sketches: only the org's buckets may be stored with pairs.
        const stored = (text: string): LatencyDoc => {
          const doc = JSON.parse(text) as LatencyDoc;
          return 'kind' in doc ? doc : olderDoc(expandBucket(doc));
        };
        const before = Object.entries(project(latencyProjection, rest)).map(([id, text]) => [id, stored(text)] as const);
        const docs = new Map<string, LatencyDoc | null>(before);
        for (const id of latencyProjection.docIds(last!)) docs.set(id, latencyProjection.evolve(docs.get(id) ?? null, last!, id));
        const expected = project(latencyProjection, [...rest, last!]);
        for (const id of latencyProjection.docIds(last!)) expect(JSON.stringify(docs.get(id))).toBe(expected[id]);
      }),
      { numRuns: 50 },
    );
  });

  it('stores stats without their empty fields, and expands them back to the folded stats', () => {
    fc.assert(
      fc.property(fc.array(anInteraction, { minLength: 1, maxLength: 40 }), (events) => {
        for (const [id, text] of Object.entries(project(latencyProjection, events))) {
          const stored = JSON.parse(text) as LatencyBucketDoc;
          if (stored.scope !== 'org') continue;
          const mine = events.filter((event) => latencyProjection.docIds(event).includes(id)) as Interaction[];
          expect(expandBucket(stored).total).toEqual(mine.reduce(addInteraction, emptyStats()));
          const all = [stored.total, ...Object.values(stored.servers), ...Object.values(stored.tools), ...Object.values(stored.methods)];
          for (const stats of all) {
            for (const field of ['errors', 'toolErrors', 'timeouts', 'bytesIn', 'bytesOut', 'totalMicros'] as const) expect(stats[field]).not.toBe(0);
            for (const field of ['minMs', 'maxMs'] as const) expect(stats[field]).not.toBeNull();
            expect(stats.errorCodes).not.toEqual({});
          }
        }
      }),
      { numRuns: 30 },
    );
  });

  it('merges many stats at once into what merging them pair by pair gives', () => {
    fc.assert(
      fc.property(fc.array(anInteraction, { minLength: 1, maxLength: 60 }), (events) => {
        const docs = Object.values(project(latencyProjection, events)).flatMap(bucketsOf);
        const parts = docs.flatMap((doc) => [doc.total, ...Object.values(doc.servers), ...Object.values(doc.tools)]);
        expect(JSON.stringify(mergeAllStats(parts))).toBe(JSON.stringify(parts.reduce(mergeStats, emptyStats())));
        // What the queries answer, read off the merged bins, is the summary of the merged stats.
        expect(summarizeAllStats(parts)).toEqual(summarizeStats(mergeAllStats(parts)));
      }),
      { numRuns: 50 },
    );
  });

  it('stores a session hour\'s slowest calls as rows without the session, and folds into a session day written with objects as into one with rows', () => {
    let severalHours = 0;
    fc.assert(
      fc.property(fc.array(anInteraction, { minLength: 2, maxLength: 40 }), (drawn) => {
        // Every other call an hour earlier: session days of several hours, of which the last call touches one.
        const hourEarlier = (event: Interaction): KmEvent => {
          const earlier = (iso: string | null) => (iso === null ? null : new Date(Date.parse(iso) - 3_600_000).toISOString());
          return { ...event, ts: earlier(event.ts)!, startedAt: earlier(event.startedAt)!, endedAt: earlier(event.endedAt) };
        };
        const events = drawn.map((event, i) => (i % 2 === 1 ? hourEarlier(event as Interaction) : event));
        const [last, ...rest] = events;
        const docs = project(latencyProjection, rest);
        if (Object.entries(docs).some(([id, text]) => id.startsWith('session|') && Object.keys((JSON.parse(text) as SessionDayDoc).hours).length > 1)) severalHours++;
        const days = Object.entries(docs).filter(([id]) => id.startsWith('session|'));
        for (const [, text] of days) {
          const day = JSON.parse(text) as SessionDayDoc;
          for (const hour of Object.values(day.hours)) {
            for (const row of hour.slowest) expect(Array.isArray(row) && row.length === 7 && !row.includes(day.sessionId)).toBe(true);
          }
        }
        // Written before rows: each slow call an object naming its session.
        const withObjects = (text: string): LatencyDoc => {
          const doc = JSON.parse(text) as LatencyDoc;
          if (!('kind' in doc)) return doc;
          const hours = Object.fromEntries(Object.entries(doc.hours).map(([period, hour]) => [period, { ...hour, slowest: hour.slowest.map((entry) => slowInteractionOf(entry, doc.sessionId)) }]));
          return { ...doc, hours };
        };
        const stored = new Map<string, LatencyDoc | null>(Object.entries(docs).map(([id, text]) => [id, withObjects(text)]));
        for (const id of latencyProjection.docIds(last!)) stored.set(id, latencyProjection.evolve(stored.get(id) ?? null, last!, id));
        const expected = project(latencyProjection, [...rest, last!]);
        for (const id of latencyProjection.docIds(last!)) expect(JSON.stringify(stored.get(id))).toBe(expected[id]);
      }),
      { numRuns: 50 },
    );
    // The runs had session days of several hours (the old form kept in hours the last call did not touch).
    expect(severalHours).toBeGreaterThan(10);
  });

  it('reports the exact max and keeps the slowest calls for drill-down', () => {
    const events = [5, 500, 50].map((latencyMs, i) => ({ ...fc.sample(anInteraction, { seed: i, numRuns: 1 })[0]!, latencyMs, outcome: 'ok', error: null, endedAt: new Date(base).toISOString(), startedAt: new Date(base).toISOString(), id: newEventId(base + i) }) as KmEvent);
    const docs = Object.values(project(latencyProjection, events)).flatMap(bucketsOf);
    const org = docs.find((d) => d.scope === 'org' && d.granularity === 'hour')!;
    expect(org.period).toBe('2026-11-25T23:00:00.000Z');
    expect(docs.find((d) => d.scope === 'org' && d.granularity === 'day')!.period).toBe('2026-11-25T00:00:00.000Z');
    expect(summarizeStats(org.total)).toMatchObject({ count: 3, max: 500, totalMs: 555 });
    expect(org.slowest.map((s) => s.latencyMs)).toEqual([500, 50, 5]);
  });
});
