import { createHash } from 'node:crypto';
import { keyIdOfKey, type Role } from '@km/shared';
import type { AuthRefusal, Authenticator, Caller, Credentials } from '../ports';
import type { KeyLookupDoc } from '../keys/key-docs';

/** An API key as the server stores it: only the hash, so a leaked settings file or database leaks no key. */
export interface ApiKeyRecord {
  /** sha256 of the key, lowercase hex (see hashApiKey). */
  keyHash: string;
  orgId: string;
  /** Keys from settings (Bicep's apiKeyHashes, the local key) are the org's owners unless told otherwise. */
  role?: Role;
  projectId?: string;
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export interface ApiKeyAuthenticatorOptions {
  /**
   * The org of a request with no Authorization header at all. Only for the embedded host on 127.0.0.1, so that
   * `curl 127.0.0.1:PORT/api/sessions` and the local dashboard work without a key. A wrong key is still refused.
   */
  anonymousOrgId?: string;
  /** Keys made with `km keys create` / POST /api/keys, looked up by hash on every request (a revocation is at once). */
  lookupKey?: (keyHash: string) => Promise<KeyLookupDoc | null>;
}

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;
const UNKNOWN: AuthRefusal = { refused: 'unknown' };

/**
 * Resolves `Authorization: Bearer <key>` to the key's org, role and scope: the keys of the settings first, then the
 * keys made through the API. Looking a key up by its sha256 keeps the comparison free of timing leaks: an attacker
 * cannot steer the hash of a guess towards a stored hash byte by byte.
 */
export class ApiKeyAuthenticator implements Authenticator {
  private readonly callerByHash: Map<string, Caller>;

  constructor(keys: readonly ApiKeyRecord[], private readonly options: ApiKeyAuthenticatorOptions = {}) {
    this.callerByHash = new Map(keys.map((key) => [key.keyHash.toLowerCase(), settingsKeyCaller(key)]));
  }

  async authenticate({ authorization: authorizationHeader }: Credentials): Promise<Caller | AuthRefusal> {
    if (authorizationHeader === null) {
      return this.options.anonymousOrgId ? { orgId: this.options.anonymousOrgId, role: 'owner', actor: 'local' } : { refused: 'missing' };
    }
    const key = BEARER.exec(authorizationHeader)?.[1];
    if (!key) return { refused: 'malformed' };
    const keyId = keyIdOfKey(key);
    return this.byKeyHash(hashApiKey(key), keyId ?? undefined, key.slice(0, key.indexOf('_', 3) + 1));
  }

  /**
   * The caller of a key known by its hash: a dashboard session opened with a key asks again on every request, so a
   * revoked key ends its sessions too. keyId: the id the key itself carries, which the stored one must match.
   */
  async byKeyHash(keyHash: string, keyId?: string, prefix = 'km_live_'): Promise<Caller | AuthRefusal> {
    const fromSettings = this.callerByHash.get(keyHash);
    if (fromSettings) return fromSettings;
    if (!this.options.lookupKey) return UNKNOWN;
    const stored = await this.options.lookupKey(keyHash);
    if (!stored || (keyId !== undefined && stored.keyId !== keyId)) return UNKNOWN;
    if (stored.revokedAt !== null) return { refused: 'revoked', keyPrefix: `${prefix}${stored.keyId}`, revokedAt: stored.revokedAt };
    return { orgId: stored.orgId, role: stored.role, actor: `key:${stored.keyId}`, ...(stored.projectId ? { projectId: stored.projectId } : {}) };
  }
}

/** A settings key is named in the record by the start of its hash: the hash is public, the key is not. */
function settingsKeyCaller(key: ApiKeyRecord): Caller {
  return {
    orgId: key.orgId,
    role: key.role ?? 'owner',
    actor: `key:${key.keyHash.toLowerCase().slice(0, 12)}`,
    ...(key.projectId ? { projectId: key.projectId } : {}),
  };
}
