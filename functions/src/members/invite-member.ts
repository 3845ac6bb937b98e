import { ApiError, ROLES, roleMayGrant, type Role } from '@km/shared';
import type { KeyDirectory } from '../keys/key-directory';
import type { ReadModelStore } from '../ports';
import type { MemberDirectory, MemberDoc } from './member-directory';
import { mayStopBeingOwner, oneOwnerChangeAtATime } from './owners-left';

/**
 * Invites a login with a role, or gives a member a new one, for the API and for `km members invite` on KM_HOME's
 * database alike. A role is granted only by one who may grant it (only an owner makes owners), and an owner's role
 * is changed by owners only, never the org's last one's: an invitation that named an owner again with another role
 * used to demote them past the rules removal keeps, and could leave the org with no owner to manage it.
 */
export async function inviteMember(
  directories: { members: MemberDirectory; keys: KeyDirectory; store: ReadModelStore },
  caller: { orgId: string; role: Role; actor: string },
  login: string,
  role: Role,
  now: () => Date = () => new Date(),
): Promise<MemberDoc & { keysAbove?: string[] }> {
  const { orgId } = caller;
  if (!roleMayGrant(caller.role, role)) throw new ApiError(403, `a caller with role "${caller.role}" cannot invite with role "${role}": only an owner makes owners`);
  const change = async () => {
    const member = await directories.members.find(orgId, login);
    if (member?.role === 'owner' && role !== 'owner') await mayStopBeingOwner(directories, caller, member, { doing: "changes an owner's role", then: 'change their role' });
    const invited = await directories.members.invite(orgId, login, role, caller.actor);
    if (!member || ROLES.indexOf(role) <= ROLES.indexOf(member.role)) return invited;
    // Lowered: the keys they made keep their roles, so say which are above the new one.
    const keysAbove = (await directories.keys.workingKeysMadeBy(orgId, member.login)).filter((key) => ROLES.indexOf(key.role) < ROLES.indexOf(role)).map((key) => key.prefix);
    return keysAbove.length > 0 ? { ...invited, keysAbove } : invited;
  };
  // Only an owner's demotion changes who owns the org: the others need no lease, and meet no other owner change.
  const demotion = role !== 'owner' && (await directories.members.find(orgId, login))?.role === 'owner';
  return demotion ? oneOwnerChangeAtATime(directories.store, orgId, change, now) : change();
}
