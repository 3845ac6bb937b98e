import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbeddedHost } from '@km/functions/dist/host/embedded-host';
import { aSessionOfEvents, anEnvelope } from '../../functions/test/fixtures';
import { requireBuiltKm, runKm } from './e2e-support';
import { tempHome } from './helpers';

/** km with only PATH and the test's settings: what an MCP client's stripped environment gives. */
const km = (args: string[], env: Record<string, string>) => runKm(args, { PATH: process.env.PATH ?? '', ...env });

const lastLine = (text: string) => text.trimEnd().split('\n').at(-1)!;

describe('km keys and km login against the real embedded host', () => {
  let host: Awaited<ReturnType<typeof startEmbeddedHost>>;
  let serverHome: string;
  beforeAll(async () => {
    requireBuiltKm();
    serverHome = tempHome('km-keys-server');
    host = await startEmbeddedHost({ home: serverHome, port: 0 });
  });
  afterAll(() => host?.close());

  const ask = (path: string, key: string, init: RequestInit = {}) =>
    fetch(`${host.url}/api/${path}`, { ...init, headers: { authorization: `Bearer ${key}`, ...(init.body ? { 'content-type': 'application/json' } : {}) } }).then(async (res) => ({ status: res.status, body: (await res.json()) as any }));
  const ingest = (key: string, projectId: string) => ask('ingest', key, { method: 'POST', body: JSON.stringify({ events: aSessionOfEvents(anEnvelope({ orgId: 'acme', projectId }), new Date().toISOString(), 1) }) });

  it('refuses an empty --project (it would make an org-wide key) and a blank --name, on a fresh KM_HOME too', async () => {
    const fresh = join(tempHome('km-keys-fresh'), 'not-yet');
    const empty = await km(['keys', 'create', '--org', 'acme', '--project', ''], { KM_HOME: fresh });
    expect([empty.status, empty.stderr, empty.stdout]).toEqual([2, 'km: --project: cannot be empty\n', '']);
    expect((await km(['keys', 'create', '--org', 'acme', '--name', '   '], { KM_HOME: fresh })).stderr).toBe('km: --name: a label cannot be blank\n');
    const made = await km(['keys', 'create', '--org', 'fresh-org'], { KM_HOME: fresh });
    expect([made.status, lastLine(made.stdout)]).toEqual([0, expect.stringMatching(/^km_live_/)]);
  });

  it("revokes on this machine's database by the API's rules: never an org's last owner", async () => {
    const home = tempHome('km-keys-last-owner');
    const made = await km(['keys', 'create', '--org', 'solo', '--name', 'only'], { KM_HOME: home });
    const only = JSON.parse((await km(['keys', 'list', '--json'], { KM_HOME: home })).stdout).find((key: { label: string }) => key.label === 'only').prefix as string;
    expect(made.status).toBe(0);
    const refused = await km(['keys', 'revoke', only], { KM_HOME: home });
    // Before, revoked: the org then had no owner, and nobody could make one through the API.
    expect([refused.status, refused.stderr]).toEqual([1, expect.stringContaining("is the org's last owner")]);
    expect((await km(['keys', 'create', '--org', 'solo', '--role', 'owner', '--name', 'second'], { KM_HOME: home })).status).toBe(0);
    expect((await km(['keys', 'revoke', only], { KM_HOME: home })).stdout).toMatch(/revoked km_live_[a-z0-9]{12} of org "solo"/);
  });

  it('creates an org with its first key, logs a teammate in by the key alone, scopes, revokes at once, and never stores a key', async () => {
    // On the machine that runs km serve: the first key of a new org makes it, as its owner.
    const made = await km(['keys', 'create', '--org', 'acme', '--name', 'founder'], { KM_HOME: serverHome });
    expect(made.status).toBe(0);
    const owner = lastLine(made.stdout);
    expect(owner).toMatch(/^km_live_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    expect(made.stderr).toMatch(/made km_live_[a-z0-9]{12} \(owner\) for org "acme"/);

    // A teammate: km login takes the org from the key; there is no --org to get wrong.
    const teammate = tempHome('km-keys-teammate');
    expect((await km(['login', '--endpoint', host.url, '--key', owner, '--org', 'local'], { KM_HOME: teammate })).stderr).toMatch(/takes the org from the key/);
    const login = await km(['login', '--endpoint', host.url, '--key', owner], { KM_HOME: teammate });
    expect(login.stdout).toMatch(/for org "acme" \(role owner\)/);
    expect(JSON.parse(readFileSync(join(teammate, 'login.json'), 'utf8')).orgId).toBe('acme');

    // Through the API with the owner's key: a viewer key and a project key.
    const viewer = lastLine((await km(['keys', 'create', '--role', 'viewer', '--name', 'auditor'], { KM_HOME: teammate })).stdout);
    const web = lastLine((await km(['keys', 'create', '--project', 'web', '--name', 'ci'], { KM_HOME: teammate })).stdout);
    expect((await km(['keys', 'create', '--org', 'other'], { KM_HOME: teammate })).stderr).toMatch(/of org "acme": it makes keys of that org only/);
    const listed = JSON.parse((await km(['keys', 'list', '--json'], { KM_HOME: teammate })).stdout) as Array<{ label: string; role: string; projectId: string | null }>;
    expect(listed.map(({ label, role, projectId }) => ({ label, role, projectId }))).toEqual([
      { label: 'founder', role: 'owner', projectId: null },
      { label: 'auditor', role: 'viewer', projectId: null },
      { label: 'ci', role: 'member', projectId: 'web' },
    ]);

    // Roles and scopes: 403 naming what is lacking.
    expect((await ask('whoami', viewer)).body).toMatchObject({ orgId: 'acme', role: 'viewer', projectId: null });
    const viewerShips = await ingest(viewer, 'web');
    expect([viewerShips.status, viewerShips.body.error]).toEqual([403, expect.stringContaining('role "viewer" may not ship events')]);
    // km login and km doctor say so: every session shipped with this key would be refused and set aside.
    const watcher = tempHome('km-keys-watcher');
    const viewerLogin = await km(['login', '--endpoint', host.url, '--key', viewer], { KM_HOME: watcher });
    expect([viewerLogin.status, viewerLogin.stderr]).toEqual([0, expect.stringContaining('a key of role viewer may not ship events')]);
    const doctor = await km(['doctor'], { KM_HOME: watcher, HOME: watcher });
    expect(doctor.stdout).toMatch(/endpoint .*: reachable yes, but the API key's role "viewer" may not ship events/);
    const viewerBudget = await ask('budgets/org', viewer, { method: 'PUT', body: JSON.stringify({ monthlyUsd: 5 }) });
    expect([viewerBudget.status, viewerBudget.body.error]).toEqual([403, expect.stringContaining('may not change budgets')]);
    expect((await ingest(web, 'web')).status).toBe(202);
    const elsewhere = await ingest(web, 'mobile');
    expect([elsewhere.status, elsewhere.body.error]).toEqual([403, expect.stringContaining('scoped to project "web"')]);
    expect((await ask('cost?projectId=mobile', web)).status).toBe(403);
    expect((await ask('sessions?limit=5', web)).status).toBe(200);
    expect((await ask('keys', web)).status).toBe(403);
    // A project key says what it is, so km login can save it (the CI machine of one project).
    expect((await ask('whoami', web)).body).toMatchObject({ orgId: 'acme', role: 'member', projectId: 'web' });
    const ci = tempHome('km-keys-ci');
    expect((await km(['login', '--endpoint', host.url, '--key', web], { KM_HOME: ci })).stdout).toMatch(/for project "web" of org "acme" \(role member\)/);

    // Revoked: the next request is a 401 that says so.
    const viewerId = JSON.parse((await km(['keys', 'list', '--json'], { KM_HOME: teammate })).stdout)[1].prefix as string;
    expect((await km(['keys', 'revoke', viewerId], { KM_HOME: teammate })).stdout).toMatch(/revoked km_live_[a-z0-9]{12} of org "acme"/);
    // Again: nothing changes, and km says so.
    expect((await km(['keys', 'revoke', viewerId], { KM_HOME: teammate })).stdout).toMatch(/km_live_[a-z0-9]{12} of org "acme" was revoked already, at .*; nothing changed/);
    const refused = await ask('whoami', viewer);
    expect([refused.status, refused.body.reason, refused.body.error]).toEqual([401, 'revoked', expect.stringContaining(`${viewerId} was revoked`)]);
    const unknown = await ask('whoami', `${owner.slice(0, -4)}AAAA`);
    expect([unknown.status, unknown.body.reason]).toEqual([401, 'unknown']);

    // A logged-in member's km dashboard: a sign-in link that works once, so no key is in a URL.
    const link = lastLine((await km(['dashboard', '--no-open'], { KM_HOME: teammate })).stdout);
    expect(link).toMatch(new RegExp(`^${host.url}/auth/claim\\?token=[A-Za-z0-9_-]{43}$`));
    expect(link).not.toContain(owner);
    const claimed = await fetch(link, { redirect: 'manual' });
    expect([claimed.status, claimed.headers.get('location')]).toEqual([302, '/']);
    const session = claimed.headers.get('set-cookie')!;
    expect(session).toMatch(/^km_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    expect((await (await fetch(`${host.url}/api/whoami`, { headers: { cookie: session.split(';')[0]! } })).json()).orgId).toBe('acme');
    expect((await fetch(link, { redirect: 'manual' })).status).toBe(401);

    // Members: invited through the API, listed on the server's own database too.
    expect((await km(['members', 'invite', 'octocat', '--role', 'viewer'], { KM_HOME: teammate })).stdout).toMatch(/invited octocat to org "acme" as viewer/);
    const members = JSON.parse((await km(['members', 'list', '--json', '--org', 'acme'], { KM_HOME: serverHome })).stdout) as Array<{ login: string; role: string; joinedAt: string | null }>;
    expect(members.map(({ login, role, joinedAt }) => ({ login, role, joinedAt }))).toEqual([{ login: 'octocat', role: 'viewer', joinedAt: null }]);
    // Taken back with the keys they made (none: an invitation nobody took up), through the API's revokeKeys.
    const takenBack = await km(['members', 'remove', 'octocat', '--revoke-keys'], { KM_HOME: teammate });
    expect([takenBack.status, takenBack.stdout]).toEqual([0, expect.stringMatching(/removed octocat \(viewer\) from org "acme"/)]);
    expect((await km(['members', 'invite', 'octocat', '--role', 'viewer', '--revoke-keys'], { KM_HOME: teammate })).stdout).toMatch(/invited octocat to org "acme" as viewer/);
    // Asked again with no --role: not a silent change to member (an owner was demoted so), a usage error.
    const noRole = await km(['members', 'invite', 'OctoCat'], { KM_HOME: teammate });
    expect([noRole.status, noRole.stderr]).toEqual([2, expect.stringContaining('octocat is already a member with role viewer: give --role to change it')]);
    const onDatabase = await km(['members', 'invite', 'octocat', '--org', 'acme'], { KM_HOME: serverHome });
    expect(onDatabase.status).toBe(2);
    expect((await km(['members', 'invite', 'octocat', '--role', 'member'], { KM_HOME: teammate })).stdout).toMatch(/invited octocat to org "acme" as member/);
    // KM_ORG naming another org than the key's: every session would be refused, and km status and doctor say so.
    const status = await km(['status'], { KM_HOME: teammate, KM_ORG: 'beta' });
    expect(status.stdout).toMatch(/reachable: yes, but the API key is of org "acme" and KM_ORG names "beta": every session is refused/);
    const doctorOfBeta = await km(['doctor'], { KM_HOME: teammate, KM_ORG: 'beta' });
    expect(doctorOfBeta.stdout).toMatch(/set KM_ORG=acme \(or unset it\)/);
    expect((await km(['status'], { KM_HOME: teammate })).stdout).toMatch(/reachable: yes\)/);
    // An org the database does not have is a usage error that names the ones it has, not an invitation to nowhere;
    // only an owner's invitation starts one, with a well-formed id.
    const typo = await km(['members', 'invite', 'hubot', '--org', 'acne'], { KM_HOME: serverHome });
    expect([typo.status, typo.stderr]).toEqual([2, expect.stringContaining('no org "acne" on this machine\'s database: it has "acme", "local"')]);
    expect((await km(['members', 'list', '--org', 'acne'], { KM_HOME: serverHome })).status).toBe(2);
    const malformed = await km(['members', 'invite', 'hubot', '--role', 'owner', '--org', 'Bad!'], { KM_HOME: serverHome });
    expect([malformed.status, malformed.stderr]).toEqual([2, expect.stringContaining('"Bad!" is not an org id')]);

    // Never stored in clear: not in the database (with its WAL), not in the log.
    for (const file of readdirSync(serverHome)) {
      if (!/^km\.(db|db-wal|log)$/.test(file)) continue;
      const bytes = readFileSync(join(serverHome, file)).toString('latin1');
      for (const key of [owner, viewer, web]) expect({ file, holds: bytes.includes(key.slice(21)) }).toEqual({ file, holds: false });
    }
  });
});
