import type { KeyDirectory } from '../keys/key-directory';
import type { MemberDirectory } from './member-directory';

/**
 * The org's owners that remain when one leaves (an owner member removed, an owner key revoked): owner members and
 * owner keys not revoked. None left, and nobody could manage the org any more through the API: members, keys and
 * owners are made by owners only.
 */
export async function ownersLeft(directories: { members: MemberDirectory; keys: KeyDirectory }, orgId: string, leaving: { login: string } | { keyId: string }): Promise<number> {
  const members = (await directories.members.list(orgId)).filter((member) => member.role === 'owner' && !('login' in leaving && member.login === leaving.login)).length;
  const keys = (await directories.keys.list(orgId)).filter((key) => key.role === 'owner' && key.revokedAt === null && !('keyId' in leaving && key.keyId === leaving.keyId)).length;
  return members + keys;
}
