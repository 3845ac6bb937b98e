import { randomUUID } from 'node:crypto';
import { apiRoutes, routePermission, type ApiRoute, type ApiRouteName } from '@km/shared';
import { aSessionOfEvents, anEnvelope, interaction } from '../fixtures';
import type { ApiAnswer } from './api.contract';

/** Two orgs with their own owner keys, behind one API (the embedded host, or the Functions handlers over Cosmos). */
export interface TenantsUnderTest {
  ownerKeyA: string;
  ownerKeyB: string;
  ask(key: string, route: ApiRoute, params?: Record<string, string>, body?: unknown): Promise<ApiAnswer>;
  /** Resolves once `ready` holds (the embedded host folds on its own loop; in-process handlers fold when asked). */
  projected(ready: () => Promise<boolean>): Promise<void>;
  close(): Promise<void>;
}

/** What a client controls that could name another org's data: ids, names and filters. */
interface Values {
  orgId: string;
  projectId: string;
  userId: string;
  server: string;
  tool: string;
  sessionId: string;
  findingId: string;
  keyId: string;
  /** A GitHub login invited to the org. */
  login: string;
  teamId: string;
}

interface Probe {
  params?: Record<string, string>;
  body?: unknown;
  /** The answer holds something new each time (a key): compare the status only. */
  statusOnly?: boolean;
  /**
   * The one thing another org's data may change, said in full: the answer org A gets instead (a login belongs to one
   * org, so inviting another org's member is refused, naming neither that org nor anything of it).
   */
  ofOtherOrg?: { status: number; error: string };
}

const route = (name: ApiRouteName) => apiRoutes.find((candidate) => candidate.name === name)!;
const scope = (v: Values) => [{}, { projectId: v.projectId }, { userId: v.userId }, { server: v.server }, { server: v.server, tool: v.tool }];

/**
 * Every route, with every way a client can point it at another org's data. A route added to the contract without
 * an entry here fails the suite (and the type check).
 */
