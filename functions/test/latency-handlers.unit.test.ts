import type { KmEvent, LatencyBucketDoc, StoredEvent } from '@km/shared';
import { ApiKeyAuthenticator, hashApiKey } from '../src/adapters/api-key-authenticator';
import { MemoryReadModelStore } from '../src/adapters/memory-read-model-store';
import type { HttpHandler } from '../src/handlers/http-results';
import { makeQueryLatencyHandler } from '../src/handlers/query-latency';
import { makeQueryLatencyBottlenecksHandler } from '../src/handlers/query-latency-bottlenecks';
import { makeQueryLatencySlowestHandler } from '../src/handlers/query-latency-slowest';
import { makeQueryLatencyTimeseriesHandler } from '../src/handlers/query-latency-timeseries';
import { makeQueryRecentInteractionsHandler } from '../src/handlers/query-recent-interactions';
import { projectBatch } from '../src/projector';
import { readModels } from '../src/read-models';
import { anEnvelope, interaction, positioned, stored } from './fixtures';
import { anHttpRequest, anInvocationContext, bearer } from './http-fixtures';

const authenticator = new ApiKeyAuthenticator([
  { keyHash: hashApiKey('key-a'), orgId: 'org-a' },
  { keyHash: hashApiKey('key-b'), orgId: 'org-b' },
]);
const NOW = new Date('2026-11-25T14:00:00.000Z');

/** Given these stored events projected into a store, the Performance Hub's handlers over it. */
async function given(events: StoredEvent[]) {
  const readModelStore = new MemoryReadModelStore();
  const projected = positioned(events);
  for (const projection of readModels) await projectBatch(projection, readModelStore, projected);
  const deps = { readModelStore, authenticator, now: () => NOW };
  const call = (handler: HttpHandler) => async (query = '', key = 'key-a') => {
    const response = await handler(anHttpRequest({ path: `/api/x${query}`, headers: bearer(key) }), anInvocationContext());
    return { status: response.status, body: response.jsonBody };
  };
  return {
    readModelStore,
    latency: call(makeQueryLatencyHandler(deps)),
    timeseries: call(makeQueryLatencyTimeseriesHandler(deps)),
    slowest: call(makeQueryLatencySlowestHandler(deps)),
    bottlenecks: call(makeQueryLatencyBottlenecksHandler(deps)),
    recent: call(makeQueryRecentInteractionsHandler(deps)),
  };
}

const everything = anEnvelope({ orgId: 'org-a', projectId: 'alpha', userId: 'ann', sessionId: 's-everything', server: { name: 'everything', command: 'x' } });
const memory = anEnvelope({ orgId: 'org-a', projectId: 'beta', userId: 'bob', sessionId: 's-memory', server: { name: 'memory', command: 'y' } });
const theirs = anEnvelope({ orgId: 'org-b', sessionId: 's-theirs', server: { name: 'everything', command: 'x' } });

/** Calls between 12:59 and 13:01 (across an hour), with known latencies and outcomes. */
function scenario(): KmEvent[] {
  return [
    interaction(everything, '2026-11-25T12:59:30.000Z', { target: 'echo', latencyMs: 10, requestBytes: 100, responseBytes: 200 }),
    interaction(everything, '2026-11-25T13:00:10.000Z', { target: 'echo', latencyMs: 20 }),
    interaction(everything, '2026-11-25T13:00:20.000Z', { target: 'slow', latencyMs: 1500 }),
    interaction(everything, '2026-11-25T13:00:30.000Z', { target: 'slow', outcome: 'tool_error', latencyMs: 5 }),
    interaction(everything, '2026-11-25T13:00:40.000Z', { method: 'resources/read', target: 'file:///x', latencyMs: 100 }),
    interaction(everything, '2026-11-25T13:00:50.000Z', { target: 'nope', outcome: 'error', latencyMs: 1, error: { code: -32602, message: 'bad' } }),
    interaction(memory, '2026-11-25T13:30:00.000Z', { target: 'read_graph', latencyMs: 300 }),
    interaction(memory, '2026-11-25T13:31:00.000Z', { target: 'read_graph', outcome: 'unanswered', latencyMs: null, endedAt: null, responseBytes: 0 }),
    interaction(theirs, '2026-11-25T13:00:00.000Z', { target: 'echo', latencyMs: 99_999 }),
  ];
}

