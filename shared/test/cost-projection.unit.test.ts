import fc from 'fast-check';
import {
  budgetDocs,
  budgetView,
  derivedEventId,
  BudgetSetSchema,
  BudgetThresholdCrossedSchema,
  costProjection,
  costReport,
  costSummary,
  forecastMonthEnd,
  InteractionSchema,
  newEventId,
  type BudgetDoc,
  type BudgetSet,
  type CostBucketDoc,
  type CostDoc,
  type Interaction,
  type KmEvent,
  type ServerEvent,
  type TeamSet,
} from '../src/index';

const ORG = 'org-a';
let seq = 0;

function anInteraction(ts: string, overrides: Partial<Interaction> = {}): Interaction {
  return InteractionSchema.parse({
    id: newEventId(Date.parse(ts)),
    v: 1,
    ts,
    orgId: ORG,
    projectId: 'web',
    userId: 'dev@example.com',
    machineId: 'm1',
    sessionId: 's1',
    server: { name: 'github', command: 'github-mcp' },
    type: 'mcp.interaction',
    direction: 'client_to_server',
    requestId: String(++seq),
    method: 'tools/call',
    target: 'search',
    protocolVersion: '2025-06-18',
    startedAt: ts,
    endedAt: ts,
    latencyMs: 1,
    requestBytes: 10,
    responseBytes: 10,
    outcome: 'ok',
    error: null,
    resultType: null,
    tokensIn: 1000,
    tokensOut: 100,
    costUsd: 0.0045,
    findings: [],
    requestPreview: null,
    responsePreview: null,
    model: 'claude-sonnet-4-5',
    ...overrides,
  }) as Interaction;
}

function aBudgetSet(ts: string, monthlyUsd: number, overrides: Partial<BudgetSet> = {}): BudgetSet {
  return BudgetSetSchema.parse({
    id: newEventId(Date.parse(ts)),
    v: 1,
    type: 'budget.set',
    ts,
    orgId: ORG,
    scope: 'project',
    projectId: 'web',
    monthlyUsd,
    webhookUrl: 'https://hooks.example.com/x',
    ...overrides,
  }) as BudgetSet;
}

function aTeamSet(ts: string, teamId: string, userIds: string[]): TeamSet {
  return { id: newEventId(Date.parse(ts)), v: 1, type: 'team.set', ts, orgId: ORG, teamId, name: teamId, userIds, actor: 'key:admin' };
}

/** Given these events, when each is folded into every document it names, then these documents. */
function fold(events: ReadonlyArray<KmEvent | ServerEvent>): Map<string, CostDoc> {
  const docs = new Map<string, CostDoc>();
  for (const event of events) {
    for (const docId of costProjection.docIds(event)) {
      const next = costProjection.evolve(docs.get(docId) ?? null, event, docId);
      if (next) docs.set(docId, next);
    }
  }
  return docs;
}

