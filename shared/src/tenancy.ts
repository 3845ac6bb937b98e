import { z } from 'zod';

/** A member's or an API key's role in its org, most powerful first. */
export const ROLES = ['owner', 'admin', 'member', 'viewer'] as const;
export const RoleSchema = z.enum(ROLES);
export type Role = z.infer<typeof RoleSchema>;

/**
 * What a caller may do. `read`: every query. `ingest`: ship events. `change`: budgets, policies, finding status.
 * `keys`: the API key routes (a member only their own keys: keyRights). `manage`: keys, members and teams of the org.
 * `audit`: the audit trail, which holds every key change with the key's hash (a stored record cannot be redacted
 * without breaking its hash chain), so it is read only by the roles that manage keys.
 */
export type Permission = 'read' | 'ingest' | 'change' | 'keys' | 'manage' | 'audit';

const ALLOWED: Readonly<Record<Role, readonly Permission[]>> = {
  owner: ['read', 'ingest', 'change', 'keys', 'manage', 'audit'],
  admin: ['read', 'ingest', 'change', 'keys', 'manage', 'audit'],
  member: ['read', 'ingest', 'change', 'keys'],
  viewer: ['read'],
};

export function roleAllows(role: Role, permission: Permission): boolean {
  return ALLOWED[role].includes(permission);
}

/**
 * Which API keys a caller makes, lists and revokes. Owners and admins: all of the org's. A member signed in as a
 * person (GitHub): their own, as personal tokens are made, of role member or viewer (keyRoleMayMake). A member's API
 * key: none, so that a leaked key cannot make keys that outlive its revocation.
 */
export function keyRights(caller: { role: Role; actor: string }): 'all' | 'own' | 'none' {
  if (roleAllows(caller.role, 'manage')) return 'all';
  return roleAllows(caller.role, 'keys') && caller.actor.startsWith('github:') ? 'own' : 'none';
}

/** The roles a caller's new key may have: as roleMayGrant says for owners and admins; a member's own, member or viewer. */
export function keyRoleMayMake(caller: { role: Role; actor: string }, role: Role): boolean {
  const rights = keyRights(caller);
  return rights === 'all' ? roleMayGrant(caller.role, role) : rights === 'own' && (role === 'member' || role === 'viewer');
}

/** An admin may hand out every role but owner; only an owner makes owners. */
export function roleMayGrant(granter: Role, granted: Role): boolean {
  if (!roleAllows(granter, 'manage')) return false;
  return granted !== 'owner' || granter === 'owner';
}
