import { budgetDocs, costProjection, expandBucket, interactionsProjection, latencyProjection, newEventId, riskProjection, sessionsProjection, summarizeStats, type KmEvent, type Projection } from '../src/index';

const NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];
const base = Date.UTC(2026, 10, 25, 12, 0, 0);

function anInteraction(name: string, i: number): KmEvent {
  const startedAt = new Date(base + i).toISOString();
  return {
    v: 1, id: newEventId(base + i), ts: startedAt, type: 'mcp.interaction', orgId: 'o', projectId: name, userId: name, machineId: 'm',
    sessionId: 's', server: { name, command: 'x' }, direction: 'client_to_server', requestId: '1', method: name,
    target: name, protocolVersion: null, startedAt, endedAt: startedAt, latencyMs: 10, requestBytes: 1, responseBytes: 1,
    outcome: 'ok', error: null, resultType: null, tokensIn: 5, tokensOut: 5, costUsd: 0.5, findings: [], requestPreview: null,
    responsePreview: null,
  } as KmEvent;
}

function project<S>(projection: Projection<S>, events: KmEvent[]): Map<string, S> {
  const docs = new Map<string, S>();
  for (const event of events) for (const id of projection.docIds(event)) docs.set(id, projection.evolve(docs.get(id) ?? null, event, id));
  return docs;
}

describe.each(NAMES)('a name equal to an Object.prototype property (%s)', (name) => {
  const events = [anInteraction(name, 0), anInteraction(name, 1), { ...anInteraction(name, 2), method: 'tools/call' } as KmEvent];

  it('counts in every cost group and in the day spend', () => {
    const docs = project(costProjection, events) as Map<string, any>;
    const day = docs.get('day|2026-11-25');
    expect(day.total.interactions).toBe(3);
    for (const dimension of ['project', 'user', 'server']) {
      expect(Object.getOwnPropertyDescriptor(day.groups[dimension], name)?.value.interactions).toBe(3);
      expect(Object.getOwnPropertyDescriptor(day.groups[dimension], name)?.value.costNanoUsd).toBe(1_500_000_000);
    }
    const org = JSON.parse(JSON.stringify(docs.get('budget|org')));
    expect(Object.getOwnPropertyDescriptor(org.projects, name)?.value.days['2026-11-25']).toBe(1_500_000_000);
    const budget = budgetDocs([docs.get('budget|org')]).find((doc) => doc.id === `budget|project|${name}`);
    expect(budget).toMatchObject({ scope: 'project', projectId: name });
    expect(budget!.days['2026-11-25']).toBe(1_500_000_000);
  });

  it('counts in the latency buckets, by server, tool and method, and in the org total', () => {
    const docs = project(latencyProjection, events) as Map<string, any>;
    const org = [...docs.values()].find((doc) => doc.scope === 'org' && doc.granularity === 'hour');
    expect(org.total.count).toBe(3);
    expect(Object.getOwnPropertyDescriptor(org.servers, name)?.value.count).toBe(3);
    expect(Object.getOwnPropertyDescriptor(org.methods, name)?.value.count).toBe(2);
    expect(Object.values(org.tools).map((tool: any) => tool.count)).toEqual([1]);
    expect(JSON.parse(JSON.stringify(org)).servers[name].count).toBe(3);
  });

  it('counts in the per-session waits', () => {
    const docs = project(sessionsProjection, events) as Map<string, any>;
    expect(Object.values(docs.get('s').waits).map((wait: any) => wait.count).sort()).toEqual([1, 2]);
  });
});

/**
 * The same folds, with each document read back from JSON between events, as a store does (SQLite and Cosmos DB
 * alike): a JSON-parsed object has Object.prototype again, where `doc[name] = x` with name __proto__ sets the
 * prototype instead of a key.
 */
function projectThroughStore<S>(projection: Projection<S>, events: KmEvent[]): Map<string, S> {
  const docs = new Map<string, S>();
  for (const event of events) {
    for (const id of projection.docIds(event as never)) {
      const stored = docs.get(id);
      docs.set(id, projection.evolve(stored === undefined ? null : (JSON.parse(JSON.stringify(stored)) as S), event as never, id));
    }
  }
  return new Map([...docs].map(([id, doc]) => [id, JSON.parse(JSON.stringify(doc)) as S]));
}

