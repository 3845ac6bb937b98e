import { randomBytes } from 'node:crypto';
import { ApiError, keyIdOfReference, newEventId, notFound, type ApiKeyPrefix, type KeyCreated, type KeyRevoked, type LoggedEvent, type Role } from '@km/shared';
import { hashApiKey } from '../adapters/api-key-authenticator';
import type { ReadModelStore } from '../ports';
import { KEYS_MODEL, listingDocOf, lookupDocId, lookupDocOf, lookupPartition, revoked, type KeyListingDoc, type KeyLookupDoc } from './key-docs';

export interface NewKey {
  orgId: string;
  role: Role;
  projectId: string | null;
  label: string | null;
  prefix?: ApiKeyPrefix;
  actor: string;
}

export interface CreatedKey {
  /** Shown once, to whoever asked for it; only its hash is kept. */
  key: string;
  listing: KeyListingDoc;
}

/** Org ids of new orgs: what fits a URL, a file name and a partition key, and cannot be one of the partitions below. */
const ORG_ID = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const isNewOrgId = (orgId: string) => ORG_ID.test(orgId);
export const ORG_ID_RULE = "lowercase letters, digits, '.', '_' and '-', up to 63, starting with a letter or digit";
/** Which orgs and key ids exist, for the local admin; `#` cannot start an org id. */
const ORGS_PARTITION = '#orgs';

const KEY_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/**
 * API keys as events: a key is made by appending `key.created` (its hash, never the key) and revoked by appending
 * `key.revoked`; the documents authentication and listing read follow from those events. The event goes first: a
 * key the log does not know of never works, and a revocation answered with success is in the log and in effect.
 * The documents are written here rather than by the projector loop, so a revoked key is refused on the very next
 * request, on every host.
 */
export class KeyDirectory {
  constructor(
    private readonly store: ReadModelStore,
    private readonly append: (events: LoggedEvent[]) => Promise<void>,
    private readonly now: () => Date,
    private readonly newBatchId: () => string,
  ) {}

  async create(request: NewKey): Promise<CreatedKey> {
    if (!ORG_ID.test(request.orgId)) throw new ApiError(400, `"${request.orgId}" is not an org id: ${ORG_ID_RULE}`, { parameter: 'orgId' });
    const keyId = randomKeyId();
    const prefix = request.prefix ?? 'km_live_';
    const key = `${prefix}${keyId}_${randomBytes(32).toString('base64url')}`;
    const ts = this.now().toISOString();
    const event: KeyCreated = {
      id: newEventId(this.now().getTime()),
      v: 1,
      type: 'key.created',
      ts,
      orgId: request.orgId,
      keyId,
      keyHash: hashApiKey(key),
      prefix,
      role: request.role,
      projectId: request.projectId,
      label: request.label,
      actor: request.actor,
    };
    await this.append([{ ...event, receivedAt: ts, batchId: this.newBatchId() }]);
    const listing = listingDocOf(event);
    await this.store.upsert(KEYS_MODEL, lookupPartition(event.keyHash), lookupDocId(event.keyHash), lookupDocOf(event));
    await this.store.upsert(KEYS_MODEL, request.orgId, `hash-${keyId}`, { kind: 'hash', keyHash: event.keyHash });
    await this.store.upsert(KEYS_MODEL, ORGS_PARTITION, `org-${request.orgId}`, { kind: 'org', orgId: request.orgId });
    await this.store.upsert(KEYS_MODEL, ORGS_PARTITION, `key-${keyId}`, { kind: 'key-org', orgId: request.orgId });
    await this.store.upsert(KEYS_MODEL, request.orgId, keyId, listing);
    return { key, listing };
  }

