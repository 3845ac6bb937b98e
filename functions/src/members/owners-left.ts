import type { KeyDirectory } from '../keys/key-directory';
import type { MemberDirectory } from './member-directory';

/**
 * The org's owners that remain when one leaves (an owner member removed, an owner key revoked): owner members who
 * have joined (an invitation may name a login nobody has) and org-wide owner keys not revoked (a project's cannot
 * make keys or invite). None left, and nobody could manage the org any more through the API: members, keys and
 * owners are made by owners only.
 */
export async function ownersLeft(directories: { members: MemberDirectory; keys: KeyDirectory }, orgId: string, leaving: { login: string } | { keyId: string }): Promise<number> {
  const members = (await directories.members.list(orgId)).filter((member) => member.role === 'owner' && member.joinedAt !== null && !('login' in leaving && member.login === leaving.login)).length;
  const keys = (await directories.keys.list(orgId)).filter(
    (key) => key.role === 'owner' && key.projectId === null && key.revokedAt === null && !('keyId' in leaving && key.keyId === leaving.keyId),
  ).length;
  return members + keys;
}

/**
 * Owner changes of one org, one at a time in this process: two revocations checked at once would each see the
 * other's owner left and both go through. (Instances of the Functions app do not share it: see the README.)
 */
const pending = new Map<string, Promise<unknown>>();
export function oneOwnerChangeAtATime<T>(orgId: string, change: () => Promise<T>): Promise<T> {
  const before = pending.get(orgId) ?? Promise.resolve();
  const run = before.then(change, change);
  const settled = run.catch(() => undefined);
  pending.set(orgId, settled);
  void settled.then(() => {
    if (pending.get(orgId) === settled) pending.delete(orgId);
  });
  return run;
}