describe.each(NAMES)('a name equal to an Object.prototype property (%s), documents read back from a store', (name) => {
  const finding = { ruleId: 'aws-access-key-id', severity: 'high', path: '$.params.arguments.key' };
  const events = [0, 1, 2].map((i) => ({ ...anInteraction(name, i), method: 'tools/call', findings: i === 1 ? [finding] : [] }) as KmEvent);

  it('counts in the cost groups', () => {
    const day = projectThroughStore(costProjection, events).get('day|2026-11-25') as any;
    for (const dimension of ['project', 'user', 'server', 'tool']) {
      const groups = day.groups[dimension];
      if (!groups) continue;
      expect(Object.keys(groups)).toEqual([dimension === 'tool' ? `${name}/${name}` : name]);
    }
    expect(day.groups.server[name].interactions).toBe(3);
  });

  it('counts in the latency buckets', () => {
    const org = [...projectThroughStore(latencyProjection, events).values()].find((doc: any) => doc.scope === 'org' && doc.granularity === 'hour') as any;
    expect(org.servers[name].count).toBe(3);
    expect(Object.keys(org.tools).length).toBe(1);
  });

  it('counts in the session, and its waits', () => {
    const session = projectThroughStore(sessionsProjection, events).get('s') as any;
    expect(session.interactionCount).toBe(3);
    expect(Object.values(session.waits).map((w: any) => w.count)).toEqual([3]);
  });

  it('keeps the finding, and the usage of the tool, in the risk documents', () => {
    const docs = [...projectThroughStore(riskProjection, events).values()] as any[];
    const withTools = docs.filter((doc) => doc.anomaly?.tools);
    expect(withTools.length).toBeGreaterThan(0);
    for (const doc of withTools) expect(Object.keys(doc.anomaly.tools)).toEqual([name]);
    expect(JSON.stringify(docs)).toContain('aws-access-key-id');
  });

  it('pages the interactions', () => {
    const docs = [...projectThroughStore(interactionsProjection, events).values()];
    expect(JSON.stringify(docs).split(`"${name}"`).length).toBeGreaterThan(3);
  });
});

describe('folds cannot overflow', () => {
  const at = (i: number, overrides: Record<string, unknown>) => ({ ...anInteraction('srv', i), ...overrides }) as KmEvent;

  it('one costUsd of 1e300 does not wipe the day spend', () => {
    const docs = project(costProjection, [at(0, { costUsd: 0.5 }), at(1, { costUsd: 1e300 }), at(2, { costUsd: 0.5 })]) as Map<string, any>;
    const day = docs.get('day|2026-11-25');
    expect(Number.isSafeInteger(day.total.costNanoUsd)).toBe(true);
    expect(day.total.costNanoUsd).toBeGreaterThanOrEqual(1_000_000_000);
    expect(Number.isSafeInteger(docs.get('budget|org').days['2026-11-25'])).toBe(true);
    expect(docs.get('budget|org').days['2026-11-25']).toBeGreaterThanOrEqual(1_000_000_000);
  });

  it('one latencyMs of 1e308 does not zero totalMs', () => {
    const docs = project(latencyProjection, [at(0, { latencyMs: 10 }), at(1, { latencyMs: 1e308 })]) as Map<string, any>;
    const org = [...docs.values()].find((doc) => doc.scope === 'org' && doc.granularity === 'hour');
    expect(Number.isSafeInteger(org.total.totalMicros)).toBe(true);
    expect(org.total.totalMicros).toBeGreaterThanOrEqual(10_000);
  });
});

describe('requests the client never answered', () => {
  it('are not server timeouts, and do not raise the error rate', () => {
    const unanswered = { ...anInteraction('srv', 1), direction: 'server_to_client', method: 'roots/list', target: null, outcome: 'unanswered', latencyMs: null, endedAt: null } as KmEvent;
    const docs = project(latencyProjection, [anInteraction('srv', 0), unanswered]) as Map<string, any>;
    // Stored stats leave out what is 0: read them as the queries do.
    const org = expandBucket([...docs.values()].find((doc) => doc.scope === 'org' && doc.granularity === 'hour'));
    expect(org.total.timeouts).toBe(0);
    expect(summarizeStats(org.total).errorRate).toBe(0);
    const clientSide = { ...unanswered, direction: 'client_to_server', method: 'tools/call', target: 'slow' } as KmEvent;
    const withTimeout = project(latencyProjection, [anInteraction('srv', 0), clientSide]) as Map<string, any>;
    expect(expandBucket([...withTimeout.values()].find((doc) => doc.scope === 'org' && doc.granularity === 'hour')).total.timeouts).toBe(1);
  });

  it('nor is a client\'s error answer to a request the server sent a server error', () => {
    const refused = { ...anInteraction('srv', 1), direction: 'server_to_client', method: 'roots/list', target: null, outcome: 'error', error: { code: -32601, message: 'no roots' } } as KmEvent;
    const docs = project(latencyProjection, [anInteraction('srv', 0), refused]) as Map<string, any>;
    const org = expandBucket([...docs.values()].find((doc) => doc.scope === 'org' && doc.granularity === 'hour'));
    expect([org.total.count, org.total.errors, Object.keys(org.total.errorCodes).length, summarizeStats(org.total).errorRate]).toEqual([2, 0, 0, 0]);
  });
});
