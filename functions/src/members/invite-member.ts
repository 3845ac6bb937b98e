import { ApiError, ROLES, roleMayGrant, type Role } from '@km/shared';
import type { KeyDirectory } from '../keys/key-directory';
import type { KeyListingDoc } from '../keys/key-docs';
import type { ReadModelStore } from '../ports';
import type { MemberDirectory, MemberDoc } from './member-directory';
import { changesOwners, mayStopBeingOwner, oneOwnerChangeAtATime } from './owners-left';

/**
 * Invites a login with a role, or gives a member a new one, for the API and for `km members invite` on KM_HOME's
 * database alike. A role is granted only by one who may grant it (only an owner makes owners), and an owner's role
 * is changed by owners only, never the org's last one's: an invitation that named an owner again with another role
 * used to demote them past the rules removal keeps, and could leave the org with no owner to manage it. A lowered
 * role leaves the keys they made with their roles, listed (keysAbove), or with revokeKeys revokes those above it.
 */
export async function inviteMember(
  directories: { members: MemberDirectory; keys: KeyDirectory; store: ReadModelStore },
  caller: { orgId: string; role: Role; actor: string },
  login: string,
  role: Role,
  options: { revokeKeys?: boolean; now?: () => Date } = {},
): Promise<MemberDoc & { keysAbove?: string[]; keysRevoked?: string[] }> {
  const { orgId } = caller;
  if (!roleMayGrant(caller.role, role)) throw new ApiError(403, `a caller with role "${caller.role}" cannot invite with role "${role}": only an owner makes owners`);
  const lowered = (member: MemberDoc | null): member is MemberDoc => member !== null && ROLES.indexOf(role) > ROLES.indexOf(member.role);
  // The keys they made with a role above the new one (a key keeps its role): said when the role is lowered, revoked
  // when asked whatever it was (the same role again, as km members invite advises; a removed member invited back).
  const keysAbove = async (member: MemberDoc | null) =>
    lowered(member) || options.revokeKeys ? (await directories.keys.workingKeysMadeBy(orgId, member?.login ?? login)).filter((key) => ROLES.indexOf(key.role) < ROLES.indexOf(role)) : [];
  // What the change takes away: the member's role unless it stays owner, and the keys above the new one if revoked.
  const leaving = (member: MemberDoc | null, above: KeyListingDoc[]) => ({ member: member !== null && role !== 'owner' ? member : undefined, keys: options.revokeKeys ? above : [] });
  const change = async () => {
    const member = await directories.members.find(orgId, login);
    const above = await keysAbove(member);
    await mayStopBeingOwner(directories, caller, leaving(member, above), { doing: "changes an owner's role", then: 'change their role' });
    const keysRevoked = options.revokeKeys ? await directories.keys.revokeEach(orgId, above, caller.actor) : [];
    const invited = await directories.members.invite(orgId, login, role, caller.actor);
    if (options.revokeKeys) return { ...invited, keysRevoked };
    return above.length > 0 ? { ...invited, keysAbove: above.map((key) => key.prefix) } : invited;
  };
  // Only a change of who owns the org (an owner demoted, owner keys revoked) needs the lease and meets other owner changes.
  const member = await directories.members.find(orgId, login);
  return changesOwners(leaving(member, options.revokeKeys ? await keysAbove(member) : [])) ? oneOwnerChangeAtATime(directories.store, orgId, change, options.now) : change();
}
