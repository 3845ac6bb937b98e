import { apiRoutes, keyRights, keyRoleMayMake, type ApiRouteName } from '@km/shared';
import { MemoryEventLog } from '../src/adapters/memory-event-log';
import { MemoryReadModelStore } from '../src/adapters/memory-read-model-store';
import type { Authenticator, Caller, Credentials } from '../src/ports';
import { httpRoutes } from '../src/routes';
import { askHandlers } from './contracts/api.contract';

/**
 * A member signed in with GitHub makes, lists and revokes their own API keys (the first run's "Make my API key"), of
 * role member or viewer; a member's API key makes none; owners and admins keep the org's keys. Through the route table.
 */
const CALLERS: Record<string, Caller> = {
  owner: { orgId: 'org-a', role: 'owner', actor: 'key:owner' },
  admin: { orgId: 'org-a', role: 'admin', actor: 'key:admin' },
  octocat: { orgId: 'org-a', role: 'member', actor: 'github:octocat' },
  hubot: { orgId: 'org-a', role: 'member', actor: 'github:hubot' },
  memberKey: { orgId: 'org-a', role: 'member', actor: 'key:member' },
  watcher: { orgId: 'org-a', role: 'viewer', actor: 'github:watcher' },
  stranger: { orgId: 'org-b', role: 'member', actor: 'github:stranger' },
};

/** Bearer <name> is that caller: how they authenticated shows in their actor, as on the real authenticators. */
const byName: Authenticator = {
  async authenticate(credentials: Credentials) {
    const name = /^Bearer (\w+)$/.exec(credentials.authorization ?? '')?.[1];
    return (name && CALLERS[name]) || { refused: 'unknown' };
  },
};

function setup() {
  const deps = { eventLog: new MemoryEventLog(), readModelStore: new MemoryReadModelStore(), authenticator: byName, now: () => new Date('2026-12-04T10:00:00Z'), newBatchId: () => 'b' };
  const routes = httpRoutes(deps);
  return (caller: string, name: ApiRouteName, params: Record<string, string> = {}, body?: unknown) => askHandlers(routes, caller, apiRoutes.find((route) => route.name === name)!, params, body);
}

describe('API keys', () => {
  it('revokes a key once: revoking it again answers the same and writes no second key.revoked to the audit trail', async () => {
    const deps = { eventLog: new MemoryEventLog(), readModelStore: new MemoryReadModelStore(), authenticator: byName, now: () => new Date('2026-12-04T10:00:00Z'), newBatchId: () => 'b' };
    const routes = httpRoutes(deps);
    const ask = (name: ApiRouteName, params: Record<string, string> = {}, body?: unknown) => askHandlers(routes, 'owner', apiRoutes.find((route) => route.name === name)!, params, body);
    const made = await ask('createKey', {}, { role: 'member', label: 'ci' });
    const first = await ask('revokeKey', { keyId: made.body.apiKey.keyId });
    deps.now = () => new Date('2026-12-04T11:00:00Z');
    const again = await ask('revokeKey', { keyId: made.body.apiKey.keyId });
    expect([first.status, again.status, again.body.revokedAt]).toEqual([200, 200, first.body.revokedAt]);
    const revocations = (await deps.eventLog.read(0, 1000)).filter(({ event }) => event.type === 'key.revoked');
    expect(revocations).toHaveLength(1);
  });

  it("lets only an owner revoke an owner key, and never the org's last owner, whatever the key is called by", async () => {
    const ask = setup();
    const first = (await ask('owner', 'createKey', {}, { role: 'owner', label: 'first' })).body.apiKey;
    const second = (await ask('owner', 'createKey', {}, { role: 'owner', label: 'second' })).body.apiKey;
    // An admin cannot, by its id, its prefix or the whole key's spelling.
    for (const reference of [first.keyId, `km_live_${first.keyId}`, `km_live_${first.keyId}_whatever`]) {
      const refused = await ask('admin', 'revokeKey', { keyId: reference });
      expect([refused.status, refused.body.error]).toEqual([403, expect.stringContaining('only an owner revokes owner keys')]);
    }
    expect((await ask('owner', 'revokeKey', { keyId: first.keyId })).status).toBe(200);
    const last = await ask('owner', 'revokeKey', { keyId: `km_live_${second.keyId}` });
    expect([last.status, last.body.error]).toEqual([409, expect.stringContaining(`${second.keyId} is the org's last owner`)]);
    // Another owner first, then it goes.
    await ask('owner', 'createKey', {}, { role: 'owner', label: 'third' });
    expect((await ask('owner', 'revokeKey', { keyId: second.keyId })).status).toBe(200);
    // Keys of other roles are the admin's to revoke, as before.
    const member = (await ask('owner', 'createKey', {}, { role: 'member', label: 'ci' })).body.apiKey;
    expect((await ask('admin', 'revokeKey', { keyId: member.keyId })).status).toBe(200);
  });

  it("counts neither a project's owner key nor an owner invitation nobody took up as an owner left, and revokes two owners one at a time", async () => {
    const ask = setup();
    const orgWide = (await ask('owner', 'createKey', {}, { role: 'owner', label: 'org' })).body.apiKey;
    // A project's owner key makes no org-wide keys and invites nobody; an invitation may name a login nobody has.
    await ask('owner', 'createKey', {}, { role: 'owner', label: 'web', projectId: 'web' });
    await ask('owner', 'inviteMember', {}, { login: 'b0ss-typo', role: 'owner' });
    expect((await ask('owner', 'revokeKey', { keyId: orgWide.keyId })).status).toBe(409);
    // Two owner keys revoked at once: one goes, the other is the last.
    const another = (await ask('owner', 'createKey', {}, { role: 'owner', label: 'another' })).body.apiKey;
    const both = await Promise.all([ask('owner', 'revokeKey', { keyId: orgWide.keyId }), ask('owner', 'revokeKey', { keyId: another.keyId })]);
    expect(both.map((answer) => answer.status).sort()).toEqual([200, 409]);
  });

  it('refuses a blank label or project id, which would make a key nobody can tell apart or an org-wide one', async () => {
    const ask = setup();
    for (const body of [{ label: '   ' }, { projectId: '  ' }, { projectId: '' }]) expect((await ask('owner', 'createKey', {}, { role: 'member', ...body })).status).toBe(400);
  });
});