/** The read model as queries see it, in id order. */
function view(docs: Map<string, CostDoc>) {
  return Object.fromEntries([...docs.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
}

describe('cost projection', () => {
  it('given interactions, buckets spend and tokens by hour and day, in total and per dimension', () => {
    const docs = fold([
      anInteraction('2026-11-25T13:05:00.000Z'),
      anInteraction('2026-11-25T13:55:00.000Z', { target: 'create_issue', costUsd: 0.01, userId: 'ann@example.com' }),
      anInteraction('2026-11-25T14:10:00.000Z', { method: 'initialize', target: null, tokensIn: 0, tokensOut: 0, costUsd: 0, model: null }),
    ]);
    const day = docs.get('day|2026-11-25') as CostBucketDoc;
    expect(day.total).toEqual({ costNanoUsd: 14_500_000 * 1 + 0, tokensIn: 2000, tokensOut: 200, interactions: 3 });
    expect(day.groups.tool).toEqual({
      'github/search': { costNanoUsd: 4_500_000, tokensIn: 1000, tokensOut: 100, interactions: 1 },
      'github/create_issue': { costNanoUsd: 10_000_000, tokensIn: 1000, tokensOut: 100, interactions: 1 },
      'github/(initialize)': { costNanoUsd: 0, tokensIn: 0, tokensOut: 0, interactions: 1 },
    });
    expect(Object.keys(day.groups.user).sort()).toEqual(['ann@example.com', 'dev@example.com']);
    expect(Object.keys(day.groups.model).sort()).toEqual(['(unknown)', 'claude-sonnet-4-5']);
    expect((docs.get('hour|2026-11-25T13') as CostBucketDoc).total.interactions).toBe(2);
    expect((docs.get('hour|2026-11-25T14') as CostBucketDoc).total.interactions).toBe(1);
    const report = costReport([day], { from: '2026-11-25', to: '2026-11-25' }, 'tool');
    expect(report.total).toEqual({ costUsd: 0.0145, tokensIn: 2000, tokensOut: 200, interactions: 3 });
    expect(report.groups.map((g) => g.key)).toEqual(['github/create_issue', 'github/search', 'github/(initialize)']);
  });

  it('keeps the newest tools/list per server for the context tax, and a model of its latest day of use', () => {
    const base = { v: 1 as const, orgId: ORG, projectId: 'web', userId: 'u', machineId: 'm', sessionId: 's', server: { name: 'github', command: 'x' } };
    const older = { ...base, id: newEventId(Date.parse('2026-11-25T10:00:00Z')), ts: '2026-11-25T10:00:00.000Z', type: 'mcp.tools_listed' as const, tools: [], definitionBytes: 100, contextTokens: 30 };
    const newer = { ...older, id: newEventId(Date.parse('2026-11-25T11:00:00Z')), definitionBytes: 900, contextTokens: 250 };
    for (const order of [[older, newer], [newer, older]]) {
      const doc = fold([...order, anInteraction('2026-11-25T12:00:00.000Z', { model: 'gpt-4o' })]).get('context|github');
      expect(doc).toMatchObject({ kind: 'context', server: 'github', definitionBytes: 900, contextTokens: 250, model: 'gpt-4o' });
    }
    const earlier = anInteraction('2026-11-24T12:00:00.000Z', { model: 'a-model' });
    const sameDay = [anInteraction('2026-11-25T09:00:00.000Z', { model: 'gpt-4o' }), anInteraction('2026-11-25T12:00:00.000Z', { model: 'claude-sonnet-4-5' })];
    for (const order of [[earlier, ...sameDay], [...sameDay].reverse().concat(earlier)]) {
      expect(fold(order).get('context|github')).toMatchObject({ model: 'claude-sonnet-4-5', modelDay: '2026-11-25' });
    }
  });

  // Duplicates never reach the fold: the projector skips replays by log position (functions/test/projector*.test.ts).
  it('any order gives the same read model (fast-check)', () => {
    const days = ['2026-10-31', '2026-11-01', '2026-11-02'];
    const anEvent = fc.oneof(
      fc.record({
        day: fc.constantFrom(...days),
        hour: fc.integer({ min: 0, max: 23 }),
        costUsd: fc.double({ min: 0, max: 2, noNaN: true }),
        tokensIn: fc.integer({ min: 0, max: 100_000 }),
        project: fc.constantFrom('web', 'api'),
        tool: fc.constantFrom('search', 'create_issue'),
        user: fc.constantFrom('ann', 'bob', 'cy'),
      }).map((e) => anInteraction(`${e.day}T${String(e.hour).padStart(2, '0')}:00:00.000Z`, { costUsd: e.costUsd, tokensIn: e.tokensIn, projectId: e.project, target: e.tool, userId: e.user }) as KmEvent | ServerEvent),
      fc.record({ day: fc.constantFrom(...days), usd: fc.integer({ min: 1, max: 100 }) }).map((b) => aBudgetSet(`${b.day}T12:00:00.000Z`, b.usd) as KmEvent | ServerEvent),
      // team budgets and the teams they are judged on
      fc.record({ day: fc.constantFrom(...days), usd: fc.integer({ min: 1, max: 5 }) }).map((b) => aBudgetSet(`${b.day}T13:00:00.000Z`, b.usd, { scope: 'team', projectId: null, teamId: 'core' }) as KmEvent | ServerEvent),
      fc.record({ day: fc.constantFrom(...days), users: fc.subarray(['ann', 'bob', 'cy']) }).map((t) => aTeamSet(`${t.day}T14:00:00.000Z`, 'core', t.users) as KmEvent | ServerEvent),
    );
    fc.assert(
      fc.property(fc.array(anEvent, { minLength: 1, maxLength: 40 }), fc.integer(), (events, seed) => {
        const shuffled = fc.sample(fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }), { numRuns: 1, seed })[0]!;
        const expected = view(fold(events));
        expect(view(fold(shuffled))).toEqual(expected);
        // and the events the budget documents imply are the same too
        const implied = (docs: Map<string, CostDoc>) => [...docs.values()].flatMap((d) => costProjection.emits!(d, d.id)).map((e) => e.id).sort();
        expect(implied(fold(shuffled))).toEqual(implied(fold(events)));
      }),
      { numRuns: 150 },
    );
  });

  it('a budget implies one threshold event per threshold reached, with ids that depend only on org, scope, period and threshold', () => {
    const events = [aBudgetSet('2026-11-01T00:00:00.000Z', 10), ...Array.from({ length: 9 }, (_, i) => anInteraction(`2026-11-0${i + 1}T10:00:00.000Z`, { costUsd: 1 }))];
    // The project's budget lives in the org's budget document, which implies its events.
    const at = (n: number) => {
      const doc = fold(events.slice(0, n + 1)).get('budget|org')!;
      return costProjection.emits!(doc, doc.id);
    };
    expect(at(4).map((e) => e.threshold)).toEqual([]);
    expect(at(5).map((e) => e.threshold)).toEqual([50]);
    expect(at(8).map((e) => e.threshold)).toEqual([50, 80]);
    const crossed = at(9);
    expect(crossed.map((e) => e.threshold)).toEqual([50, 80]);
    const full = fold([...events, anInteraction('2026-11-10T10:00:00.000Z', { costUsd: 1 })]).get('budget|org')!;
    const all = costProjection.emits!(full, full.id);
    expect(all.map((e) => e.threshold)).toEqual([50, 80, 100]);
    expect(all[0]).toMatchObject({ type: 'budget.threshold_crossed', orgId: ORG, scope: 'project', projectId: 'web', period: '2026-11', monthlyUsd: 10, webhookUrl: 'https://hooks.example.com/x' });
    // the 50% event keeps its id however much more is spent: the log's idempotent append sees it once
    expect(all[0]!.id).toBe(at(5)[0]!.id);
    expect(all[0]!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // the id a project document of its own implied before: an event appended by an older version is not sent again
    expect(all[0]!.id).toBe(derivedEventId(Date.parse('2026-11-01T00:00:00.000Z'), `${ORG}|budget|project|web|2026-11|50`));
    // a new amount the same month is a budget of its own to cross: its 50% has another id (it was the old one's, a
    // duplicate the log dropped), the same whichever order the two budget.set events came in
    const raised = aBudgetSet('2026-11-10T11:00:00.000Z', 20, { webhookUrl: 'https://hooks.example.com/y' });
    const after = fold([...events, anInteraction('2026-11-10T10:00:00.000Z', { costUsd: 1 }), raised]).get('budget|org')!;
    const before = fold([raised, ...events, anInteraction('2026-11-10T10:00:00.000Z', { costUsd: 1 })]).get('budget|org')!;
    expect(before).toEqual(after);
    const anew = costProjection.emits!(after, after.id);
    expect(anew.map((e) => [e.threshold, e.monthlyUsd, e.webhookUrl])).toEqual([[50, 20, 'https://hooks.example.com/y']]);
    expect(anew[0]!.id).not.toBe(all[0]!.id);
    // a budget set later in the year says nothing about months before it
    const late = fold([...events.slice(1), aBudgetSet('2026-12-01T00:00:00.000Z', 1)]).get('budget|org')!;
    expect(costProjection.emits!(late, late.id)).toEqual([]);
    // the org's own budget is a scope of its own; with no budget set for it, it implies nothing
    expect(all.map((e) => e.scope)).toEqual(['project', 'project', 'project']);
    expect(fold(events).has('budget|project|web')).toBe(false);
  });

  it('reads a project budget document of an older store with the org document: spend added, the newest budget.set wins', () => {
    const nov = (day: number) => `2026-11-${String(day).padStart(2, '0')}T10:00:00.000Z`;
    const before = [aBudgetSet(nov(1), 10), anInteraction(nov(2), { costUsd: 3 })];
    const after = [anInteraction(nov(3), { costUsd: 2 }), aBudgetSet(nov(4), 20)];
    const whole = budgetDocs([...fold([...before, ...after]).values()].filter((doc): doc is BudgetDoc => doc.kind === 'budget'));
    // What an older version stored: the project's own document, folded from the events before the change.
    const older = { ...budgetDocs([fold(before).get('budget|org') as BudgetDoc]).find((doc) => doc.scope === 'project')! };
    const mixed = budgetDocs([fold(after).get('budget|org') as BudgetDoc, older]);
    const project = (docs: BudgetDoc[]) => docs.find((doc) => doc.id === 'budget|project|web');
    expect(project(mixed)).toEqual(project(whole));
    expect(project(mixed)).toMatchObject({ scope: 'project', projectId: 'web', monthlyUsd: 20, days: { '2026-11-02': 3_000_000_000, '2026-11-03': 2_000_000_000 } });
    expect(budgetView(project(mixed)!, new Date(nov(5)))).toMatchObject({ spentUsd: 5, crossed: [] });
  });

  it('is bounded: a budget keeps the last 62 days, and no document keeps event ids', () => {
    const events = Array.from({ length: 100 }, (_, i) => anInteraction(new Date(Date.UTC(2026, 0, 1) + i * 86_400_000).toISOString()));
    const budget = fold(events).get('budget|org') as CostDoc & { days: Record<string, number> };
    expect(Object.keys(budget.days)).toHaveLength(62);
    expect(Object.keys(budget.days).sort()[0]).toBe('2026-02-08');
    for (const doc of fold(events).values()) expect(JSON.stringify(doc)).not.toContain(events[0]!.id);
  });
});

describe('team budgets', () => {
  const nov = (day: number, hour = 10) => `2026-11-${String(day).padStart(2, '0')}T${String(hour).padStart(2, '0')}:00:00.000Z`;
  const teamBudget = (docs: Map<string, CostDoc>, teamId = 'core') => budgetDocs([docs.get('budget|org') as BudgetDoc]).find((doc) => doc.id === `budget|team|${teamId}`);

  it("given a team and its budget, judges the budget on its users' spend, and implies its thresholds once each", () => {
    const events = [
      aTeamSet(nov(1, 9), 'core', ['ann', 'cy']),
      aBudgetSet(nov(1, 9), 10, { scope: 'team', projectId: null, teamId: 'core' }),
      anInteraction(nov(2), { costUsd: 3, userId: 'ann' }),
      anInteraction(nov(3), { costUsd: 100, userId: 'bob' }),
      anInteraction(nov(4), { costUsd: 3, userId: 'cy', projectId: 'api' }),
    ];
    const docs = fold(events);
    expect(teamBudget(docs)).toMatchObject({ scope: 'team', teamId: 'core', projectId: null, monthlyUsd: 10, days: { '2026-11-02': 3 * 1e9, '2026-11-04': 3 * 1e9 } });
    expect(budgetView(teamBudget(docs)!, new Date(nov(5)))).toMatchObject({ scope: 'team', teamId: 'core', projectId: null, spentUsd: 6, crossed: [50] });
    const org = docs.get('budget|org')!;
    const crossed = costProjection.emits!(org, org.id);
    expect(crossed.map((e) => [e.scope, e.teamId, e.threshold])).toEqual([['team', 'core', 50]]);
    expect(crossed[0]!.id).toBe(derivedEventId(Date.parse('2026-11-01T00:00:00.000Z'), `${ORG}|budget|team|core|2026-11|50`));
    // and the event is one the log takes (the server-made schema parses it)
    expect(BudgetThresholdCrossedSchema.parse(crossed[0])).toMatchObject({ teamId: 'core', spentUsd: 6 });
  });

  it('is who is in the team now: a member who leaves takes their spend out, one who joins brings theirs, the newest team.set wins in any order', () => {
    const spendOf = [anInteraction(nov(2), { costUsd: 3, userId: 'ann' }), anInteraction(nov(3), { costUsd: 5, userId: 'bob' })];
    const budget = aBudgetSet(nov(1), 100, { scope: 'team', projectId: null, teamId: 'core' });
    const first = aTeamSet(nov(1), 'core', ['ann']);
    const then = aTeamSet(nov(6), 'core', ['bob']);
    expect(budgetView(teamBudget(fold([budget, first, ...spendOf]))!, new Date(nov(7)))!.spentUsd).toBe(3);
    for (const order of [[budget, first, ...spendOf, then], [then, ...spendOf, first, budget]]) {
      expect(budgetView(teamBudget(fold(order))!, new Date(nov(7)))!.spentUsd).toBe(5);
    }
  });

  it('counts a team of new users after the org had 500 others: users idle for BUDGET_DAYS are forgotten, in any order', () => {
    const september = Array.from({ length: 500 }, (_, i) => anInteraction(`2026-09-0${1 + (i % 9)}T10:00:00.000Z`, { costUsd: 0.01, userId: `early-${i}` }));
    const setup = [aTeamSet(nov(1), 'platform', ['newbie']), aBudgetSet(nov(1), 10, { scope: 'team', projectId: null, teamId: 'platform' })];
    const spend = [anInteraction(nov(25), { costUsd: 9, userId: 'newbie' })];
    for (const events of [[...september, ...setup, ...spend], [...spend, ...setup, ...september]]) {
      const docs = fold(events);
      // Before, the 500 early users held every place and newbie's spend went under (other): the team read $0.
      expect(budgetView(teamBudget(docs, 'platform')!, new Date(nov(26)))).toMatchObject({ spentUsd: 9, crossed: [50, 80] });
      expect(Object.keys((docs.get('budget|org') as BudgetDoc).users!)).toEqual(['newbie']);
    }
  });

  it("keeps a team's spend when one machine's clock is a year ahead: a call counts in the users' window by the day the API took it, at the latest", () => {
    const received = (event: Interaction, at: string) => ({ ...event, receivedAt: at }) as Interaction;
    const setup = [aTeamSet(nov(1), 'platform', ['ann']), aBudgetSet(nov(1), 10, { scope: 'team', projectId: null, teamId: 'platform' })];
    const skewed = received(anInteraction('2027-11-25T10:00:00.000Z', { costUsd: 0.01, userId: 'skewed-clock' }), nov(25));
    const docs = fold([...setup, received(anInteraction(nov(25), { costUsd: 9, userId: 'ann' }), nov(25)), skewed, received(anInteraction(nov(26), { costUsd: 1, userId: 'ann' }), nov(26))]);
    // Before, the window moved to 2027 and took every user out: the team read $0.
    expect(budgetView(teamBudget(docs, 'platform')!, new Date(nov(26)))).toMatchObject({ spentUsd: 10 });
  });

  it('makes no budget of a team without one, keeps names like __proto__ as data, and another scope never takes a team budget', () => {
    const docs = fold([aTeamSet(nov(1), '__proto__', ['constructor']), anInteraction(nov(2), { costUsd: 1, userId: 'constructor' }), anInteraction(nov(2), { costUsd: 2, userId: '__proto__' })]);
    const org = docs.get('budget|org') as BudgetDoc;
    expect(budgetDocs([org]).filter((doc) => doc.scope === 'team')).toEqual([]);
    expect(Object.getPrototypeOf(org.users)).toBeNull();
    expect(Object.keys(org.users!).sort()).toEqual(['__proto__', 'constructor']);
    // a team id is [a-z0-9._-] (the schema), but a user id is any name
    const budgeted = fold([aTeamSet(nov(1), 'constructor', ['__proto__']), aBudgetSet(nov(1), 4, { scope: 'team', projectId: null, teamId: 'constructor' }), anInteraction(nov(2), { costUsd: 1, userId: '__proto__' })]);
    expect(budgetView(teamBudget(budgeted, 'constructor')!, new Date(nov(3)))).toMatchObject({ spentUsd: 1, crossed: [] });
    // the org's own budget is not the team's
    expect((budgeted.get('budget|org') as BudgetDoc).monthlyUsd).toBeNull();
  });
});

describe('forecast and summary', () => {
  it('on a synthetic month of $1 a day, forecasts $30 for November from any day', () => {
    const daily = new Map<string, number>();
    for (let d = 1; d <= 30; d++) daily.set(`2026-11-${String(d).padStart(2, '0')}`, 1);
    for (const day of [8, 15, 29]) {
      const now = new Date(Date.UTC(2026, 10, day + 1) - 1); // the last millisecond of that day
      const visible = new Map([...daily].filter(([d]) => d <= now.toISOString().slice(0, 10)));
      expect(forecastMonthEnd(visible, now)).toBeCloseTo(30, 3);
    }
  });

  it('uses the trailing 7 days as the run rate, and only the days since spending began', () => {
    const now = new Date('2026-11-10T12:00:00.000Z');
    // $2/day for the last 7 days after $10/day before: the rate is $2/day
    const daily = new Map<string, number>();
    for (let d = 1; d <= 10; d++) daily.set(`2026-11-${String(d).padStart(2, '0')}`, d <= 3 ? 10 : d === 10 ? 1 : 2);
    const monthToDate = 30 + 6 * 2 + 1;
    const rate = (6 * 2 + 1) / 6.5; // 6.5 days from Nov 4 00:00 to Nov 10 12:00
    expect(forecastMonthEnd(daily, now)).toBeCloseTo(monthToDate + rate * 20.5, 6);
    // a user who started this morning is not averaged over days before they started
    expect(forecastMonthEnd(new Map([['2026-11-10', 1]]), now)).toBeCloseTo(1 + (1 / 0.5) * 20.5, 6);
    expect(forecastMonthEnd(new Map(), now)).toBe(0);
  });

  it('summarises today, yesterday and the month from day buckets', () => {
    const docs = fold([
      anInteraction('2026-10-31T10:00:00.000Z', { costUsd: 5 }),
      anInteraction('2026-11-01T10:00:00.000Z', { costUsd: 1 }),
      anInteraction('2026-11-02T10:00:00.000Z', { costUsd: 2 }),
      anInteraction('2026-11-02T11:00:00.000Z', { costUsd: 2 }),
    ]);
    const days = [...docs.values()].filter((d): d is CostBucketDoc => d.kind === 'bucket' && d.granularity === 'day');
    const summary = costSummary(days, new Date('2026-11-02T12:00:00.000Z'));
    expect(summary.today).toEqual({ costUsd: 4, tokensIn: 2000, tokensOut: 200, interactions: 2 });
    expect(summary.yesterday.costUsd).toBe(1);
    expect(summary.monthToDate.costUsd).toBe(5);
    expect(summary.byDay).toHaveLength(30);
    expect(summary.byDay.at(-1)).toEqual({ day: '2026-11-02', costUsd: 4 });
    expect(summary.byDay.at(-3)).toEqual({ day: '2026-10-31', costUsd: 5 });
    expect(summary.forecastMonthEnd).toBeGreaterThan(5);
  });
});