const PROBES: Readonly<Record<ApiRouteName, (v: Values) => Probe[]>> = {
  ingest: (v) => [{ body: { events: aSessionOfEvents(anEnvelope({ orgId: v.orgId, projectId: v.projectId, userId: v.userId }), new Date().toISOString(), 1) } }],
  'query-sessions': (v) => [{}, { params: { projectId: v.projectId } }, { params: { userId: v.userId } }, { params: { teamId: v.teamId } }],
  'query-session': (v) => [{ params: { id: v.sessionId } }],
  'query-session-interactions': (v) => [{ params: { id: v.sessionId } }],
  'query-cost': (v) => [...scope(v).map((params) => ({ params })), { params: { groupBy: 'project' } }, { params: { groupBy: 'tool' } }, { params: { teamId: v.teamId } }],
  'query-cost-summary': (v) => [...scope(v).map((params) => ({ params })), { params: { teamId: v.teamId } }],
  'query-cost-context-tax': (v) => [{}, { params: { server: v.server } }],
  'query-budgets': (v) => [{}, { params: { projectId: v.projectId } }, { params: { teamId: v.teamId } }],
  'set-budget-org': () => [{ body: { monthlyUsd: 7 } }],
  'set-budget-project': (v) => [{ params: { projectId: v.projectId }, body: { monthlyUsd: 9 } }],
  'set-budget-team': (v) => [{ params: { teamId: v.teamId }, body: { monthlyUsd: 11 } }],
  'query-latency': (v) => [{}, { params: { projectId: v.projectId } }, { params: { userId: v.userId } }, { params: { groupBy: 'tool', server: v.server, tool: v.tool } }, { params: { groupBy: 'server' } }, { params: { teamId: v.teamId } }],
  'query-latency-timeseries': (v) => [{}, { params: { projectId: v.projectId } }, { params: { userId: v.userId } }, { params: { teamId: v.teamId } }],
  'query-latency-slowest': (v) => [{}, { params: { projectId: v.projectId } }, { params: { server: v.server } }, { params: { teamId: v.teamId } }],
  'query-latency-bottlenecks': (v) => [{}, { params: { sessionId: v.sessionId } }, { params: { projectId: v.projectId } }, { params: { teamId: v.teamId } }],
  'query-recent-interactions': (v) => [{}, { params: { projectId: v.projectId } }, { params: { userId: v.userId } }],
  'query-risk-findings': (v) => [...scope(v).map((params) => ({ params })), { params: { kind: 'secret' } }, { params: { teamId: v.teamId } }],
  'query-risk-summary': (v) => [{}, { params: { teamId: v.teamId } }],
  'risk-finding-ack': (v) => [{ params: { id: v.findingId } }],
  'risk-finding-resolve': (v) => [{ params: { id: v.findingId } }],
  whoami: () => [{}],
  keys: () => [{}],
  createKey: (v) => [{ body: { role: 'viewer', projectId: v.projectId }, statusOnly: true }],
  revokeKey: (v) => [{ params: { keyId: v.keyId } }],
  members: () => [{}],
  teams: () => [{}],
  // The live log may grow between two asks (a projector's threshold events): its content is checked on its own below.
  retention: () => [{}],
  setRetention: () => [{ body: { rawEventDays: 3650, previewDays: 3650 } }],
  audit: () => [{ statusOnly: true }, { params: { format: 'csv' }, statusOnly: true }],
  'audit-key': () => [{}],
  setTeam: (v) => [{ params: { teamId: v.teamId }, body: { name: 'Platform', userIds: [v.userId] } }],
  // Another org's member is as unknown as a login nobody invited, and stays B's (checked below). Said in full: the
  // inviteMember probe before this one made the login that names nothing a member of org A.
  removeMember: (v) => [{ params: { login: v.login }, ofOtherOrg: { status: 404, error: `no member or invitation "${v.login}" in your org: see km members list` } }],
  inviteMember: (v) => [{ body: { login: v.login, role: 'viewer' }, ofOtherOrg: { status: 403, error: `${v.login} is a member of another org: a login belongs to one org` } }],
  openapi: () => [{}],
  // The funnel (issue 15): A's first run and funnel are A's whatever is asked; the beacon reads nothing and counts in the operator's org.
  'query-first-run': () => [{}],
  'query-funnel': () => [{}],
  'funnel-landing-view': () => [{ statusOnly: true }],
};

/**
 * The same text with the other values put in, and what differs between two asks a moment apart left out: instants,
 * the ids of events the server makes, signatures, and the last digits of figures that run with the clock (a month's forecast).
 */
function normalised(answer: ApiAnswer, from: Values, to: Values): string {
  let text = JSON.stringify({ status: answer.status, body: answer.body });
  for (const field of Object.keys(from) as Array<keyof Values>) text = text.split(from[field]).join(to[field]);
  return text
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, '<instant>')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>')
    .replace(/-?\d+\.\d+/g, (figure) => Number(figure).toPrecision(4))
    // The signature of an audit export's head signs its time too.
    .replace(/[A-Za-z0-9+/]{80,}={0,2}/g, '<signature>');
}

/** A value of the same shape that names nothing: the other org's data asked for must answer as this does. */
const absent = (value: string) => value.replace(/[0-9a-f]/g, (ch) => (ch === '0' ? '1' : '0'));

/**
 * Tenant isolation, one table every route joins: org A's key asks for org B's data by every parameter a client
 * controls and gets exactly what it gets for data that does not exist (nothing of B's, not even a different status);
 * a viewer cannot change anything; a project key ships and reads its project only; and B's data is as B left it.
 */
