/**
 * The shape of a km API key: `km_live_<key id>_<secret>`. The prefix is what secret scanners (and km's own risk
 * rule `kilometers-api-key`) recognise; the key id names the key in lists, audit records and `km keys revoke` without
 * being secret; only the sha256 of the whole key is stored. `km_test_` keys are the same thing for test stacks, and
 * `km_local_` is the key the embedded stack makes for the wrappers of its own machine.
 */
export const API_KEY_PREFIXES = ['km_live_', 'km_test_'] as const;
export type ApiKeyPrefix = (typeof API_KEY_PREFIXES)[number];

export const KEY_ID_LENGTH = 12;
/** 32 random bytes, base64url. */
export const KEY_SECRET_LENGTH = 43;

const KEY_ID = `[a-z0-9]{${KEY_ID_LENGTH}}`;
export const KEY_ID_PATTERN = new RegExp(`^${KEY_ID}$`);
const KEY_PATTERN = new RegExp(`^km_(?:live|test)_(${KEY_ID})_[A-Za-z0-9_-]{${KEY_SECRET_LENGTH}}$`);

/** The key's id, or null when the text is not a km key. */
export function keyIdOfKey(key: string): string | null {
  return KEY_PATTERN.exec(key)?.[1] ?? null;
}

/** What a person types to name a key: its id, or its shown prefix `km_live_<id>`. */
export function keyIdOfReference(reference: string): string | null {
  const id = reference.replace(/^km_(?:live|test)_/, '').replace(/_.*$/, '');
  return KEY_ID_PATTERN.test(id) ? id : null;
}

export const keyDisplayPrefix = (prefix: ApiKeyPrefix, keyId: string) => `${prefix}${keyId}`;
