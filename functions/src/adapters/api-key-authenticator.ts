import { createHash } from 'node:crypto';
import type { Role } from '@km/shared';
import type { Authenticator, Caller } from '../ports';

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
}

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

/**
 * Resolves `Authorization: Bearer <key>` to the key's org. Looking the key up by its sha256 keeps the comparison
 * free of timing leaks: an attacker cannot steer the hash of a guess towards a stored hash byte by byte.
 */
export class ApiKeyAuthenticator implements Authenticator {
  private readonly callerByHash: Map<string, Caller>;

  constructor(keys: readonly ApiKeyRecord[], private readonly options: ApiKeyAuthenticatorOptions = {}) {
    this.callerByHash = new Map(keys.map((key) => [key.keyHash.toLowerCase(), settingsKeyCaller(key)]));
  }

  async authenticate(authorizationHeader: string | null): Promise<Caller | null> {
    if (authorizationHeader === null) {
      return this.options.anonymousOrgId ? { orgId: this.options.anonymousOrgId, role: 'owner', actor: 'local' } : null;
    }
    const key = BEARER.exec(authorizationHeader)?.[1];
    if (!key) return null;
    return this.callerByHash.get(hashApiKey(key)) ?? null;
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