export function testTenantIsolation(name: string, makeTenants: () => Promise<TenantsUnderTest>): void {
  describe(`tenant isolation, on ${name}`, () => {
    let api: TenantsUnderTest;
    let b: Values;
    let nothing: Values;
    let viewerKeyA: string;
    let webKeyA: string;
    let keyB: string;
    const otherA = { projectId: 'proj-a2', userId: 'bob-a2', sessionId: '' };

    beforeAll(async () => {
      api = await makeTenants();
      const now = Date.now();
      const at = (minutesAgo: number) => new Date(now - minutesAgo * 60_000).toISOString();
      const leak = [{ ruleId: 'aws-access-key-id', severity: 'critical' as const, path: '$.params.arguments.key' }];
      const session = (envelope: ReturnType<typeof anEnvelope>, tool: string) => [
        ...aSessionOfEvents(envelope, at(30), 1),
        interaction(envelope, at(20), { requestId: '9', target: tool, findings: leak, costUsd: 0.5, latencyMs: 900 }),
      ];
      const webA = anEnvelope({ orgId: 'org-a', projectId: 'web', userId: 'ann-a', server: { name: 'everything', command: 'x' } });
      const a2 = anEnvelope({ orgId: 'org-a', projectId: otherA.projectId, userId: otherA.userId, server: { name: 'everything', command: 'x' } });
      otherA.sessionId = a2.sessionId;
      const envelopeB = anEnvelope({ orgId: 'org-b', projectId: 'proj-b', userId: 'user-b', server: { name: 'server-b', command: 'y' } });
      for (const [key, events] of [
        [api.ownerKeyA, [...session(webA, 'echo'), ...session(a2, 'echo')]],
        [api.ownerKeyB, session(envelopeB, 'tool-b')],
      ] as const) {
        const answer = await api.ask(key, route('ingest'), {}, { events });
        expect(answer.status).toBe(202);
      }
      const findings = route('query-risk-findings');
      await api.projected(async () => {
        const [ofA, ofB] = await Promise.all([api.ask(api.ownerKeyA, findings), api.ask(api.ownerKeyB, findings)]);
        return ofA.body.findings?.some((f: { kind: string }) => f.kind === 'secret') && ofB.body.findings?.some((f: { kind: string }) => f.kind === 'secret');
      });
      const findingB = (await api.ask(api.ownerKeyB, findings)).body.findings.find((f: { kind: string }) => f.kind === 'secret').id as string;
      const createKey = route('createKey');
      const madeB = (await api.ask(api.ownerKeyB, createKey, {}, { role: 'member', label: 'b' })).body;
      keyB = madeB.key;
      expect((await api.ask(api.ownerKeyB, route('inviteMember'), {}, { login: 'octo-b', role: 'member' })).status).toBe(200);
      expect((await api.ask(api.ownerKeyB, route('setTeam'), { teamId: 'team-b' }, { name: 'B team', userIds: ['user-b'] })).status).toBe(200);
      viewerKeyA = (await api.ask(api.ownerKeyA, createKey, {}, { role: 'viewer' })).body.key;
      webKeyA = (await api.ask(api.ownerKeyA, createKey, {}, { role: 'member', projectId: 'web' })).body.key;
      b = { orgId: 'org-b', projectId: 'proj-b', userId: 'user-b', server: 'server-b', tool: 'tool-b', sessionId: envelopeB.sessionId, findingId: findingB, keyId: madeB.apiKey.keyId, login: 'octo-b', teamId: 'team-b' };
      nothing = {
        orgId: 'org-none',
        projectId: 'proj-none',
        userId: 'user-none',
        server: 'server-none',
        tool: 'tool-none',
        sessionId: `session-${randomUUID()}`,
        findingId: absent(findingB),
        keyId: absent(madeB.apiKey.keyId),
        login: 'octo-none',
        teamId: 'team-none',
      };
    });
    afterAll(() => api?.close());

    it('has an entry for every route of the contract', () => {
      expect(apiRoutes.filter((candidate) => !(candidate.name in PROBES)).map((candidate) => candidate.name)).toEqual([]);
    });

    // Before the probes below, which give org A things of its own named like org B's.
    it("exports org A's audit trail with org A's events only", async () => {
      const trail = await api.ask(api.ownerKeyA, route('audit'));
      const lines = trail.body as Array<{ event?: { orgId: string }; orgId?: string }>;
      expect(lines.filter((line) => line.event).length).toBeGreaterThan(0); // a trail, not only a head
      expect([...new Set(lines.map((line) => line.event?.orgId ?? line.orgId))]).toEqual(['org-a']);
      const text = JSON.stringify(lines);
      expect(Object.values(b).filter((value) => text.includes(value))).toEqual([]);
    });

    describe.each(apiRoutes.map((r) => [`${r.method} /api/${r.path}`, r] as const))('%s', (_, r) => {
      it("answers org A's key asking for org B's data as it answers for data that does not exist", async () => {
        const probesOfB = PROBES[r.name as ApiRouteName](b);
        const probesOfNothing = PROBES[r.name as ApiRouteName](nothing);
        for (const [index, probe] of probesOfB.entries()) {
          let ofB = await api.ask(api.ownerKeyA, r, probe.params, probe.body);
          let ofNothing = await api.ask(api.ownerKeyA, r, probesOfNothing[index]!.params, probesOfNothing[index]!.body);
          const asked = { probe: probe.params ?? probe.body ?? {} };
          // Org A's own figures may still move between the two asks (keys earlier tests made, folded by the funnel
          // on its own loop): asked again until both are read of the same state. A leak differs every time, and
          // still fails below once the wait is over.
          if (!probe.ofOtherOrg && !probe.statusOnly && r.method === 'GET') {
            await api
              .projected(async () => {
                ofB = await api.ask(api.ownerKeyA, r, probe.params, probe.body);
                ofNothing = await api.ask(api.ownerKeyA, r, probesOfNothing[index]!.params, probesOfNothing[index]!.body);
                return JSON.stringify(normalised(ofB, b, nothing)) === JSON.stringify(normalised(ofNothing, nothing, nothing));
              })
              .catch(() => {});
          }
          if (probe.ofOtherOrg) expect({ ...asked, status: ofB.status, error: ofB.body.error }).toEqual({ ...asked, ...probe.ofOtherOrg });
          else if (probe.statusOnly) expect({ ...asked, status: ofB.status }).toEqual({ ...asked, status: ofNothing.status });
          else expect({ ...asked, answer: normalised(ofB, b, nothing) }).toEqual({ ...asked, answer: normalised(ofNothing, nothing, nothing) });
          expect({ ...asked, status: ofB.status }).not.toEqual({ ...asked, status: 500 });
        }
      });

      if (routePermission(r) !== 'read') {
        it("refuses org A's viewer with a 403 naming the role", async () => {
          const [probe] = PROBES[r.name as ApiRouteName](nothing);
          const answer = await api.ask(viewerKeyA, r, probe!.params, probe!.body);
          expect([answer.status, answer.body.error]).toEqual([403, expect.stringContaining('role "viewer" may not')]);
        });
      }

      it("keeps org A's project key to its project", async () => {
        const values = { ...nothing, ...otherA };
        for (const probe of PROBES[r.name as ApiRouteName](values)) {
          const answer = await api.ask(webKeyA, r, probe.params, probe.body);
          const text = JSON.stringify(answer.body);
          const asked = { probe: probe.params ?? probe.body ?? {} };
          if (answer.status < 300) expect({ ...asked, holds: [otherA.projectId, otherA.userId, otherA.sessionId].filter((marker) => text.includes(marker)) }).toEqual({ ...asked, holds: [] });
          else expect({ ...asked, status: answer.status }).toEqual({ ...asked, status: expect.any(Number) });
          expect({ ...asked, status: answer.status }).not.toEqual({ ...asked, status: 500 });
        }
      });
    });

    it("leaves org B's data as B left it", async () => {
      const ofB = await api.ask(api.ownerKeyB, route('query-risk-findings'));
      expect(ofB.body.findings.find((f: { id: string }) => f.id === b.findingId).status).toBe('open');
      expect((await api.ask(keyB, route('whoami'))).body).toMatchObject({ orgId: 'org-b', role: 'member' });
      const budgets = await api.ask(api.ownerKeyB, route('query-budgets'));
      expect(JSON.stringify(budgets.body)).not.toMatch(/"monthlyUsd":(7|9|11)\b/);
      const members = await api.ask(api.ownerKeyB, route('members'));
      expect(members.body.members.map((m: { login: string; role: string }) => [m.login, m.role])).toEqual([['octo-b', 'member']]);
      const teams = await api.ask(api.ownerKeyB, route('teams'));
      expect(teams.body.teams.map((t: { teamId: string; name: string; userIds: string[] }) => [t.teamId, t.name, t.userIds])).toEqual([['team-b', 'B team', ['user-b']]]);
      expect((await api.ask(api.ownerKeyB, route('retention'))).body).toMatchObject({ orgId: 'org-b', rawEventDays: null, previewDays: null });
      const keys = await api.ask(api.ownerKeyB, route('keys'));
      expect(keys.body.keys.map((key: { revokedAt: string | null }) => key.revokedAt)).toEqual([null]);
    });

    it("refuses a project key's projectId given twice, its own first, as any parameter given twice (one would be ignored)", async () => {
      for (const name of ['query-sessions', 'query-cost', 'query-risk-findings', 'query-latency'] as const) {
        const answer = await api.ask(webKeyA, route(name), { projectId: ['web', 'proj-other'] });
        expect({ name, status: answer.status, error: answer.body?.error }).toEqual({ name, status: 400, error: expect.stringContaining('"projectId" is given twice') });
      }
    });

    it("says a refused projectId was the project key's scope, which the caller never sent", async () => {
      for (const name of ['query-sessions', 'query-latency', 'query-risk-findings'] as const) {
        const answer = await api.ask(webKeyA, route(name), { teamId: 'any-team' });
        expect({ name, status: answer.status, error: answer.body?.error }).toEqual({ name, status: 400, error: expect.stringMatching(/^this key is scoped to project "web", so its requests are read as projectId=web, and /) });
      }
      const cost = await api.ask(webKeyA, route('query-cost'), { teamId: 'any-team', groupBy: 'user' });
      expect([cost.status, cost.body.error]).toEqual([400, expect.stringMatching(/^this key is scoped to project "web", so its requests are read as projectId=web, and projectId: give one of/)]);
      // A projectId the caller did send is refused in the route's own words.
      const sent = await api.ask(webKeyA, route('query-cost'), { projectId: 'web', teamId: 'any-team', groupBy: 'user' });
      expect([sent.status, sent.body.error]).toEqual([400, expect.stringMatching(/^projectId: give one of/)]);
    });

    it("opens a project key's own sessions, and answers another project's or org's as one that does not exist", async () => {
      const { sessions } = (await api.ask(webKeyA, route('query-sessions'))).body as { sessions: Array<{ id: string; projectId: string }> };
      const mine = sessions.find((s) => s.projectId === 'web')!;
      expect((await api.ask(webKeyA, route('query-session'), { id: mine.id })).body).toMatchObject({ id: mine.id, projectId: 'web' });
      const calls = (await api.ask(webKeyA, route('query-session-interactions'), { id: mine.id })).body;
      expect(calls).toMatchObject({ sessionId: mine.id, interactions: expect.arrayContaining([expect.objectContaining({ projectId: 'web', target: 'echo' })]) });
      for (const r of [route('query-session'), route('query-session-interactions')]) {
        for (const id of [otherA.sessionId, b.sessionId, nothing.sessionId]) {
          const answer = await api.ask(webKeyA, r, { id });
          expect({ id, status: answer.status, error: answer.body.error }).toEqual({ id, status: 404, error: `no session "${id}" in this key's project "web": list sessions with GET /api/sessions.` });
        }
      }
      // Where its own session's waiting time went; another project's or org's session is one that does not exist.
      const waits = await api.ask(webKeyA, route('query-latency-bottlenecks'), { sessionId: mine.id });
      expect([waits.status, waits.body.groups]).toEqual([200, expect.arrayContaining([expect.objectContaining({ tool: 'echo', count: expect.any(Number) })])]);
      for (const sessionId of [otherA.sessionId, b.sessionId, nothing.sessionId]) {
        const answer = await api.ask(webKeyA, route('query-latency-bottlenecks'), { sessionId });
        expect({ sessionId, status: answer.status, error: answer.body.error }).toEqual({
          sessionId,
          status: 404,
          error: `no interactions recorded for session "${sessionId}" in this key's project "web": list sessions with GET /api/sessions.`,
        });
      }
      // With a sessionId the scope is the session's: a projectId beside it is still refused, as for an org key.
      const both = await api.ask(webKeyA, route('query-latency-bottlenecks'), { sessionId: mine.id, projectId: 'web' });
      expect([both.status, both.body.error]).toEqual([400, expect.stringContaining('projectId cannot be used here')]);
    });

    it("ships a project key's events for its project only", async () => {
      const events = (projectId: string) => aSessionOfEvents(anEnvelope({ orgId: 'org-a', projectId }), new Date().toISOString(), 1);
      expect((await api.ask(webKeyA, route('ingest'), {}, { events: events('web') })).status).toBe(202);
      const elsewhere = await api.ask(webKeyA, route('ingest'), {}, { events: events(otherA.projectId) });
      expect([elsewhere.status, elsewhere.body.error]).toEqual([403, expect.stringContaining('scoped to project "web"')]);
      // Its own project named, in another project's session: refused event by event, nothing stored.
      const borrowed = aSessionOfEvents(anEnvelope({ orgId: 'org-a', projectId: 'web', sessionId: otherA.sessionId }), new Date().toISOString(), 1);
      const refused = await api.ask(webKeyA, route('ingest'), {}, { events: borrowed });
      expect([refused.status, refused.body.error]).toEqual([400, expect.stringContaining('name a session of another project of the org')]);
      expect(refused.body.issues).toEqual(borrowed.map((_, index) => expect.objectContaining({ index, path: `events[${index}].sessionId` })));
      const theirs = await api.ask(api.ownerKeyA, route('query-session-interactions'), { id: otherA.sessionId });
      expect(theirs.body.interactions.every((call: { projectId: string }) => call.projectId === otherA.projectId)).toBe(true);
    });

    it("acks and resolves a project key's own findings, and answers another project's or org's as one that does not exist", async () => {
      const findings = async (key: string, projectId: string) =>
        ((await api.ask(key, route('query-risk-findings'), { projectId, kind: 'secret' })).body.findings as Array<{ id: string; status: string }>);
      const [mine] = await findings(api.ownerKeyA, 'web');
      const [neighbours] = await findings(api.ownerKeyA, otherA.projectId);
      const [ack, resolve] = [route('risk-finding-ack'), route('risk-finding-resolve')];
      const acked = await api.ask(webKeyA, ack, { id: mine!.id });
      expect([acked.status, acked.body]).toEqual([200, expect.objectContaining({ id: mine!.id, projectId: 'web', status: 'acknowledged' })]);
      await api.projected(async () => (await findings(webKeyA, 'web'))[0]?.status === 'acknowledged');
      expect((await api.ask(webKeyA, resolve, { id: mine!.id })).body).toMatchObject({ id: mine!.id, status: 'resolved' });
      // Another project of the org, another org, nothing at all: one answer, naming the key's project only.
      for (const r of [ack, resolve]) {
        for (const id of [neighbours!.id, b.findingId, nothing.findingId]) {
          const answer = await api.ask(webKeyA, r, { id });
          expect({ id, status: answer.status, error: answer.body.error }).toEqual({ id, status: 404, error: `no finding "${id}" in this key's project "web": list findings with GET /api/risk/findings.` });
        }
      }
      const viewerWeb = (await api.ask(api.ownerKeyA, route('createKey'), {}, { role: 'viewer', projectId: 'web' })).body.key;
      expect((await api.ask(viewerWeb, ack, { id: mine!.id })).status).toBe(403);
      expect((await findings(api.ownerKeyA, otherA.projectId))[0]).toMatchObject({ id: neighbours!.id, status: 'open' });
      expect((await api.ask(api.ownerKeyB, route('query-risk-findings'))).body.findings.find((f: { id: string }) => f.id === b.findingId).status).toBe('open');
    });
  });
}
