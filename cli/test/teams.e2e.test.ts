import { join } from 'node:path';
import { openSqliteDatabase } from '@km/functions/dist/adapters/sqlite-database';
import { SqliteEventLog } from '@km/functions/dist/adapters/sqlite-event-log';
import { SqliteReadModelStore } from '@km/functions/dist/adapters/sqlite-read-model-store';
import { startEmbeddedHost, type EmbeddedHost } from '@km/functions/dist/host/embedded-host';
import { MemberDirectory } from '@km/functions/dist/members/member-directory';
import { interaction, anEnvelope } from '../../functions/test/fixtures';
import { startGithubDouble } from '../../functions/test/support/github-double';
import { requireBuiltKm, runKm, until } from './e2e-support';
import { silent, tempHome } from './helpers';

/** km with only PATH and the test's settings: what an MCP client's stripped environment gives. */
const km = (args: string[], env: Record<string, string>) => runKm(args, { PATH: process.env.PATH ?? '', ...env });
const lastLine = (text: string) => text.trimEnd().split('\n').at(-1)!;

/**
 * Team budgets and member removal against the real embedded host, beyond loopback, with GitHub sign-in through a
 * local double of its OAuth endpoints: km keys, km login, km members, km budget as a user runs them.
 */
describe('teams: budgets per team and removing a member, on km serve', () => {
  let host: EmbeddedHost;
  let github: Awaited<ReturnType<typeof startGithubDouble>>;
  let serverHome: string;
  let adminHome: string;
  let owner: string;
  const saved = { ...process.env };

  beforeAll(async () => {
    requireBuiltKm();
    github = await startGithubDouble('the-app-secret');
    Object.assign(process.env, { KM_GITHUB_CLIENT_ID: 'the-app', KM_GITHUB_CLIENT_SECRET: 'the-app-secret', KM_GITHUB_URL: github.url, KM_GITHUB_API_URL: github.url });
    serverHome = tempHome('km-teams-server');
    owner = lastLine((await km(['keys', 'create', '--org', 'acme', '--name', 'founder'], { KM_HOME: serverHome })).stdout);
    host = await startEmbeddedHost({ home: serverHome, port: 0, hostname: '0.0.0.0', logger: silent, projectorIntervalMs: 50 });
    adminHome = tempHome('km-teams-admin');
    expect((await km(['login', '--endpoint', host.url, '--key', owner], { KM_HOME: adminHome })).status).toBe(0);
  });
  afterAll(async () => {
    await host?.close();
    await github?.close();
    process.env = saved;
  });

  const ask = (path: string, auth: { key?: string; cookie?: string }, init: RequestInit = {}) =>
    fetch(`${host.url}/api/${path}`, {
      ...init,
      headers: { ...(auth.key ? { authorization: `Bearer ${auth.key}` } : {}), ...(auth.cookie ? { cookie: auth.cookie } : {}), ...(init.body ? { 'content-type': 'application/json' } : {}) },
    }).then(async (res) => ({ status: res.status, body: (await res.json()) as any }));

  /** The GitHub sign-in a browser makes, step by step: the session cookie it ends with, or the page that refused it. */
  async function signInWithGithub(login: string): Promise<{ cookie: string } | { status: number; page: string }> {
    github.signingIn.login = login;
    const start = await fetch(`${host.url}/auth/github`, { redirect: 'manual' });
    const state = /km_oauth_state=[^;]+/.exec(start.headers.get('set-cookie') ?? '')![0];
    const atGithub = await fetch(start.headers.get('location')!, { redirect: 'manual' });
    const back = await fetch(atGithub.headers.get('location')!, { redirect: 'manual', headers: { cookie: state } });
    const session = /km_session=[^;]+/.exec(back.headers.get('set-cookie') ?? '')?.[0];
    return session ? { cookie: session } : { status: back.status, page: await back.text() };
  }

  const spend = (userId: string, costUsd: number) =>
    ask('ingest', { key: owner }, { method: 'POST', body: JSON.stringify({ events: [interaction(anEnvelope({ orgId: 'acme', projectId: 'web', userId }), new Date().toISOString(), { costUsd })] }) });

  it('sets a budget per team with km budget set --team, judged on its users, refused to a viewer', async () => {
    expect((await ask('teams/platform', { key: owner }, { method: 'PUT', body: JSON.stringify({ name: 'Platform', userIds: ['octocat', 'ann'] }) })).status).toBe(200);
    const set = await km(['budget', 'set', '4', '--team', 'platform'], { KM_HOME: adminHome });
    expect([set.status, set.stdout]).toEqual([0, 'budget for team platform: $4 a month\n']);
    const unknown = await km(['budget', 'set', '4', '--team', 'nobody'], { KM_HOME: adminHome });
    expect([unknown.status, unknown.stderr]).toEqual([1, expect.stringContaining('no team "nobody" in your org')]);
    expect((await km(['budget', 'set', '4', '--team', 'platform', '--org'], { KM_HOME: adminHome })).stderr).toContain('--project <id>, --team <id> or --org (one of them)');
    const viewer = lastLine((await km(['keys', 'create', '--role', 'viewer', '--name', 'auditor'], { KM_HOME: adminHome })).stdout);
    const byViewer = await ask('budgets/team/platform', { key: viewer }, { method: 'PUT', body: JSON.stringify({ monthlyUsd: 1000 }) });
    expect([byViewer.status, byViewer.body.error]).toEqual([403, expect.stringContaining('role "viewer" may not change budgets')]);
    // It names the request, and the roles that may (a member's key would do).
    expect(byViewer.body.error).toMatch(/\(PUT \/api\/budgets\/[^)]+\): a key of role owner, admin or member may/);

    for (const [userId, costUsd] of [['octocat', 1], ['ann', 2], ['bob', 50]] as const) expect((await spend(userId, costUsd)).status).toBe(202);
    const budget = await until('the team budget with its users’ spend', async () => {
      const { body } = await ask('budgets?teamId=platform', { key: owner });
      const team = body.budgets.find((b: { scope: string }) => b.scope === 'team');
      return team?.spentUsd === 3 ? team : undefined;
    });
    expect(budget).toMatchObject({ teamId: 'platform', monthlyUsd: 4, crossed: [50] });
  });

  it("removes a member with km members remove: their sign-in stops, their session ends, they leave the team and its budget's spend, all in the audit trail", async () => {
    expect((await km(['members', 'invite', 'octocat'], { KM_HOME: adminHome })).status).toBe(0);
    const signedIn = await signInWithGithub('octocat');
    if (!('cookie' in signedIn)) throw new Error(`octocat was not signed in: ${signedIn.page}`);
    expect((await ask('whoami', signedIn)).body).toMatchObject({ orgId: 'acme', role: 'member', actor: 'github:octocat' });
    // a member cannot remove anyone
    const byMember = await ask('members/octocat/remove', signedIn, { method: 'POST' });
    expect([byMember.status, byMember.body.error]).toEqual([403, expect.stringContaining('role "member" may not')]);

    const removed = await km(['members', 'remove', 'octocat'], { KM_HOME: adminHome });
    expect([removed.status, removed.stdout]).toEqual([0, 'km members: removed octocat (member) from org "acme"; their sign-in no longer works; left team platform\n']);
    const ended = await ask('whoami', signedIn);
    expect([ended.status, ended.body.reason, ended.body.error]).toEqual([401, 'removed', expect.stringContaining('you were removed from this org')]);
    const again = await signInWithGithub('octocat');
    expect(again).toEqual({ status: 403, page: expect.stringContaining('octocat was removed from the org') });
    expect((await ask('members', { key: owner })).body.members).toEqual([]);
    expect((await ask('teams', { key: owner })).body.teams).toEqual([expect.objectContaining({ teamId: 'platform', userIds: ['ann'] })]);
    // a team is who is in it now: octocat's dollar is no longer the team's
    await until('the team budget without octocat', async () => ((await ask('budgets?teamId=platform', { key: owner })).body.budgets.find((b: { scope: string }) => b.scope === 'team')?.spentUsd === 2 ? true : undefined));
    const twice = await km(['members', 'remove', 'octocat'], { KM_HOME: adminHome });
    expect([twice.status, twice.stderr]).toEqual([1, expect.stringContaining('no member or invitation "octocat"')]);

    const trail = await fetch(`${host.url}/api/audit`, { headers: { authorization: `Bearer ${owner}` } }).then((res) => res.text());
    const records = trail.trimEnd().split('\n').map((line) => JSON.parse(line) as { type?: string; event?: Record<string, unknown> });
    const ofMembership = records.filter((record) => ['member.invited', 'member.signed_in', 'member.removed', 'team.set', 'budget.set'].includes(record.type ?? '')).map((record) => [record.type, record.event!.actor ?? null]);
    const ownerActor = (await ask('whoami', { key: owner })).body.actor;
    expect(ofMembership).toEqual([
      ['team.set', ownerActor],
      ['budget.set', ownerActor],
      ['member.invited', ownerActor],
      ['member.signed_in', null],
      ['member.removed', ownerActor],
      ['team.set', ownerActor],
    ]);
  });

  it("refuses to remove the org's last owner on this machine's database, and takes back an invitation nobody took up", async () => {
    const home = tempHome('km-teams-local');
    expect((await km(['members', 'invite', 'boss', '--role', 'owner', '--org', 'solo'], { KM_HOME: home })).status).toBe(0);
    expect((await km(['members', 'invite', 'b0ss-typo', '--role', 'owner', '--org', 'solo'], { KM_HOME: home })).status).toBe(0);
    // boss signs in (on the dashboard, with GitHub): an owner who joined, the org's only one.
    const db = openSqliteDatabase(join(home, 'km.db'));
    const log = new SqliteEventLog(db);
    await new MemberDirectory(new SqliteReadModelStore(db), async (events) => void (await log.append(events)), () => new Date(), () => 'sign-in').signIn('boss', 'github', 'invitation');
    db.close();
    expect((await km(['members', 'remove', 'b0ss-typo', '--org', 'solo'], { KM_HOME: home })).status).toBe(0);
    const refused = await km(['members', 'remove', 'boss', '--org', 'solo'], { KM_HOME: home });
    expect([refused.status, refused.stderr]).toEqual([1, expect.stringContaining("boss is the org's last owner")]);
    expect(JSON.parse((await km(['members', 'list', '--org', 'solo', '--json'], { KM_HOME: home })).stdout).map((m: { login: string }) => m.login)).toEqual(['boss']);
  });
});