describe('GET /api/latency', () => {
  it("groups the caller's interactions by server, with percentiles, errors, timeouts and bytes", async () => {
    const api = await given(stored(scenario()));
    const { status, body } = await api.latency('?groupBy=server&from=2026-11-25T12:00:00Z&to=2026-11-25T14:00:00Z');
    expect(status).toBe(200);
    expect(body).toMatchObject({ from: '2026-11-25T12:00:00.000Z', to: '2026-11-25T14:00:00.000Z', groupBy: 'server' });
    expect(body.groups.map((g: { key: string }) => g.key)).toEqual(['everything', 'memory']);
    const [ev, mem] = body.groups;
    expect(ev).toMatchObject({ key: 'everything', server: 'everything', count: 6, errors: 1, errorCodes: { '-32602': 1 }, toolErrors: 1, timeouts: 0, max: 1500, totalMs: 1636 });
    expect(ev.errorRate).toBeCloseTo(2 / 6);
    // nearest rank over 1, 5, 10, 20, 100, 1500 ms: p50 is the 3rd, p95 and p99 the 6th, each within 1%
    expect(Math.abs(ev.p50 - 10)).toBeLessThanOrEqual(0.1);
    expect(Math.abs(ev.p95 - 1500)).toBeLessThanOrEqual(15);
    expect(ev.p99).toBe(1500); // clamped to the exact max
    expect(mem).toMatchObject({ count: 2, timeouts: 1, p50: 300, max: 300, totalMs: 300 });
    // org-b's 100 s call is not org-a's
    expect((await api.latency('?groupBy=server&from=2026-11-25T12:00:00Z', 'key-b')).body.groups).toEqual([expect.objectContaining({ count: 1, max: 99_999 })]);
  });

  it('gives the total of everything the filters pass, with percentiles over all of its calls', async () => {
    const api = await given(stored(scenario()));
    const range = '&from=2026-11-25T12:00:00Z&to=2026-11-25T14:00:00Z';
    const all = (await api.latency(`?groupBy=method${range}`)).body.total;
    // Eight calls of org-a; the unanswered one has no latency: p50 of [1, 5, 10, 20, 100, 300, 1500] is 20.
    expect(all).toMatchObject({ count: 8, errors: 1, toolErrors: 1, timeouts: 1, max: 1500 });
    expect(all.p50).toBeCloseTo(20, -0.5);
    expect((await api.latency(`?groupBy=server&server=memory${range}`)).body.total).toMatchObject({ count: 2, timeouts: 1, max: 300 });
    expect((await api.latency(`?groupBy=tool&tool=slow${range}`)).body.total).toMatchObject({ count: 2, toolErrors: 1, max: 1500 });
    expect((await api.latency(`?groupBy=server&from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z`)).body.total).toMatchObject({ count: 0, p95: null });
  });

  it('groups by tool (tools/call only) and by method; filters by server, tool, project, user; to the hour', async () => {
    const api = await given(stored(scenario()));
    const range = '&from=2026-11-25T12:00:00Z&to=2026-11-25T14:00:00Z';
    const tools = (await api.latency(`?groupBy=tool${range}`)).body.groups;
    expect(tools.map((g: { key: string; server: string; tool: string; count: number }) => [g.key, g.server, g.tool, g.count])).toEqual([
      ['everything/slow', 'everything', 'slow', 2],
      ['memory/read_graph', 'memory', 'read_graph', 2],
      ['everything/echo', 'everything', 'echo', 2],
      ['everything/nope', 'everything', 'nope', 1],
    ]);
    const methods = (await api.latency(`?groupBy=method${range}`)).body.groups;
    expect(methods.map((g: { key: string; count: number }) => [g.key, g.count])).toEqual([['tools/call', 7], ['resources/read', 1]]);
    expect((await api.latency(`?groupBy=tool&server=everything&tool=echo${range}`)).body.groups).toEqual([expect.objectContaining({ key: 'everything/echo', count: 2, totalMs: 30 })]);
    expect((await api.latency(`?groupBy=server&projectId=beta${range}`)).body.groups.map((g: { key: string }) => g.key)).toEqual(['memory']);
    expect((await api.latency(`?groupBy=server&userId=ann${range}`)).body.groups.map((g: { key: string }) => g.key)).toEqual(['everything']);
    // 13:00:15..13:00:59 widens to the whole hour 13:00..14:00: the call of 12:59 is out, those of 13:30 and 13:31 in.
    const hour = (await api.latency('?groupBy=server&from=2026-11-25T13:00:15Z&to=2026-11-25T13:00:59Z')).body;
    expect(hour).toMatchObject({ from: '2026-11-25T13:00:00.000Z', to: '2026-11-25T14:00:00.000Z' });
    expect(hour.groups).toEqual([expect.objectContaining({ key: 'everything', count: 5 }), expect.objectContaining({ key: 'memory', count: 2 })]);
  });

  it('answers a range of whole days from day documents and its edges from hour documents', async () => {
    const days = [20, 21, 22, 23, 24].map((day) => interaction(everything, `2026-11-${day}T06:15:00.000Z`, { target: 'echo', latencyMs: day }));
    const api = await given(stored([...scenario(), ...days]));
    const { body } = await api.latency('?groupBy=server&from=2026-10-27T05:20:00Z&to=2026-11-25T13:10:00Z');
    expect(body).toMatchObject({ from: '2026-10-27T05:00:00.000Z', to: '2026-11-25T14:00:00.000Z' });
    expect(body.groups).toEqual([expect.objectContaining({ key: 'everything', count: 11, max: 1500 }), expect.objectContaining({ key: 'memory', count: 2 })]);
    // from 07:00 on the 20th: that day is read by its hours from 07:00 on, so its call of 06:15 is out
    const edge = (await api.latency('?groupBy=server&from=2026-11-20T07:00:00Z&to=2026-11-25T00:00:00Z')).body.groups;
    expect(edge).toEqual([expect.objectContaining({ key: 'everything', count: 4 })]);
  });

  it("answers a project's or a user's whole days from their hours (they have no day documents), the same as the org's", async () => {
    const days = [20, 21, 22, 23, 24].map((day) => interaction(everything, `2026-11-${day}T06:15:00.000Z`, { target: 'echo', latencyMs: day }));
    const api = await given(stored([...scenario(), ...days]));
    const range = '&from=2026-11-19T00:00:00Z&to=2026-11-26T00:00:00Z';
    const org = (await api.latency(`?groupBy=tool&server=everything${range}`)).body.groups;
    for (const scope of ['projectId=alpha', 'userId=ann']) {
      expect((await api.latency(`?groupBy=tool&${scope}${range}`)).body.groups).toEqual(org);
    }
    expect(org).toEqual(expect.arrayContaining([expect.objectContaining({ key: 'everything/echo', count: 7, max: 24 })]));
    expect((await api.latency(`?groupBy=server&projectId=beta${range}`)).body.groups).toEqual([expect.objectContaining({ key: 'memory', count: 2, timeouts: 1 })]);
  });

  it("narrows a project to one of its users (the dashboard's two filters), from the sessions of both", async () => {
    // ann and bob both work on alpha; ann also on beta.
    const bobOnAlpha = anEnvelope({ orgId: 'org-a', projectId: 'alpha', userId: 'bob', sessionId: 's-bob-alpha', server: { name: 'everything', command: 'x' } });
    const annOnBeta = anEnvelope({ orgId: 'org-a', projectId: 'beta', userId: 'ann', sessionId: 's-ann-beta', server: { name: 'everything', command: 'x' } });
    const calls = [
      interaction(everything, '2026-11-25T12:10:00.000Z', { target: 'echo', latencyMs: 10 }),
      interaction(everything, '2026-11-25T12:11:00.000Z', { target: 'echo', latencyMs: 20 }),
      interaction(bobOnAlpha, '2026-11-25T12:12:00.000Z', { target: 'echo', latencyMs: 500 }),
      interaction(annOnBeta, '2026-11-25T12:13:00.000Z', { target: 'echo', latencyMs: 900 }),
    ];
    const api = await given(stored(calls));
    const range = '&from=2026-11-25T12:00:00Z&to=2026-11-25T13:00:00Z';
    const mine = await given(stored(calls.slice(0, 2)));
    for (const route of ['latency', 'timeseries', 'slowest', 'bottlenecks'] as const) {
      const query = `?projectId=alpha&userId=ann${route === 'timeseries' ? '&bucket=hour' : ''}${range}`;
      const answer = await api[route](query);
      // Before, a 400: the Overview and Performance Hub broke with a project and a user picked.
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual((await mine[route](`?projectId=alpha${route === 'timeseries' ? '&bucket=hour' : ''}${range}`)).body);
    }
    expect((await api.latency(`?groupBy=tool&projectId=alpha&userId=ann${range}`)).body.groups).toEqual([expect.objectContaining({ key: 'everything/echo', count: 2, max: 20 })]);
  });

  it("adds the project and user hour documents a store written before session days holds to a project's or user's hours", async () => {
    const events = stored(scenario().filter((event) => event.sessionId === 's-everything'));
    const range = '&from=2026-11-25T12:00:00Z&to=2026-11-25T14:00:00Z';
    const all = await given(events);
    // Written before: the first events in hour documents of the project and of the user (the org's, rescoped: only
    // this session is in them), the rest in session days.
    const older = await given(events.slice(0, 3));
    const api = await given(events.slice(3));
    for (const doc of await older.readModelStore.query<LatencyBucketDoc>('latency', 'org-a', { where: { scope: 'org', granularity: 'hour' } })) {
      for (const scope of ['project:alpha', 'user:ann']) {
        const id = doc.id.replace(/\|org$/, `|${scope}`);
        await api.readModelStore.upsert('latency', 'org-a', id, { ...doc, id, scope });
      }
    }
    for (const query of [`?groupBy=tool&projectId=alpha${range}`, `?groupBy=method&userId=ann${range}`]) {
      expect((await api.latency(query)).body).toEqual((await all.latency(query)).body);
    }
    expect((await api.slowest(`?userId=ann${range}`)).body).toEqual((await all.slowest(`?userId=ann${range}`)).body);
    expect((await api.timeseries(`?bucket=hour&projectId=alpha${range}`)).body).toEqual((await all.timeseries(`?bucket=hour&projectId=alpha${range}`)).body);
  });

  it.each([
    ['?groupBy=session', 'groupBy must be one of server, tool, method'],
    ['?from=yesterday', 'from must be an ISO 8601 date-time'],
    ['?from=2026-11-25T13:00:00Z&to=2026-11-25T12:00:00Z', 'from must be before to: from (2026-11-25T13:00:00.000Z) is not before to (2026-11-25T12:00:00.000Z)'],
    // A from alone in the future: the to it is not before is the one nobody gave, and the 400 says so.
    ['?from=2099-01-01', 'from (2099-01-01T00:00:00.000Z) is not before to (now, '],
    ['?from=2026-01-01T00:00:00Z&to=2026-11-25T12:00:00Z', 'at most 92 days'],
    ['?groupBy=method&server=everything', 'server cannot be used here'],
    ['?groupBy=server&tool=echo', 'tool cannot be used here'],
  ])('answers 400 to %s', async (query, message) => {
    const api = await given([]);
    const { status, body } = await api.latency(query);
    expect(status).toBe(400);
    expect(body.error).toContain(message);
  });

  it('answers 401 without a key', async () => {
    const api = await given([]);
    expect((await api.latency('', 'wrong')).status).toBe(401);
  });
});

