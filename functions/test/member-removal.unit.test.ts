import { apiRoutes, type ApiRouteName } from '@km/shared';
import { ApiKeyAuthenticator, hashApiKey } from '../src/adapters/api-key-authenticator';
import { MemoryEventLog } from '../src/adapters/memory-event-log';
import { MemoryReadModelStore } from '../src/adapters/memory-read-model-store';
import { KeyDirectory } from '../src/keys/key-directory';
import { MemberDirectory } from '../src/members/member-directory';
import { httpRoutes } from '../src/routes';
import { ClientPrincipalAuthenticator } from '../src/signin/client-principal';
import { SessionAuthenticator } from '../src/signin/session-authenticator';
import { SignInSessions, SESSION_COOKIE } from '../src/signin/sign-in-sessions';
import { askHandlers } from './contracts/api.contract';

const OWNER = 'km_test_owner_key_of_org_a';
const ADMIN = 'km_test_admin_key_of_org_a';
const NOW = new Date('2026-12-01T10:00:00.000Z');
/** How a settings key is named on the events it makes: by the start of its hash. */
const actorOf = (key: string) => `key:${hashApiKey(key).slice(0, 12)}`;

/** Given an org with members, teams and keys, when an owner or admin removes a member through the route table. */
function setup() {
  const eventLog = new MemoryEventLog();
  const readModelStore = new MemoryReadModelStore();
  const keys = new ApiKeyAuthenticator([
    { keyHash: hashApiKey(OWNER), orgId: 'org-a', role: 'owner' },
    { keyHash: hashApiKey(ADMIN), orgId: 'org-a', role: 'admin' },
  ]);
  const deps = { eventLog, readModelStore, authenticator: keys, now: () => NOW, newBatchId: () => 'b' };
  const routes = httpRoutes(deps);
  const ask = (name: ApiRouteName, params: Record<string, string> = {}, body?: unknown, key = OWNER) => askHandlers(routes, key, apiRoutes.find((candidate) => candidate.name === name)!, params, body);
  const members = new MemberDirectory(readModelStore, async (events) => void (await eventLog.append(events)), () => NOW, () => 'b');
  const logged = async () => (await eventLog.read(0, 1000)).map(({ event }) => event);
  const logAppend = (events: Parameters<MemoryEventLog['append']>[0]) => eventLog.append(events);
  return { ask, members, keys, logged, readModelStore, logAppend };
}