describe('API keys of members', () => {
  it('says who makes which keys', () => {
    expect(Object.fromEntries(Object.entries(CALLERS).map(([name, caller]) => [name, keyRights(caller)]))).toEqual({ owner: 'all', admin: 'all', octocat: 'own', hubot: 'own', memberKey: 'none', watcher: 'none', stranger: 'own' });
    expect(['owner', 'admin', 'member', 'viewer'].map((role) => keyRoleMayMake(CALLERS.octocat!, role as 'member'))).toEqual([false, false, true, true]);
    expect(['owner', 'admin', 'member', 'viewer'].map((role) => keyRoleMayMake({ role: 'admin', actor: 'key:x' }, role as 'member'))).toEqual([false, true, true, true]);
  });

  it('lets a member signed in with GitHub make, list and revoke their own keys only', async () => {
    const ask = setup();
    const made = await ask('octocat', 'createKey', {}, { role: 'member', label: 'first run' });
    expect([made.status, made.body.orgId, made.body.apiKey.createdBy, made.body.apiKey.role]).toEqual([200, 'org-a', 'github:octocat', 'member']);
    expect(made.body.key).toMatch(/^km_live_/);
    const theirs = await ask('hubot', 'createKey', {}, { role: 'viewer', label: 'hubot' });
    const owners = await ask('owner', 'createKey', {}, { role: 'member', label: 'ci' });
    expect([theirs.status, owners.status]).toEqual([200, 200]);

    // Each member sees the keys they made; the owner all of the org's.
    const labels = async (caller: string) => ((await ask(caller, 'keys')).body.keys as Array<{ label: string }>).map((key) => key.label);
    expect(await labels('octocat')).toEqual(['first run']);
    expect(await labels('hubot')).toEqual(['hubot']);
    expect((await labels('owner')).sort()).toEqual(['ci', 'first run', 'hubot']);
    expect(await labels('stranger')).toEqual([]);

    // Not a stronger role than their own, and not another's key.
    const admin = await ask('octocat', 'createKey', {}, { role: 'admin' });
    expect([admin.status, admin.body.error]).toEqual([403, 'a caller with role "member" cannot make a key with role "admin": a member makes keys of role member or viewer']);
    const others = await ask('octocat', 'revokeKey', { keyId: theirs.body.apiKey.keyId });
    expect([others.status, others.body.error]).toEqual([403, 'a member revokes the keys they made only: an owner or admin revokes the others']);
    const ownersKey = await ask('octocat', 'revokeKey', { keyId: owners.body.apiKey.keyId });
    expect(ownersKey.status).toBe(403);
    const own = await ask('octocat', 'revokeKey', { keyId: made.body.apiKey.prefix });
    expect([own.status, own.body.revokedAt]).toEqual([200, '2026-12-04T10:00:00.000Z']);
    // Another org's member cannot reach org A's keys, even by id.
    expect((await ask('stranger', 'revokeKey', { keyId: theirs.body.apiKey.keyId })).status).toBe(403);
    expect((await ask('owner', 'keys')).body.keys.find((key: { label: string }) => key.label === 'hubot').revokedAt).toBeNull();
  });

  it("tells a viewer who makes keys as it is: an owner's or admin's key, or a member signed in with GitHub, not a member's key", async () => {
    const ask = setup();
    const refused = await ask('watcher', 'createKey', {}, { role: 'viewer', label: 'x' });
    // Before: "a key of role owner, admin or member may", and a member's key then got another 403.
    expect([refused.status, refused.body.error]).toEqual([403, expect.stringContaining('a key of role owner or admin may (a member signed in to the dashboard with GitHub makes their own)')]);
    expect((await ask('memberKey', 'createKey', {}, { role: 'viewer', label: 'x' })).status).toBe(403);
  });

  it("refuses a member's API key and a viewer, saying who may", async () => {
    const ask = setup();
    for (const route of ['keys', 'createKey'] as const) {
      const byKey = await ask('memberKey', route, {}, route === 'createKey' ? { role: 'viewer' } : undefined);
      expect([byKey.status, byKey.body.error]).toEqual([403, expect.stringContaining('a member signed in to the dashboard with GitHub (their own keys; an API key makes none')]);
      const viewer = await ask('watcher', route, {}, route === 'createKey' ? { role: 'viewer' } : undefined);
      expect([viewer.status, viewer.body.error]).toEqual([403, expect.stringContaining('role "viewer" may not make, list or revoke API keys')]);
    }
  });
});