describe('GET /api/latency/timeseries', () => {
  it('gives one point per bucket, empty ones included, for everything or one server or tool', async () => {
    const api = await given(stored(scenario()));
    const { status, body } = await api.timeseries('?bucket=hour&from=2026-11-25T11:30:00Z&to=2026-11-25T13:02:00Z');
    expect(status).toBe(200);
    expect(body.bucket).toBe('hour');
    expect(body.points.map((p: { t: string; count: number }) => [p.t, p.count])).toEqual([
      ['2026-11-25T11:00:00.000Z', 0],
      ['2026-11-25T12:00:00.000Z', 1],
      ['2026-11-25T13:00:00.000Z', 7],
    ]);
    expect(body.points[0]).toMatchObject({ p50: null, max: null, errors: 0 });
    const hours = (await api.timeseries('?bucket=hour&server=memory&from=2026-11-25T12:00:00Z&to=2026-11-25T14:00:00Z')).body.points;
    expect(hours.map((p: { count: number; timeouts: number }) => [p.count, p.timeouts])).toEqual([[0, 0], [2, 1]]);
    const days = (await api.timeseries('?bucket=day&tool=slow&from=2026-11-24T00:00:00Z&to=2026-11-26T00:00:00Z')).body.points;
    expect(days).toEqual([
      expect.objectContaining({ t: '2026-11-24T00:00:00.000Z', count: 0 }),
      expect.objectContaining({ t: '2026-11-25T00:00:00.000Z', count: 2, max: 1500 }),
    ]);
  });

  it("gives a project's or a user's day points from their hours, as the org's day documents say", async () => {
    const days = [23, 24].map((day) => interaction(everything, `2026-11-${day}T06:15:00.000Z`, { target: 'slow', latencyMs: 700 + day }));
    const api = await given(stored([...scenario(), ...days]));
    const series = async (query: string) => (await api.timeseries(`?bucket=day&from=2026-11-22T00:00:00Z&to=2026-11-26T00:00:00Z${query}`)).body.points;
    const org = await series('&server=everything');
    expect(org.map((p: { count: number }) => p.count)).toEqual([0, 1, 1, 6]);
    expect(await series('&projectId=alpha')).toEqual(org);
    expect(await series('&userId=ann&tool=slow')).toEqual(await series('&tool=slow'));
    expect((await series('&userId=bob')).map((p: { count: number }) => p.count)).toEqual([0, 0, 0, 2]);
  });

  it('refuses a series of more than 1500 points', async () => {
    const api = await given([]);
    const { status, body } = await api.timeseries('?bucket=hour&from=2026-09-01T00:00:00Z&to=2026-11-25T00:00:00Z');
    expect(status).toBe(400);
    expect(body.error).toContain('use a larger bucket or a shorter range');
  });

  it('refuses minute buckets, which are no longer kept, and points to hours', async () => {
    const api = await given(stored(scenario()));
    const { status, body } = await api.timeseries('?bucket=minute&from=2026-11-25T12:59:00Z&to=2026-11-25T13:02:00Z');
    expect(status).toBe(400);
    expect(body.error).toContain('use bucket=hour');
    expect((await api.timeseries('?bucket=week')).body.error).toContain('bucket must be one of hour, day');
  });
});

