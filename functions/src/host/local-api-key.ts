import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The org of everything recorded on this machine by the embedded stack. */
export const LOCAL_ORG_ID = 'local';

export const apiKeyPath = (home: string) => join(home, 'api-key');

/** The key km serve signs audit heads with: on this machine, the one that makes its exports (km audit verify trusts it). */
export const auditKeyPath = (home: string) => join(home, 'audit-signing-key.pem');

/**
 * The key local `km` wrappers send to `km serve`: made once per KM_HOME, readable by this user only (0600).
 * It is created by write-then-link so that a second process starting at the same moment either wins the link or
 * reads the complete key of the winner, never an empty or half-written file.
 */
export function readOrCreateLocalApiKey(home: string): string {
  return readOrCreateSecret(apiKeyPath(home), () => `km_local_${randomBytes(32).toString('base64url')}`);
}

/** The audit trail's signing key of this KM_HOME (Ed25519, PKCS8 PEM), made once, 0600 like the API key. */
export function readOrCreateAuditKey(home: string, make: () => string): string {
  return readOrCreateSecret(auditKeyPath(home), make);
}

function readOrCreateSecret(path: string, make: () => string): string {
  const existing = readKey(path);
  if (existing) return existing;

  const key = make();
  const draft = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(draft, `${key}\n`, { mode: 0o600 });
  try {
    linkSync(draft, path);
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const winner = readKey(path);
    if (winner) return winner;
    // An empty key file (e.g. truncated by hand) is replaced, with the same restrictive mode.
    writeFileSync(path, `${key}\n`, { mode: 0o600 });
    return key;
  } finally {
    unlinkSync(draft);
  }
}

function readKey(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim() || null;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
