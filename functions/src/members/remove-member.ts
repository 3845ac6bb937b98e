import { ApiError, type Role } from '@km/shared';
import type { KeyDirectory } from '../keys/key-directory';
import type { ReadModelStore } from '../ports';
import type { TeamDirectory } from '../teams/team-directory';
import type { MemberDirectory, MemberDoc } from './member-directory';
import { changesOwners, mayStopBeingOwner, oneOwnerChangeAtATime } from './owners-left';

/** What removing a member did: who it was, the teams they were taken out of, and their keys. */
export interface RemovedMember {
  login: string;
  role: Role;
  removedBy: string;
  teamsLeft: string[];
  /** The keys they made (signed in with GitHub) that still work, by shown prefix: left as they are, said. */
  keysMade: string[];
  /** Asked with revokeKeys: the keys they made, revoked with them (keysMade is then empty). */
  keysRevoked: string[];
}

/**
 * Takes a member (or an open invitation) out of the org, for the API and for `km members remove` on KM_HOME's
 * database alike: only an owner removes an owner, and never the org's last one (an owner member or an owner key not
 * revoked must remain, or nobody could manage the org any more). The member's sign-in stops working and they leave
 * the teams that name their login. The keys they made keep working (they may serve CI) unless revokeKeys: then
 * they go first, so that a removal cut short is finished by asking again (a removed member could not be named).
 */
export async function removeMember(
  directories: { members: MemberDirectory; teams: TeamDirectory; keys: KeyDirectory; store: ReadModelStore },
  caller: { orgId: string; role: Role; actor: string },
  login: string,
  options: { revokeKeys?: boolean; now?: () => Date } = {},
): Promise<RemovedMember> {
  const { orgId } = caller;
  const theirKeys = async (member: MemberDoc | null) => (member && options.revokeKeys ? directories.keys.workingKeysMadeBy(orgId, member.login) : []);
  const change = async () => {
    const member = await directories.members.find(orgId, login);
    if (!member) throw new ApiError(404, `no member or invitation "${login}" in your org: see km members list`);
    const revoking = await theirKeys(member);
    await mayStopBeingOwner(directories, caller, { member, keys: revoking }, { doing: 'removes owners', then: 'remove them' });
    const keysRevoked = await directories.keys.revokeEach(orgId, revoking, caller.actor);
    const removed = await directories.members.remove(orgId, member.login, caller.actor);
    const teamsLeft = await directories.teams.leave(orgId, member.login, caller.actor);
    const keysMade = (await directories.keys.workingKeysMadeBy(orgId, member.login)).map((key) => key.prefix);
    return { login: removed.login, role: removed.role, removedBy: caller.actor, teamsLeft, keysMade, keysRevoked };
  };
  // Only a change of who owns the org (an owner removed, owner keys revoked) needs the lease and meets other owner changes.
  const member = await directories.members.find(orgId, login);
  const ownerChange = changesOwners({ member: member ?? undefined, keys: await theirKeys(member) });
  return ownerChange ? oneOwnerChangeAtATime(directories.store, orgId, change, options.now) : change();
}