describe('GET /api/latency/slowest', () => {
  it('lists the slowest answered calls of the range with their sessions, slowest first', async () => {
    const api = await given(stored(scenario()));
    const { status, body } = await api.slowest('?limit=3&from=2026-11-25T12:00:00Z&to=2026-11-25T14:00:00Z');
    expect(status).toBe(200);
    expect(body.interactions.map((i: { latencyMs: number }) => i.latencyMs)).toEqual([1500, 300, 100]);
    expect(body.interactions[0]).toEqual({ id: expect.any(String), sessionId: 's-everything', server: 'everything', tool: 'slow', method: 'tools/call', latencyMs: 1500, startedAt: '2026-11-25T13:00:20.000Z', outcome: 'ok' });
    expect(body.interactions[2]).toMatchObject({ method: 'resources/read', tool: null });
    // exact to the hour: 13:00:25..13:10 widens to 13:00..14:00, so the 1.5 s call of 13:00:20 is in, the 10 ms one of 12:59 out
    const later = (await api.slowest('?from=2026-11-25T13:00:25Z&to=2026-11-25T13:10:00Z')).body.interactions;
    expect(later.map((i: { latencyMs: number }) => i.latencyMs)).toEqual([1500, 300, 100, 20, 5, 1]);
    expect((await api.slowest('?projectId=beta&from=2026-11-25T12:00:00Z')).body.interactions.map((i: { tool: string }) => i.tool)).toEqual(['read_graph']);
  });

  it('refuses filters it cannot honour and limits above 20, the slowest a bucket keeps', async () => {
    const api = await given([]);
    expect((await api.slowest('?server=everything')).body.error).toContain('server cannot be used here');
    expect((await api.slowest('?limit=21')).status).toBe(400);
    expect((await api.slowest('?limit=20')).status).toBe(200);
  });

  it('keeps the 20 slowest of a busy hour and of its day', async () => {
    const calls = Array.from({ length: 30 }, (_, i) => interaction(everything, `2026-11-24T10:${String(i).padStart(2, '0')}:00.000Z`, { target: 'echo', latencyMs: i + 1 }));
    const api = await given(stored(calls));
    const hour = (await api.slowest('?limit=20&from=2026-11-24T10:00:00Z&to=2026-11-24T11:00:00Z')).body.interactions;
    const day = (await api.slowest('?limit=20&from=2026-11-24T00:00:00Z&to=2026-11-25T00:00:00Z')).body.interactions;
    const slowest20 = Array.from({ length: 20 }, (_, i) => 30 - i);
    expect(hour.map((i: { latencyMs: number }) => i.latencyMs)).toEqual(slowest20);
    expect(day.map((i: { latencyMs: number }) => i.latencyMs)).toEqual(slowest20);
  });
});

