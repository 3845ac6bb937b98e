import { ApiError, type Role } from '@km/shared';
import type { KeyDirectory } from '../keys/key-directory';
import type { ReadModelStore } from '../ports';
import type { TeamDirectory } from '../teams/team-directory';
import type { MemberDirectory } from './member-directory';
import { mayStopBeingOwner, oneOwnerChangeAtATime } from './owners-left';

/** What removing a member did: who it was, and the teams they were taken out of. */
export interface RemovedMember {
  login: string;
  role: Role;
  removedBy: string;
  teamsLeft: string[];
  /** The keys they made (signed in with GitHub) that still work, by shown prefix: left as they are, said. */
  keysMade: string[];
}

/**
 * Takes a member (or an open invitation) out of the org, for the API and for `km members remove` on KM_HOME's
 * database alike: only an owner removes an owner, and never the org's last one (an owner member or an owner key not
 * revoked must remain, or nobody could manage the org any more). The member's sign-in stops working and they leave
 * the teams that name their login.
 */
export async function removeMember(
  directories: { members: MemberDirectory; teams: TeamDirectory; keys: KeyDirectory; store: ReadModelStore },
  caller: { orgId: string; role: Role; actor: string },
  login: string,
  now: () => Date = () => new Date(),
): Promise<RemovedMember> {
  const { orgId } = caller;
  const change = async () => {
    const member = await directories.members.find(orgId, login);
    if (!member) throw new ApiError(404, `no member or invitation "${login}" in your org: see km members list`);
    if (member.role === 'owner') await mayStopBeingOwner(directories, caller, member, { doing: 'removes owners', then: 'remove them' });
    const removed = await directories.members.remove(orgId, member.login, caller.actor);
    const teamsLeft = await directories.teams.leave(orgId, member.login, caller.actor);
    const keysMade = (await directories.keys.workingKeysMadeBy(orgId, member.login)).map((key) => key.prefix);
    return { login: removed.login, role: removed.role, removedBy: caller.actor, teamsLeft, keysMade };
  };
  // Only an owner's removal changes who owns the org: the others need no lease, and meet no other owner change.
  const owner = (await directories.members.find(orgId, login))?.role === 'owner';
  return owner ? oneOwnerChangeAtATime(directories.store, orgId, change, now) : change();
}
