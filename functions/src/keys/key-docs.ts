import type { KeyCreated, KeyRevoked, Role } from '@km/shared';

/** The read model of API keys: one container (`keys`), two kinds of documents made from the same events. */
export const KEYS_MODEL = 'keys';

/**
 * What authentication reads, found by the key's hash alone (the org is not known before the key is): in a partition
 * of its own, so in Cosmos DB it is one point read. The hash of a 256-bit random key reveals nothing.
 */
export interface KeyLookupDoc {
  kind: 'lookup';
  keyId: string;
  orgId: string;
  role: Role;
  projectId: string | null;
  revokedAt: string | null;
}

/** What `km keys list` shows, in the org's partition. Never the key, never its hash. */
export interface KeyListingDoc {
  kind: 'key';
  keyId: string;
  prefix: string;
  role: Role;
  projectId: string | null;
  label: string | null;
  createdAt: string;
  createdBy: string;
  revokedAt: string | null;
  revokedBy: string | null;
}

export const lookupPartition = (keyHash: string) => `sha256:${keyHash}`;
/** The hash is the id too: unique in the container even where a store keys documents by id alone. */
export const lookupDocId = (keyHash: string) => keyHash;

export function lookupDocOf(event: KeyCreated): KeyLookupDoc {
  return { kind: 'lookup', keyId: event.keyId, orgId: event.orgId, role: event.role, projectId: event.projectId, revokedAt: null };
}

export function listingDocOf(event: KeyCreated): KeyListingDoc {
  return {
    kind: 'key',
    keyId: event.keyId,
    prefix: `${event.prefix}${event.keyId}`,
    role: event.role,
    projectId: event.projectId,
    label: event.label,
    createdAt: event.ts,
    createdBy: event.actor,
    revokedAt: null,
    revokedBy: null,
  };
}

/** A revocation keeps the first time it happened: revoking again changes nothing. */
export function revoked<T extends { revokedAt: string | null }>(doc: T, event: KeyRevoked): T {
  if (doc.revokedAt !== null) return doc;
  return 'revokedBy' in doc ? { ...doc, revokedAt: event.ts, revokedBy: event.actor } : { ...doc, revokedAt: event.ts };
}