describe('GET /api/latency/bottlenecks', () => {
  it('ranks servers and tools by their share of the waiting time, non-tool methods as tool null', async () => {
    const api = await given(stored(scenario()));
    const { status, body } = await api.bottlenecks('?from=2026-11-25T12:00:00Z&to=2026-11-25T14:00:00Z');
    expect(status).toBe(200);
    expect(body.groups.map((g: { server: string; tool: string | null; totalMs: number; count: number }) => [g.server, g.tool, g.totalMs, g.count])).toEqual([
      ['everything', 'slow', 1505, 2],
      ['memory', 'read_graph', 300, 2],
      ['everything', null, 100, 1],
      ['everything', 'echo', 30, 2],
      ['everything', 'nope', 1, 1],
    ]);
    expect(body.groups[0].share).toBeCloseTo(1505 / 1936);
    expect(body.groups.reduce((sum: number, g: { share: number }) => sum + g.share, 0)).toBeCloseTo(1);
  });

  it('narrows the ranking to a server or a tool, shares of what is kept', async () => {
    const api = await given(stored(scenario()));
    const range = '&from=2026-11-25T12:00:00Z&to=2026-11-25T14:00:00Z';
    const everything = (await api.bottlenecks(`?server=everything${range}`)).body.groups;
    expect(everything.map((g: { tool: string | null }) => g.tool)).toEqual(['slow', null, 'echo', 'nope']);
    expect(everything[0].share).toBeCloseTo(1505 / 1636);
    expect((await api.bottlenecks(`?server=memory&tool=read_graph${range}`)).body.groups).toEqual([expect.objectContaining({ server: 'memory', tool: 'read_graph', share: 1 })]);
    expect((await api.bottlenecks(`?tool=nothing${range}`)).body.groups).toEqual([]);
  });

  it('answers per session, and 404 for a session of another org', async () => {
    const api = await given(stored(scenario()));
    const { body } = await api.bottlenecks('?sessionId=s-everything');
    expect(body.groups.map((g: { tool: string | null; totalMs: number }) => [g.tool, g.totalMs])).toEqual([['slow', 1505], [null, 100], ['echo', 30], ['nope', 1]]);
    expect(body.groups[0]).toMatchObject({ server: 'everything', count: 2 });
    expect((await api.bottlenecks('?sessionId=s-theirs')).status).toBe(404);
    expect((await api.bottlenecks('?sessionId=s-everything&from=2026-11-25T12:00:00Z')).status).toBe(400);
  });

  it('adds the waits an older km.db kept in the latencySessions model, which stopped folding when sessions began to', async () => {
    const api = await given(stored(scenario()));
    const waits = { 'tool:slow': { tool: 'slow', totalMicros: 1_000_000, count: 1 }, 'tool:older': { tool: 'older', totalMicros: 7_000, count: 4 } };
    await api.readModelStore.upsert('latencySessions', 'org-a', 's-everything', { id: 's-everything', orgId: 'org-a', sessionId: 's-everything', projectId: 'alpha', server: 'everything', waits, firstEventId: null });
    await api.readModelStore.upsert('latencySessions', 'org-a', 's-only-old', { id: 's-only-old', orgId: 'org-a', sessionId: 's-only-old', projectId: 'alpha', server: 'memory', waits, firstEventId: null });
    const groups = (await api.bottlenecks('?sessionId=s-everything')).body.groups.map((g: { tool: string | null; totalMs: number; count: number }) => [g.tool, g.totalMs, g.count]);
    expect(groups).toEqual([['slow', 2505, 3], [null, 100, expect.any(Number)], ['echo', 30, expect.any(Number)], ['older', 7, 4], ['nope', 1, expect.any(Number)]]);
    expect((await api.bottlenecks('?sessionId=s-only-old')).body.groups[0]).toMatchObject({ server: 'memory', tool: 'slow', count: 1 });
  });
});

