import { randomUUID } from 'node:crypto';
import { ApiError, type Role } from '@km/shared';
import type { KeyDirectory } from '../keys/key-directory';
import type { KeyListingDoc } from '../keys/key-docs';
import { ConcurrencyError, type ReadModelStore } from '../ports';
import { MEMBERS_MODEL, type MemberDirectory } from './member-directory';

/**
 * The org's owners that remain when some leave (an owner member removed or demoted, owner keys revoked): owner
 * members who have joined (an invitation may name a login nobody has) and org-wide owner keys not revoked (a
 * project's cannot make keys or invite). None left, and nobody could manage the org any more through the API:
 * members, keys and owners are made by owners only.
 */
export async function ownersLeft(directories: { members: MemberDirectory; keys: KeyDirectory }, orgId: string, leaving: { login?: string; keyIds?: readonly string[] }): Promise<number> {
  const members = (await directories.members.list(orgId)).filter((member) => member.role === 'owner' && member.joinedAt !== null && member.login !== leaving.login).length;
  const keys = (await directories.keys.list(orgId)).filter((key) => key.role === 'owner' && key.projectId === null && key.revokedAt === null && !leaving.keyIds?.includes(key.keyId)).length;
  return members + keys;
}

/** Whether a change takes owners away: an owner member leaving their role, or an owner key among those revoked with it. */
export const changesOwners = (leaving: { member?: { role: Role } | undefined; keys: readonly KeyListingDoc[] }) => leaving.member?.role === 'owner' || leaving.keys.some((key) => key.role === 'owner');

/**
 * A member leaving their role (removed, or given another) and the keys revoked with it (revokeKeys): where that
 * takes owners away (changesOwners), only an owner may do it, and never to the org's last owner. An invitation
 * nobody took up was no owner yet: changing it leaves as many as there were. `doing` and `then` word the
 * refusals: "removes owners" / "remove them".
 */
export async function mayStopBeingOwner(
  directories: { members: MemberDirectory; keys: KeyDirectory },
  caller: { orgId: string; role: Role },
  leaving: { member?: { login: string; role: Role; joinedAt: string | null } | undefined; keys: readonly KeyListingDoc[] },
  words: { doing: string; then: string },
): Promise<void> {
  if (!changesOwners(leaving)) return;
  const member = leaving.member?.role === 'owner' ? leaving.member : undefined;
  const ownerKeys = leaving.keys.filter((key) => key.role === 'owner');
  const keys = ownerKeys.map((key) => key.prefix).join(', ');
  if (caller.role !== 'owner') throw new ApiError(403, member ? `${member.login} is an owner: only an owner ${words.doing}` : `${keys} ${ownerKeys.length > 1 ? 'are owner keys' : 'is an owner key'}: only an owner revokes owner keys`);
  const counted = (member !== undefined && member.joinedAt !== null) || ownerKeys.some((key) => key.projectId === null);
  if (counted && (await ownersLeft(directories, caller.orgId, { login: member?.login, keyIds: ownerKeys.map((key) => key.keyId) })) === 0) {
    const who = member ? `${member.login} is the org's last owner${ownerKeys.length > 0 ? ` with their owner keys (${keys})` : ''}` : `${keys} ${ownerKeys.length > 1 ? 'are' : 'is'} the org's last owner`;
    throw new ApiError(409, `${who}: invite another owner who signs in (km members invite <login> --role owner), or make an owner key, then ${words.then}`);
  }
}

/** The lease on an org's owner changes, in the members model beside the members it guards. */
interface OwnerChangeLease {
  kind: 'owner-change-lease';
  /** Who holds it (a random id per change), null once released. */
  holder: string | null;
  /** When it lapses, released or not: a holder that crashed does not hold the org's owner changes for ever. */
  until: string;
}
const LEASE_ID = 'owner-change-lease';
export const OWNER_CHANGE_LEASE_MS = 30_000;

/**
 * Owner changes of one org, one at a time: two revocations checked at once would each see the other's owner left
 * and both go through. In this process they wait for each other; across processes (Functions instances, `km members
 * remove` beside km serve) the change holds a lease, a document taken under its ETag, and a change that finds it
 * held by another is refused with a 409 to retry: owner changes are rare and made by people.
 */
const pending = new Map<string, Promise<unknown>>();
export function oneOwnerChangeAtATime<T>(store: ReadModelStore, orgId: string, change: () => Promise<T>, now: () => Date = () => new Date()): Promise<T> {
  const before = pending.get(orgId) ?? Promise.resolve();
  const leased = () => underLease(store, orgId, change, now);
  const run = before.then(leased, leased);
  const settled = run.catch(() => undefined);
  pending.set(orgId, settled);
  void settled.then(() => {
    if (pending.get(orgId) === settled) pending.delete(orgId);
  });
  return run;
}

const heldElsewhere = () => new ApiError(409, "another change of the org's owners is under way (a key revoked or a member removed elsewhere): try again in a moment");

async function underLease<T>(store: ReadModelStore, orgId: string, change: () => Promise<T>, now: () => Date): Promise<T> {
  const stored = await store.get<OwnerChangeLease>(MEMBERS_MODEL, orgId, LEASE_ID);
  if (stored && stored.doc.holder !== null && Date.parse(stored.doc.until) > now().getTime()) throw heldElsewhere();
  const holder = randomUUID();
  const lease: OwnerChangeLease = { kind: 'owner-change-lease', holder, until: new Date(now().getTime() + OWNER_CHANGE_LEASE_MS).toISOString() };
  let etag: string;
  try {
    etag = await store.upsert(MEMBERS_MODEL, orgId, LEASE_ID, lease, stored?.etag ?? null);
  } catch (error) {
    if (error instanceof ConcurrencyError) throw heldElsewhere();
    throw error;
  }
  try {
    return await change();
  } finally {
    const released: OwnerChangeLease = { kind: 'owner-change-lease', holder: null, until: now().toISOString() };
    // A lease that lapsed and was taken meanwhile is the other holder's now: left as it is. One that cannot be let go
    // of lapses by itself; the change it guarded is made, and answers as made.
    await store.upsert(MEMBERS_MODEL, orgId, LEASE_ID, released, etag).catch(() => undefined);
  }
}
