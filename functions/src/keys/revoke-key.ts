import { ApiError, keyIdOfReference, keyRights, roleMayGrant } from '@km/shared';
import { oneOwnerChangeAtATime, ownersLeft } from '../members/owners-left';
import type { MemberDirectory } from '../members/member-directory';
import type { Caller, ReadModelStore } from '../ports';
import type { KeyDirectory } from './key-directory';
import type { KeyListingDoc } from './key-docs';

/** The caller's rights over the org's keys (keyRights); none is a 403 that says who has them. */
export function rightsOf(caller: Caller): 'all' | 'own' {
  const rights = keyRights(caller);
  if (rights === 'none') {
    throw new ApiError(403, `this key's role "${caller.role}" may not make, list or revoke API keys: an owner or admin does, or a member signed in to the dashboard with GitHub (their own keys; an API key makes none, so that a leaked one cannot outlive its revocation)`);
  }
  return rights;
}

/** Which keys the caller sees and revokes: a member's own, a project key's project's; null: all of the org's. */
export function visibleKeys(caller: Caller, rights: 'all' | 'own'): ((key: KeyListingDoc) => boolean) | null {
  if (rights === 'own') return (key) => key.createdBy === caller.actor;
  return caller.projectId ? (key) => key.projectId === caller.projectId : null;
}

/**
 * Revokes a key for the API and for `km keys revoke` on KM_HOME's database alike: as with making keys, only an
 * owner revokes an owner's, and never the org's last owner (ownersLeft says who counts): with none, nobody could
 * make an owner again through the API.
 */
export async function revokeKey(
  directories: { keys: KeyDirectory; members: MemberDirectory; store: ReadModelStore },
  caller: Caller,
  reference: string,
  now: () => Date = () => new Date(),
): Promise<KeyListingDoc> {
  const change = async () => {
    const visible = visibleKeys(caller, rightsOf(caller));
    const keys = await directories.keys.list(caller.orgId);
    // By the id the directory revokes (a prefix or a whole key names it too), so no spelling passes the checks below.
    const id = keyIdOfReference(reference);
    const target = keys.find((key) => key.keyId === id);
    if (visible && !(target && visible(target))) {
      throw new ApiError(403, caller.projectId ? `this key is scoped to project "${caller.projectId}": it revokes keys of that project only` : 'a member revokes the keys they made only: an owner or admin revokes the others');
    }
    if (target?.role === 'owner' && target.revokedAt === null) {
      if (!roleMayGrant(caller.role, 'owner')) throw new ApiError(403, `${target.keyId} is an owner key: only an owner revokes owner keys`);
      if ((await ownersLeft(directories, caller.orgId, { keyIds: [target.keyId] })) === 0) {
        throw new ApiError(409, `${target.keyId} is the org's last owner: make another owner key (km keys create --role owner) or invite an owner who signs in, then revoke it`);
      }
    }
    return directories.keys.revoke(caller.orgId, reference, caller.actor);
  };
  // Only an owner key's revocation changes who owns the org: the others need no lease, and meet no other owner change.
  const target = (await directories.keys.list(caller.orgId)).find((key) => key.keyId === keyIdOfReference(reference));
  return target?.role === 'owner' && target.revokedAt === null ? oneOwnerChangeAtATime(directories.store, caller.orgId, change, now) : change();
}