describe('GET /api/interactions/recent', () => {
  it('pages through interactions in arrival order with a cursor', async () => {
    const events = scenario().filter((e) => e.orgId === 'org-a');
    const api = await given([
      ...stored(events.slice(0, 3), 'b1', '2026-11-25T13:00:01.000Z'),
      ...stored(events.slice(3, 6), 'b2', '2026-11-25T13:00:02.000Z'),
      ...stored(events.slice(6), 'b3', '2026-11-25T13:00:03.000Z'),
    ]);
    const first = (await api.recent('?limit=2')).body;
    expect(first.interactions.map((i: { receivedAt: string }) => i.receivedAt)).toEqual(['2026-11-25T13:00:03.000Z', '2026-11-25T13:00:03.000Z']);
    expect(first.interactions[0]).toMatchObject({ server: 'memory', method: 'tools/call', tool: 'read_graph' });
    expect(first.interactions[0]).not.toHaveProperty('requestPreview');
    expect((await api.recent(`?after=${first.cursor}`)).body).toMatchObject({ interactions: [], cursor: first.cursor, missed: false });

    const all = (await api.recent('?limit=500')).body.interactions;
    expect(all).toHaveLength(8);
    const afterThird = (await api.recent(`?limit=2&after=${(await api.recent('?limit=8')).body.cursor}`)).body;
    expect(afterThird.interactions).toEqual([]);
    // walk from the start: a cursor made from the first page goes on where it stopped
    let cursor = Buffer.from(JSON.stringify(['', ''])).toString('base64url');
    const seen: string[] = [];
    for (let page = 0; page < 5; page++) {
      const body = (await api.recent(`?limit=3&after=${cursor}`)).body;
      seen.push(...body.interactions.map((i: { id: string }) => i.id));
      cursor = body.cursor;
    }
    expect(seen).toEqual(all.map((i: { id: string }) => i.id));
  });

  it('answers 400 to a cursor it did not make', async () => {
    const api = await given([]);
    const { status, body } = await api.recent('?after=nonsense');
    expect(status).toBe(400);
    expect(body.error).toContain('cursor of a previous');
  });
});

