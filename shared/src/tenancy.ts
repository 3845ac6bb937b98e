import { z } from 'zod';

/** A member's or an API key's role in its org, most powerful first. */
export const ROLES = ['owner', 'admin', 'member', 'viewer'] as const;
export const RoleSchema = z.enum(ROLES);
export type Role = z.infer<typeof RoleSchema>;

/**
 * What a caller may do. `read`: every query. `ingest`: ship events. `change`: budgets, policies, finding status.
 * `manage`: keys, members and teams of the org.
 */
export type Permission = 'read' | 'ingest' | 'change' | 'manage';

const ALLOWED: Readonly<Record<Role, readonly Permission[]>> = {
  owner: ['read', 'ingest', 'change', 'manage'],
  admin: ['read', 'ingest', 'change', 'manage'],
  member: ['read', 'ingest', 'change'],
  viewer: ['read'],
};

export function roleAllows(role: Role, permission: Permission): boolean {
  return ALLOWED[role].includes(permission);
}

/** An admin may hand out every role but owner; only an owner makes owners. */
export function roleMayGrant(granter: Role, granted: Role): boolean {
  if (!roleAllows(granter, 'manage')) return false;
  return granted !== 'owner' || granter === 'owner';
}
