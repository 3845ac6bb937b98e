import { ApiKeyAuthenticator, hashApiKey } from '../src/adapters/api-key-authenticator';

/** Credentials with only this Authorization header. */
const bearer = (authorization: string | null) => ({ authorization, cookie: null, clientPrincipal: null });

describe('ApiKeyAuthenticator', () => {
  const keys = [
    { keyHash: hashApiKey('key-a'), orgId: 'org-a' },
    { keyHash: hashApiKey('key-b').toUpperCase(), orgId: 'org-b' },
  ];

  it('resolves a Bearer key to its org by the sha256 of the key', async () => {
    const authenticator = new ApiKeyAuthenticator(keys);
    expect(await authenticator.authenticate(bearer('Bearer key-a'))).toEqual({ orgId: 'org-a', role: 'owner', actor: `key:${hashApiKey('key-a').slice(0, 12)}` });
    expect(await authenticator.authenticate(bearer('bearer   key-b '))).toEqual({ orgId: 'org-b', role: 'owner', actor: `key:${hashApiKey('key-b').slice(0, 12)}` });
    expect(hashApiKey('key-a')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses unknown keys, other schemes, malformed headers and the hash itself used as a key', async () => {
    const authenticator = new ApiKeyAuthenticator(keys);
    for (const header of ['Bearer key-c', `Bearer ${hashApiKey('key-a')}`]) expect(await authenticator.authenticate(bearer(header))).toEqual({ refused: 'unknown' });
    // Not a Bearer key at all: said so, rather than taken for a key no org has.
    for (const header of ['Basic a2V5LWE=', 'key-a', 'Bearer', 'Bearer ', 'Bearer key-a extra', '']) expect(await authenticator.authenticate(bearer(header))).toEqual({ refused: 'malformed' });
  });

  it('gives the anonymous org only to a request with no Authorization header at all', async () => {
    const authenticator = new ApiKeyAuthenticator(keys, { anonymousOrgId: 'local' });
    expect(await authenticator.authenticate(bearer(null))).toEqual({ orgId: 'local', role: 'owner', actor: 'local' });
    expect(await authenticator.authenticate(bearer('Bearer wrong'))).toEqual({ refused: 'unknown' });
    expect(await authenticator.authenticate(bearer(''))).toEqual({ refused: 'malformed' });
    expect(await new ApiKeyAuthenticator(keys).authenticate(bearer(null))).toEqual({ refused: 'missing' });
  });
});