describe('names equal to Object.prototype properties', () => {
  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'])('answers the timeseries for server=%s', async (name) => {
    const envelope = anEnvelope({ orgId: 'org-a', sessionId: 's-proto', server: { name, command: 'x' } });
    const api = await given(stored([interaction(envelope, '2026-11-25T13:00:10.000Z', { target: name, latencyMs: 20 })]));
    const empty = await api.timeseries('?bucket=hour&server=nothing-here&from=2026-11-25T12:00:00Z&to=2026-11-25T14:00:00Z');
    expect(empty.body.points.map((p: { count: number }) => p.count)).toEqual([0, 0]);
    for (const filter of [`server=${encodeURIComponent(name)}`, 'server=constructor']) {
      const { status, body } = await api.timeseries(`?bucket=hour&${filter}&from=2026-11-25T12:00:00Z&to=2026-11-25T14:00:00Z`);
      expect(status).toBe(200);
      expect(body.points.map((p: { count: number }) => p.count)).toEqual(filter.endsWith(encodeURIComponent(name)) ? [0, 1] : [0, name === 'constructor' ? 1 : 0]);
    }
    const grouped = await api.latency(`?groupBy=server&from=2026-11-25T12:00:00Z&to=2026-11-25T14:00:00Z`);
    expect(grouped.status).toBe(200);
  });
});

describe('timeseries errorRate', () => {
  it('is the same figure as /api/latency: errors, tool errors and timeouts over all requests', async () => {
    const api = await given(stored(scenario()));
    const range = 'from=2026-11-25T12:00:00Z&to=2026-11-25T14:00:00Z';
    const points = (await api.timeseries(`?bucket=hour&server=everything&${range}`)).body.points;
    const group = (await api.latency(`?groupBy=server&server=everything&${range}`)).body;
    const hour13 = points.find((p: { t: string }) => p.t === '2026-11-25T13:00:00.000Z');
    expect(hour13.errorRate).toBeCloseTo((hour13.errors + hour13.toolErrors + hour13.timeouts) / hour13.count);
    expect(hour13.errorRate).toBeGreaterThan(hour13.errors / hour13.count);
    expect(JSON.stringify(group)).toContain('errorRate');
  });
});
