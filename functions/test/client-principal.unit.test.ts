import { ApiKeyAuthenticator, hashApiKey } from '../src/adapters/api-key-authenticator';
import { MemoryEventLog } from '../src/adapters/memory-event-log';
import { MemoryReadModelStore } from '../src/adapters/memory-read-model-store';
import { MemberDirectory } from '../src/members/member-directory';
import { ClientPrincipalAuthenticator, githubLoginOf } from '../src/signin/client-principal';

const principal = (fields: Record<string, unknown>) => btoa(JSON.stringify({ identityProvider: 'github', userId: 'abc123', userDetails: 'octocat', userRoles: ['anonymous', 'authenticated'], ...fields }));
const withPrincipal = (clientPrincipal: string | null, authorization: string | null = null) => ({ authorization, cookie: null, clientPrincipal });

describe("Static Web Apps' client principal", () => {
  const setup = (signUp: 'open' | 'invitation') => {
    const log = new MemoryEventLog();
    const members = new MemberDirectory(new MemoryReadModelStore(), async (events) => void (await log.append(events)), () => new Date('2026-12-01T10:00:00Z'), () => 'batch');
    const keys = new ApiKeyAuthenticator([{ keyHash: hashApiKey('km_test_the_key_of_org_a'), orgId: 'org-a' }]);
    return { log, members, auth: new ClientPrincipalAuthenticator(keys, members, signUp) };
  };

  it('reads the GitHub login of a well-formed principal, and refuses forged or foreign ones', () => {
    expect(githubLoginOf(principal({}))).toEqual({ login: 'octocat' });
    expect(githubLoginOf('not base64 json')).toEqual({ refused: 'x-ms-client-principal is not base64 JSON' });
    expect(githubLoginOf(principal({ identityProvider: 'aad' }))).toEqual({ refused: 'sign-in is with GitHub, not "aad"' });
    expect(githubLoginOf(principal({ userRoles: ['anonymous'] }))).toEqual({ refused: 'the principal is not authenticated' });
    expect(githubLoginOf(principal({ userDetails: 'octo cat<script>' }))).toEqual({ refused: 'the principal names no GitHub login' });
    expect(githubLoginOf(btoa('null'))).toEqual({ refused: 'x-ms-client-principal is not an object' });
  });

  it('signs an invited login in to its org, with its role, and records the sign-in once', async () => {
    const { log, members, auth } = setup('invitation');
    await members.invite('org-a', 'octocat', 'viewer', 'key:admin');
    expect(await auth.authenticate(withPrincipal(principal({})))).toEqual({ orgId: 'org-a', role: 'viewer', actor: 'github:octocat' });
    expect(await auth.authenticate(withPrincipal(principal({})))).toEqual({ orgId: 'org-a', role: 'viewer', actor: 'github:octocat' });
    const recorded = (await log.read(0, 100)).map(({ event }) => event.type);
    expect(recorded).toEqual(['member.invited', 'member.signed_in']);
    expect((await members.list('org-a'))[0]).toMatchObject({ login: 'octocat', role: 'viewer', joinedAt: '2026-12-01T10:00:00.000Z' });
  });

  it('refuses a login nobody invited where sign-up is by invitation, and gives it its own org where it is open', async () => {
    expect(await setup('invitation').auth.authenticate(withPrincipal(principal({ userDetails: 'mallory' })))).toEqual({ refused: 'unknown' });
    expect(await setup('open').auth.authenticate(withPrincipal(principal({ userDetails: 'Founder' })))).toEqual({ orgId: 'gh-founder', role: 'owner', actor: 'github:Founder' });
  });

  it('leaves requests with a key to the key, and a request with neither is missing its credentials', async () => {
    const { auth } = setup('open');
    expect(await auth.authenticate(withPrincipal(principal({ userDetails: 'someone' }), 'Bearer km_test_the_key_of_org_a'))).toMatchObject({ orgId: 'org-a', role: 'owner' });
    expect(await auth.authenticate(withPrincipal(principal({ identityProvider: 'twitter' })))).toEqual({ refused: 'unknown' });
    expect(await auth.authenticate(withPrincipal(null))).toEqual({ refused: 'missing' });
  });

  it('is not consulted where the deployment does not trust the header: a key authenticator ignores it', async () => {
    const keys = new ApiKeyAuthenticator([]);
    expect(await keys.authenticate(withPrincipal(principal({})))).toEqual({ refused: 'missing' });
  });
});