describe('removing a member', () => {
  it('takes them out of the org and of the teams that name them, as events in the log (what the audit trail exports), with their actor', async () => {
    const { ask, members, logged, readModelStore, logAppend } = setup();
    expect((await ask('inviteMember', {}, { login: 'Octocat', role: 'member' })).status).toBe(200);
    expect((await ask('inviteMember', {}, { login: 'hubot', role: 'viewer' })).status).toBe(200);
    expect((await members.signIn('Octocat', 'github', 'invitation'))).toMatchObject({ caller: { orgId: 'org-a' } });
    expect((await ask('setTeam', { teamId: 'platform' }, { name: 'Platform', userIds: ['octocat', 'ann@example.com'] })).status).toBe(200);
    expect((await ask('setTeam', { teamId: 'web' }, { name: 'Web', userIds: ['ann@example.com'] })).status).toBe(200);

    // A key they made, signed in with GitHub, and one they revoked: a removal leaves the keys, and says which still work.
    const keys = new KeyDirectory(readModelStore, async (events) => void (await logAppend(events)), () => NOW, () => 'b');
    const made = await keys.create({ orgId: 'org-a', role: 'member', projectId: null, label: 'ci', actor: 'github:octocat' });
    const gone = await keys.create({ orgId: 'org-a', role: 'viewer', projectId: null, label: null, actor: 'github:octocat' });
    await keys.revoke('org-a', gone.listing.keyId, 'github:octocat');

    const removed = await ask('removeMember', { login: 'octocat' }, undefined, ADMIN);
    expect([removed.status, removed.body]).toEqual([200, { login: 'Octocat', role: 'member', removedBy: actorOf(ADMIN), teamsLeft: ['platform'], keysMade: [made.listing.prefix], keysRevoked: [] }]);
    expect((await ask('members')).body.members.map((member: { login: string }) => member.login)).toEqual(['hubot']);
    const teams = (await ask('teams')).body.teams.map((team: { teamId: string; userIds: string[]; updatedBy: string }) => [team.teamId, team.userIds, team.updatedBy]);
    expect(teams).toEqual([
      ['platform', ['ann@example.com'], actorOf(ADMIN)],
      ['web', ['ann@example.com'], actorOf(OWNER)],
    ]);
    const changes = (await logged()).filter((event) => event.type === 'member.removed' || event.type === 'team.set').slice(-2);
    expect(changes).toEqual([
      expect.objectContaining({ type: 'member.removed', orgId: 'org-a', login: 'Octocat', role: 'member', actor: actorOf(ADMIN) }),
      expect.objectContaining({ type: 'team.set', teamId: 'platform', userIds: ['ann@example.com'], actor: actorOf(ADMIN) }),
    ]);
    // once removed, nothing more to remove
    const again = await ask('removeMember', { login: 'octocat' });
    expect([again.status, again.body.error]).toEqual([404, expect.stringContaining('no member or invitation "octocat"')]);
  });

  it('refuses their sign-in from then on, ends their dashboard session at its next request, and lets them back in when invited again', async () => {
    const { ask, members, keys } = setup();
    await ask('inviteMember', {}, { login: 'octocat', role: 'member' });
    const signedIn = await members.signIn('octocat', 'github', 'invitation');
    if (!('caller' in signedIn)) throw new Error('not signed in');
    const sessions = new SignInSessions(() => NOW.getTime());
    const token = sessions.open(signedIn.caller);
    const viaSession = new SessionAuthenticator(keys, sessions, members);
    const cookie = { authorization: null, cookie: `${SESSION_COOKIE}=${token}`, clientPrincipal: null };
    expect(await viaSession.authenticate(cookie)).toEqual({ orgId: 'org-a', role: 'member', actor: 'github:octocat' });

    expect((await ask('removeMember', { login: 'octocat' })).status).toBe(200);
    expect(await viaSession.authenticate(cookie)).toEqual({ refused: 'removed' });
    // the session is gone, not merely refused once
    expect(await viaSession.authenticate(cookie)).toEqual({ refused: 'expired' });
    // GitHub sign-in, on km serve and through Static Web Apps (where sign-up may be open: not a new org either)
    expect(await members.signIn('octocat', 'github', 'invitation')).toEqual({ refused: expect.stringContaining('octocat was removed from the org') });
    const swa = new ClientPrincipalAuthenticator(keys, members, 'open');
    const principal = btoa(JSON.stringify({ identityProvider: 'github', userId: '1', userDetails: 'octocat', userRoles: ['authenticated'] }));
    expect(await swa.authenticate({ authorization: null, cookie: null, clientPrincipal: principal })).toEqual({ refused: 'unknown' });

    // invited again (by any org: the login belongs to none now), a new membership
    expect((await ask('inviteMember', {}, { login: 'octocat', role: 'viewer' })).body).toMatchObject({ login: 'octocat', role: 'viewer', joinedAt: null });
    expect(await members.signIn('octocat', 'github', 'invitation')).toEqual({ caller: { orgId: 'org-a', role: 'viewer', actor: 'github:octocat' } });
  });

  it("never brings back a removed member's session: not when invited again, nor once they have signed in again", async () => {
    const { ask, keys, readModelStore, logAppend } = setup();
    let nowMs = NOW.getTime();
    const members = new MemberDirectory(readModelStore, async (events) => void (await logAppend(events)), () => new Date(nowMs), () => 'b');
    const sessions = new SignInSessions(() => nowMs);
    const viaSession = new SessionAuthenticator(keys, sessions, members);
    const cookieOf = (token: string) => ({ authorization: null, cookie: `${SESSION_COOKIE}=${token}`, clientPrincipal: null });
    await ask('inviteMember', {}, { login: 'lift', role: 'viewer' });
    const first = await members.signIn('lift', 'github', 'invitation');
    if (!('caller' in first)) throw new Error('not signed in');
    const old = cookieOf(sessions.open(first.caller));
    expect(await viaSession.authenticate(old)).toMatchObject({ role: 'viewer' });
    nowMs += 60_000;
    // Removed and invited back as admin with no request from that browser between: it came back as admin.
    await ask('removeMember', { login: 'lift' });
    await ask('inviteMember', {}, { login: 'lift', role: 'admin' });
    expect(await viaSession.authenticate(old)).toEqual({ refused: 'removed' });
    // Signed in again: the new session is theirs, and the old one stays gone.
    nowMs += 60_000;
    const again = await members.signIn('lift', 'github', 'invitation');
    if (!('caller' in again)) throw new Error('not signed in');
    const fresh = cookieOf(sessions.open(again.caller));
    expect(await viaSession.authenticate(fresh)).toEqual({ orgId: 'org-a', role: 'admin', actor: 'github:lift' });
    expect(await viaSession.authenticate(old)).toEqual({ refused: 'expired' });
  });

  it("lets only an owner remove an owner, never the org's last one", async () => {
    const { ask, members } = setup();
    await ask('inviteMember', {}, { login: 'boss', role: 'owner' });
    await ask('inviteMember', {}, { login: 'deputy', role: 'owner' });
    // An owner invitation nobody took up is no owner yet: a mistyped login does not stand for one.
    await ask('inviteMember', {}, { login: 'b0ss-typo', role: 'owner' });
    await members.signIn('boss', 'github', 'invitation');
    await members.signIn('deputy', 'github', 'invitation');
    const byAdmin = await ask('removeMember', { login: 'boss' }, undefined, ADMIN);
    expect([byAdmin.status, byAdmin.body.error]).toEqual([403, 'boss is an owner: only an owner removes owners']);
    // The keys here are not the directory's (a static key list, like the Bicep's): the owners are the two members.
    expect((await ask('removeMember', { login: 'deputy' })).status).toBe(200);
    const last = await ask('removeMember', { login: 'boss' });
    expect([last.status, last.body.error]).toEqual([409, expect.stringContaining("boss is the org's last owner: invite another owner who signs in")]);
    // Taking back the invitation nobody took up leaves the owners as they were.
    expect((await ask('removeMember', { login: 'b0ss-typo' })).status).toBe(200);
    expect((await ask('members')).body.members.map((member: { login: string }) => member.login)).toEqual(['boss']);
  });

  it("lets only an owner change an owner's role, never the org's last one's, and a new role applies to an open dashboard session at once", async () => {
    const { ask, members, keys: authenticator, readModelStore, logAppend } = setup();
    await ask('inviteMember', {}, { login: 'boss', role: 'owner' });
    await ask('inviteMember', {}, { login: 'deputy', role: 'owner' });
    const signedIn = await members.signIn('boss', 'github', 'invitation');
    await members.signIn('deputy', 'github', 'invitation');
    if (!('caller' in signedIn)) throw new Error('not signed in');
    const sessions = new SignInSessions(() => NOW.getTime());
    const cookie = { authorization: null, cookie: `${SESSION_COOKIE}=${sessions.open(signedIn.caller)}`, clientPrincipal: null };
    const viaSession = new SessionAuthenticator(authenticator, sessions, members);
    expect(await viaSession.authenticate(cookie)).toMatchObject({ role: 'owner' });
    // An invitation naming an owner again used to demote them past the rules removal keeps.
    const byAdmin = await ask('inviteMember', {}, { login: 'boss', role: 'viewer' }, ADMIN);
    expect([byAdmin.status, byAdmin.body.error]).toEqual([403, "boss is an owner: only an owner changes an owner's role"]);
    expect((await ask('members')).body.members.find((member: { login: string }) => member.login === 'boss')).toMatchObject({ role: 'owner' });
    expect((await ask('inviteMember', {}, { login: 'deputy', role: 'admin' })).status).toBe(200);
    const last = await ask('inviteMember', {}, { login: 'boss', role: 'viewer' });
    expect([last.status, last.body.error]).toEqual([409, expect.stringContaining("boss is the org's last owner")]);
    expect((await ask('inviteMember', {}, { login: 'deputy', role: 'owner' })).status).toBe(200);
    // An owner key boss made keeps its role: the demotion says so (and not of a viewer key, nor of a revoked one).
    const keys = new KeyDirectory(readModelStore, async (events) => void (await logAppend(events)), () => NOW, () => 'b');
    const ownerKey = await keys.create({ orgId: 'org-a', role: 'owner', projectId: null, label: null, actor: 'github:boss' });
    await keys.create({ orgId: 'org-a', role: 'viewer', projectId: null, label: null, actor: 'github:boss' });
    const demoted = await ask('inviteMember', {}, { login: 'boss', role: 'viewer' });
    expect([demoted.status, demoted.body.keysAbove]).toEqual([200, [ownerKey.listing.prefix]]);
    // Not lowered (invited again with the role they have): nothing to say.
    expect(Object.keys((await ask('inviteMember', {}, { login: 'deputy', role: 'owner' })).body)).not.toContain('keysAbove');
    // The session signed in as an owner acts as a viewer from its next request (it kept owner for 12 hours).
    expect(await viaSession.authenticate(cookie)).toEqual({ orgId: 'org-a', role: 'viewer', actor: 'github:boss' });
  });

  it('waits for no other process: an owner change under way elsewhere (its lease held) is a 409 to retry, and a lapsed lease is taken', async () => {
    const { ask, members, readModelStore } = setup();
    await ask('inviteMember', {}, { login: 'boss', role: 'owner' });
    await members.signIn('boss', 'github', 'invitation');
    const created = await ask('createKey', {}, { role: 'owner', label: 'second' });
    const keyId = created.body.apiKey.keyId as string;
    // Another Functions instance (or `km members remove` beside km serve) is revoking an owner right now.
    const lease = (until: string) => readModelStore.upsert('members', 'org-a', 'owner-change-lease', { kind: 'owner-change-lease', holder: 'elsewhere', until });
    await lease(new Date(NOW.getTime() + 10_000).toISOString());
    for (const refused of [await ask('revokeKey', { keyId }), await ask('removeMember', { login: 'boss' })]) {
      expect([refused.status, refused.body.error]).toEqual([409, expect.stringContaining("another change of the org's owners is under way")]);
    }
    expect((await ask('keys')).body.keys.find((key: { keyId: string }) => key.keyId === keyId)).toMatchObject({ revokedAt: null });
    // What changes no owner takes no lease, and goes through meanwhile.
    const memberKey = (await ask('createKey', {}, { role: 'member', label: 'ci' })).body.apiKey.keyId as string;
    expect((await ask('revokeKey', { keyId: memberKey })).status).toBe(200);
    await ask('inviteMember', {}, { login: 'visitor', role: 'viewer' });
    expect((await ask('removeMember', { login: 'visitor' })).status).toBe(200);
    // A holder that crashed: its lease lapses, and the change goes through and lets go of it.
    await lease(new Date(NOW.getTime() - 1).toISOString());
    expect((await ask('revokeKey', { keyId })).status).toBe(200);
    expect((await readModelStore.get('members', 'org-a', 'owner-change-lease'))!.doc).toMatchObject({ holder: null });
    expect((await ask('members')).body.members.map((member: { login: string }) => member.login)).toEqual(['boss']);
  });

  it('counts an owner key the org made as an owner that remains', async () => {
    const { ask } = setup();
    await ask('inviteMember', {}, { login: 'boss', role: 'owner' });
    expect((await ask('createKey', {}, { role: 'owner', label: 'break-glass' })).status).toBe(200);
    expect((await ask('removeMember', { login: 'boss' })).status).toBe(200);
  });

  it('revokes the keys they made with them when asked (revokeKeys=true), and no other key', async () => {
    const { ask, members, readModelStore, logAppend, logged } = setup();
    await ask('inviteMember', {}, { login: 'octocat', role: 'admin' });
    await members.signIn('octocat', 'github', 'invitation');
    const keys = new KeyDirectory(readModelStore, async (events) => void (await logAppend(events)), () => NOW, () => 'b');
    const theirs = await keys.create({ orgId: 'org-a', role: 'admin', projectId: null, label: 'laptop', actor: 'github:Octocat' });
    const theirProject = await keys.create({ orgId: 'org-a', role: 'member', projectId: 'web', label: null, actor: 'github:octocat' });
    const another = await keys.create({ orgId: 'org-a', role: 'member', projectId: null, label: 'ci', actor: 'github:hubot' });
    // A key their admin key made, and one that one made: theirs too (they outlived the removal that revoked the first).
    const madeWithTheirs = await keys.create({ orgId: 'org-a', role: 'admin', projectId: null, label: null, actor: `key:${theirs.listing.keyId}` });
    const madeWithThat = await keys.create({ orgId: 'org-a', role: 'viewer', projectId: null, label: null, actor: `key:${madeWithTheirs.listing.keyId}` });
    // Only true or false: a "yes" read as false would leave the keys the caller meant to revoke.
    const unclear = await ask('removeMember', { login: 'octocat', revokeKeys: 'yes' }, undefined, ADMIN);
    expect([unclear.status, unclear.body.error]).toEqual([400, expect.stringContaining('revokeKeys must be true or false, got "yes"')]);
    expect((await ask('members')).body.members.map((member: { login: string }) => member.login)).toEqual(['octocat']);

    const removed = await ask('removeMember', { login: 'octocat', revokeKeys: 'true' }, undefined, ADMIN);
    const all = [theirs, theirProject, madeWithTheirs, madeWithThat];
    expect([removed.status, removed.body.keysMade, [...removed.body.keysRevoked].sort()]).toEqual([200, [], all.map((key) => key.listing.prefix).sort()]);
    const working = (await keys.list('org-a')).filter((key) => key.revokedAt === null).map((key) => key.keyId);
    expect(working).toEqual([another.listing.keyId]);
    const revokedBy = (await logged()).filter((event) => event.type === 'key.revoked').map((event) => [(event as { keyId: string }).keyId, event.actor]);
    expect(revokedBy.sort()).toEqual(all.map((key) => [key.listing.keyId, actorOf(ADMIN)]).sort());
    // The removal that went through before: nothing more to remove or revoke.
    expect((await ask('removeMember', { login: 'octocat', revokeKeys: 'true' })).status).toBe(404);
  });

  it("revokes an owner key with them only as an owner, and never the org's last owner", async () => {
    const { ask, members, readModelStore, logAppend } = setup();
    await ask('inviteMember', {}, { login: 'boss', role: 'owner' });
    await members.signIn('boss', 'github', 'invitation');
    const keys = new KeyDirectory(readModelStore, async (events) => void (await logAppend(events)), () => NOW, () => 'b');
    const ownerKey = await keys.create({ orgId: 'org-a', role: 'owner', projectId: null, label: null, actor: 'github:boss' });
    // boss's owner key is an owner that remains when boss goes (the static keys here are not the directory's) ...
    // ... but not when it goes with them: the org would have no owner.
    const last = await ask('removeMember', { login: 'boss', revokeKeys: 'true' });
    expect([last.status, last.body.error]).toEqual([409, expect.stringContaining(`boss is the org's last owner with their owner keys (${ownerKey.listing.prefix})`)]);
    expect((await keys.list('org-a')).map((key) => key.revokedAt)).toEqual([null]);
    expect((await ask('members')).body.members.map((member: { login: string }) => member.login)).toEqual(['boss']);

    // Demoted to admin by an owner who stays, boss keeps the owner key: an admin cannot revoke it with them.
    await ask('inviteMember', {}, { login: 'deputy', role: 'owner' });
    await members.signIn('deputy', 'github', 'invitation');
    expect((await ask('inviteMember', {}, { login: 'boss', role: 'admin' })).body.keysAbove).toEqual([ownerKey.listing.prefix]);
    const byAdmin = await ask('removeMember', { login: 'boss', revokeKeys: 'true' }, undefined, ADMIN);
    expect([byAdmin.status, byAdmin.body.error]).toEqual([403, `${ownerKey.listing.prefix} is an owner key: only an owner revokes owner keys`]);
    expect((await keys.list('org-a')).map((key) => key.revokedAt)).toEqual([null]);
    const byOwner = await ask('removeMember', { login: 'boss', revokeKeys: 'true' });
    expect([byOwner.status, byOwner.body.keysRevoked]).toEqual([200, [ownerKey.listing.prefix]]);
  });

  it('revokes the keys above a lowered role when asked, and keeps those at or below it', async () => {
    const { ask, members, readModelStore, logAppend } = setup();
    await ask('inviteMember', {}, { login: 'octocat', role: 'admin' });
    await members.signIn('octocat', 'github', 'invitation');
    const keys = new KeyDirectory(readModelStore, async (events) => void (await logAppend(events)), () => NOW, () => 'b');
    const admin = await keys.create({ orgId: 'org-a', role: 'admin', projectId: null, label: null, actor: 'github:octocat' });
    const member = await keys.create({ orgId: 'org-a', role: 'member', projectId: null, label: null, actor: 'github:octocat' });
    const viewer = await keys.create({ orgId: 'org-a', role: 'viewer', projectId: null, label: null, actor: 'github:octocat' });
    const lowered = await ask('inviteMember', { revokeKeys: 'true' }, { login: 'octocat', role: 'viewer' }, ADMIN);
    expect([lowered.status, lowered.body.role, [...lowered.body.keysRevoked].sort(), lowered.body.keysAbove]).toEqual([200, 'viewer', [admin.listing.prefix, member.listing.prefix].sort(), undefined]);
    expect((await keys.list('org-a')).filter((key) => key.revokedAt === null).map((key) => key.keyId)).toEqual([viewer.listing.keyId]);
    // Raised again: nothing is above the new role, nothing revoked.
    const raised = await ask('inviteMember', { revokeKeys: 'true' }, { login: 'octocat', role: 'member' }, ADMIN);
    expect([raised.status, raised.body.keysRevoked]).toEqual([200, []]);
    expect((await keys.list('org-a')).filter((key) => key.revokedAt === null).map((key) => key.keyId)).toEqual([viewer.listing.keyId]);
  });

  it('revokes the keys above the role when asked again with the same role (as km members invite advises), or when a removed member is invited back', async () => {
    const { ask, members, readModelStore, logAppend } = setup();
    const keys = new KeyDirectory(readModelStore, async (events) => void (await logAppend(events)), () => NOW, () => 'b');
    const working = async () => (await keys.list('org-a')).filter((key) => key.revokedAt === null).map((key) => key.prefix);
    await ask('inviteMember', {}, { login: 'octocat', role: 'admin' });
    await members.signIn('octocat', 'github', 'invitation');
    const adminKey = await keys.create({ orgId: 'org-a', role: 'admin', projectId: null, label: null, actor: 'github:octocat' });
    expect((await ask('inviteMember', {}, { login: 'octocat', role: 'member' })).body.keysAbove).toEqual([adminKey.listing.prefix]);
    // The same role again, with revokeKeys: before, not a lowering, so nothing was revoked and keysRevoked said [].
    expect((await ask('inviteMember', { revokeKeys: 'true' }, { login: 'octocat', role: 'member' })).body.keysRevoked).toEqual([adminKey.listing.prefix]);
    expect(await working()).toEqual([]);

    await ask('inviteMember', {}, { login: 'hubot', role: 'admin' });
    await members.signIn('hubot', 'github', 'invitation');
    const hubotKey = await keys.create({ orgId: 'org-a', role: 'admin', projectId: null, label: null, actor: 'github:hubot' });
    expect((await ask('removeMember', { login: 'hubot' })).body.keysMade).toEqual([hubotKey.listing.prefix]);
    // Invited back as a viewer with revokeKeys: the admin key a plain removal left goes.
    const back = await ask('inviteMember', { revokeKeys: 'true' }, { login: 'hubot', role: 'viewer' });
    expect([back.status, back.body.keysRevoked, await working()]).toEqual([200, [hubotKey.listing.prefix], []]);
  });
});
