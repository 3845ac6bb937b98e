import { apiRoutes, type ApiRouteName } from '@km/shared';
import { ApiKeyAuthenticator, hashApiKey } from '../src/adapters/api-key-authenticator';
import { MemoryEventLog } from '../src/adapters/memory-event-log';
import { MemoryReadModelStore } from '../src/adapters/memory-read-model-store';
import { budgetWebhookBody } from '../src/budget-webhooks';
import { runProjectorOnce } from '../src/projector';
import { readModels } from '../src/read-models';
import { httpRoutes } from '../src/routes';
import { askHandlers } from './contracts/api.contract';
import { anEnvelope, interaction, sessionEnded, sessionStarted } from './fixtures';

const KEY = 'km_test_owner_key_of_org_a';

describe("a team's figures are its users'", () => {
  const eventLog = new MemoryEventLog();
  const readModelStore = new MemoryReadModelStore();
  const routes = httpRoutes({ eventLog, readModelStore, authenticator: new ApiKeyAuthenticator([{ keyHash: hashApiKey(KEY), orgId: 'org-a' }]), now: () => new Date(), newBatchId: () => 'b' });
  const ask = (name: ApiRouteName, params: Record<string, string> = {}, body?: unknown) => askHandlers(routes, KEY, apiRoutes.find((candidate) => candidate.name === name)!, params, body);

  beforeAll(async () => {
    // Minutes ago, but never before today's UTC midnight, squeezed in order into the time since (the summary's
    // "today" and the budget's month): run in the first half hour of a day, 20 minutes ago was yesterday's.
    const now = Date.now();
    const base = Math.max(now - 30 * 60_000, Date.parse(new Date(now).toISOString().slice(0, 10)));
    const at = (minutesAgo: number) => new Date(base + ((30 - minutesAgo) / 30) * (now - base)).toISOString();
    const leak = [{ ruleId: 'aws-access-key-id', severity: 'critical' as const, path: '$.params.arguments.key' }];
    const events = ['ann', 'bob', 'cy'].flatMap((userId, index) => {
      const envelope = anEnvelope({ orgId: 'org-a', userId, projectId: `p-${userId}` });
      return [
        sessionStarted(envelope, at(30)),
        interaction(envelope, at(20), { requestId: '1', costUsd: index + 1, latencyMs: 100 * (index + 1), findings: leak }),
        interaction(envelope, at(19), { requestId: '2', costUsd: index + 1, latencyMs: 100 * (index + 1) }),
        sessionEnded(envelope, at(10)),
      ];
    });
    expect((await ask('ingest', {}, { events })).status).toBe(202);
    for (const model of readModels) while ((await runProjectorOnce(model, eventLog, readModelStore, 500)) > 0);
    expect((await ask('setTeam', { teamId: 'platform' }, { name: 'Platform', userIds: ['ann', 'cy'] })).status).toBe(200);
  });

  it('costs what its users cost, and a team the org does not have is a 404', async () => {
    const team = await ask('query-cost-summary', { teamId: 'platform' });
    const [ann, cy] = await Promise.all([ask('query-cost-summary', { userId: 'ann' }), ask('query-cost-summary', { userId: 'cy' })]);
    expect(team.body.today.costUsd).toBeCloseTo(ann.body.today.costUsd + cy.body.today.costUsd, 9);
    expect(team.body.today.costUsd).toBeCloseTo(8, 9);
    const byUser = await ask('query-cost', { teamId: 'platform', groupBy: 'user' });
    expect(byUser.body.groups.map((group: { key: string }) => group.key).sort()).toEqual(['ann', 'cy']);
    const missing = await ask('query-cost', { teamId: 'nobody' });
    expect([missing.status, missing.body.error]).toEqual([404, expect.stringContaining('no team "nobody" in your org: see GET /api/teams, or make it with PUT /api/teams/nobody')]);
    // A name no team can have is not offered to be made.
    const unmakeable = await ask('query-cost', { teamId: 'toString' });
    expect([unmakeable.status, unmakeable.body.error]).toEqual([404, expect.stringContaining('(team ids are lowercase')]);
    expect(unmakeable.body.error).not.toContain('PUT /api/teams/toString');
    expect((await ask('query-cost', { teamId: 'platform', userId: 'ann' })).status).toBe(400);
  });

  it("times its users' calls, and lists its users' findings only", async () => {
    const latency = await ask('query-latency', { teamId: 'platform' });
    expect(latency.body.total.count).toBe(4);
    expect(latency.body.total.totalMs).toBe(2 * 100 + 2 * 300);
    const findings = await ask('query-risk-findings', { teamId: 'platform', kind: 'secret' });
    expect(findings.body.findings.map((finding: { userId: string }) => finding.userId).sort()).toEqual(['ann', 'cy']);
  });

  it("lists its users' sessions, charts and ranks its users' calls, and counts its users' open findings", async () => {
    const sessions = await ask('query-sessions', { teamId: 'platform' });
    expect(sessions.body.sessions.map((session: { userId: string }) => session.userId).sort()).toEqual(['ann', 'cy']);
    expect((await ask('query-sessions', { teamId: 'platform', limit: '1' })).body.sessions).toHaveLength(1);
    const series = await ask('query-latency-timeseries', { teamId: 'platform', bucket: 'hour' });
    expect(series.body.points.reduce((sum: number, point: { count: number }) => sum + point.count, 0)).toBe(4);
    const slowest = await ask('query-latency-slowest', { teamId: 'platform' });
    expect(slowest.body.interactions.map((call: { latencyMs: number }) => call.latencyMs)).toEqual([300, 300, 100, 100]);
    const bottlenecks = await ask('query-latency-bottlenecks', { teamId: 'platform' });
    expect(bottlenecks.body.groups.reduce((sum: number, group: { totalMs: number }) => sum + group.totalMs, 0)).toBe(2 * 100 + 2 * 300);
    const [team, ann, cy] = await Promise.all([ask('query-risk-summary', { teamId: 'platform' }), ask('query-risk-summary', { userId: 'ann' }), ask('query-risk-summary', { userId: 'cy' })]);
    expect(team.body.bySeverity.critical).toBe(2);
    expect(team.body.open).toBe(ann.body.open + cy.body.open);
    // what it cannot honour is a 400, never ignored
    for (const [name, params] of [
      ['query-sessions', { teamId: 'platform', userId: 'ann' }],
      ['query-latency-timeseries', { teamId: 'platform', projectId: 'p-ann' }],
      ['query-latency-bottlenecks', { teamId: 'platform', sessionId: 's' }],
      ['query-cost-context-tax', { teamId: 'platform' }],
    ] as const) {
      const refused = await ask(name, params);
      expect([name, refused.status, refused.body.error]).toEqual([name, 400, expect.stringContaining('teamId')]);
    }
    expect((await ask('query-latency-slowest', { teamId: 'nobody' })).status).toBe(404);
  });

  it("sets a team's budget, judged on its users' spend: GET /api/budgets shows it, its thresholds are crossed as the org's are", async () => {
    expect((await ask('set-budget-team', { teamId: 'platform' }, { monthlyUsd: 10, webhookUrl: 'https://hooks.example.com/t' })).status).toBe(202);
    for (const model of readModels) while ((await runProjectorOnce(model, eventLog, readModelStore, 500)) > 0);
    const listed = await ask('query-budgets', { teamId: 'platform' });
    expect(listed.status).toBe(200);
    // ann and cy spent 2 and 6 today (bob's 4 is not the team's)
    expect(listed.body.budgets).toEqual([expect.objectContaining({ scope: 'team', teamId: 'platform', projectId: null, monthlyUsd: 10, spentUsd: 8, crossed: [50, 80] })]);
    const crossed = (await eventLog.read(0, 1000)).map(({ event }) => event).filter((event) => event.type === 'budget.threshold_crossed');
    expect(crossed.map((event) => [event.type === 'budget.threshold_crossed' && event.teamId, event.type === 'budget.threshold_crossed' && event.threshold])).toEqual([
      ['platform', 50],
      ['platform', 80],
    ]);
    // its webhook says whose budget it was
    const [first] = crossed;
    if (first?.type === 'budget.threshold_crossed') expect(budgetWebhookBody(first).text).toBe('km budget: team platform (org org-a) reached 50% of its $10 monthly budget for ' + first.period + ' ($8.00 spent).');
    expect(first?.type).toBe('budget.threshold_crossed');
    // every budget, the team's among them; a team the org does not have is a 404; a team with a project is a 400
    expect((await ask('query-budgets')).body.budgets.map((budget: { scope: string }) => budget.scope)).toEqual(['team']);
    expect((await ask('query-budgets', { teamId: 'nobody' })).status).toBe(404);
    expect((await ask('set-budget-team', { teamId: 'nobody' }, { monthlyUsd: 1 })).status).toBe(404);
    expect((await ask('query-budgets', { teamId: 'platform', projectId: 'p-ann' })).status).toBe(400);
    // a team said again without cy: its spend is ann's alone from then on
    expect((await ask('setTeam', { teamId: 'platform' }, { name: 'Platform', userIds: ['ann'] })).status).toBe(200);
    for (const model of readModels) while ((await runProjectorOnce(model, eventLog, readModelStore, 500)) > 0);
    expect((await ask('query-budgets', { teamId: 'platform' })).body.budgets[0]).toMatchObject({ spentUsd: 2 });
  });
});