  async list(orgId: string): Promise<KeyListingDoc[]> {
    // An org has a handful of keys: sorted here, so no store needs an index for it.
    const docs = await this.store.query<KeyListingDoc>(KEYS_MODEL, orgId, { where: { kind: 'key' } });
    return docs.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.keyId.localeCompare(b.keyId));
  }

  /**
   * The keys a member made signed in with GitHub (actor github:<login>, any case) that still work, and the keys those
   * made in turn (actor key:<keyId>), and so on: an admin's key makes keys, which outlived a removal that revoked the
   * admin's own.
   */
  async workingKeysMadeBy(orgId: string, login: string): Promise<KeyListingDoc[]> {
    const working = (await this.list(orgId)).filter((key) => key.revokedAt === null);
    const makers = new Set([`github:${login.toLowerCase()}`]);
    const made: KeyListingDoc[] = [];
    for (let grew = true; grew; ) {
      grew = false;
      for (const key of working) {
        if (made.includes(key) || !makers.has(key.createdBy.toLowerCase())) continue;
        made.push(key);
        makers.add(`key:${key.keyId}`);
        grew = true;
      }
    }
    return made;
  }

  /** Revokes a key of this org by its id or shown prefix; a key of another org is as unknown as a key that never was. */
  async revoke(orgId: string, reference: string, actor: string): Promise<KeyListingDoc> {
    const keyId = keyIdOfReference(reference);
    if (!keyId) throw new ApiError(400, `"${reference}" is not a key id or prefix: give the id \`km keys list\` shows (12 letters and digits) or km_live_<id>`, { parameter: 'keyId' });
    const found = await this.store.get<KeyListingDoc>(KEYS_MODEL, orgId, keyId);
    if (!found || found.doc.kind !== 'key') throw notFound(`no key ${keyId} in org "${orgId}"`);
    // Revoked already: the same answer, and no second key.revoked in the audit trail.
    if (found.doc.revokedAt !== null) return found.doc;
    const ts = this.now().toISOString();
    const event: KeyRevoked = { id: newEventId(this.now().getTime()), v: 1, type: 'key.revoked', ts, orgId, keyId, actor };
    await this.append([{ ...event, receivedAt: ts, batchId: this.newBatchId() }]);
    const lookup = await this.findLookupOf(orgId, keyId);
    // The lookup first: that is the one that lets requests in.
    if (lookup) await this.store.upsert(KEYS_MODEL, lookupPartition(lookup.keyHash), lookupDocId(lookup.keyHash), revoked(lookup.doc, event));
    const listing = revoked(found.doc, event);
    await this.store.upsert(KEYS_MODEL, orgId, keyId, listing);
    return listing;
  }

  /** Revokes the org's keys given (a member's, with their removal), one by one; their shown prefixes. */
  async revokeEach(orgId: string, keys: readonly KeyListingDoc[], actor: string): Promise<string[]> {
    const prefixes: string[] = [];
    for (const key of keys) prefixes.push((await this.revoke(orgId, key.keyId, actor)).prefix);
    return prefixes;
  }

  /** The orgs that have keys: for the machine's own admin (`km keys list` on the embedded database), never the API. */
  async orgs(): Promise<string[]> {
    return (await this.store.query<{ orgId: string }>(KEYS_MODEL, ORGS_PARTITION, { where: { kind: 'org' } })).map((doc) => doc.orgId);
  }

  /** Whose key this is, by its id or prefix: for the machine's own admin, never the API (which knows the caller's org). */
  async orgOfKey(reference: string): Promise<string | null> {
    const keyId = keyIdOfReference(reference);
    return keyId ? ((await this.store.get<{ orgId: string }>(KEYS_MODEL, ORGS_PARTITION, `key-${keyId}`))?.doc.orgId ?? null) : null;
  }

  /** The listing does not hold the hash (it is not the org's to see); the log's key.created does, so it is kept beside. */
  private async findLookupOf(orgId: string, keyId: string): Promise<{ keyHash: string; doc: KeyLookupDoc } | null> {
    const pointer = await this.store.get<{ kind: 'hash'; keyHash: string }>(KEYS_MODEL, orgId, `hash-${keyId}`);
    if (!pointer) return null;
    const { keyHash } = pointer.doc;
    const doc = await this.store.get<KeyLookupDoc>(KEYS_MODEL, lookupPartition(keyHash), lookupDocId(keyHash));
    return doc ? { keyHash, doc: doc.doc } : null;
  }
}

/** How the authenticator finds a key made here: by the hash of the key, one point read. */
export function storedKeyLookup(store: ReadModelStore): (keyHash: string) => Promise<KeyLookupDoc | null> {
  return async (keyHash) => (await store.get<KeyLookupDoc>(KEYS_MODEL, lookupPartition(keyHash), lookupDocId(keyHash)))?.doc ?? null;
}

function randomKeyId(): string {
  const bytes = randomBytes(12);
  return Array.from(bytes, (byte) => KEY_ID_ALPHABET[byte % KEY_ID_ALPHABET.length]).join('');
}
