// Roles, permissions and how they combine, here and nowhere else (docs/api/organizations.md).
import type { MemberPermissions } from '../db/catalog';
import type { MemberRole, UserRole } from '../db/enums';

export const PERMISSIONS = [
  'organization:read',
  'organization:update',
  'organization:delete',
  'members:read',
  'members:manage',
  'owners:manage',
  'api_keys:read',
  'api_keys:manage',
  'activity:read',
  'billing:read',
  'billing:manage',
  'usage:read',
  'customers:read',
  'customers:write',
  'customers:delete',
  'projects:read',
  'projects:write',
  'projects:delete',
  'tasks:read',
  'tasks:write',
  'tasks:delete',
  'appointments:read',
  'appointments:write',
  'appointments:delete',
  'content:read',
  'content:write',
  'content:publish',
  'content:archive',
  'content:delete',
  'assets:read',
  'assets:write',
  'assets:delete',
  'conversations:read',
  'conversations:write',
  'conversations:delete',
  'ai_tools:read',
  'webhooks:manage',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

export const isPermission = (value: string): value is Permission => (PERMISSIONS as readonly string[]).includes(value);

const VIEWER: Permission[] = [
  'organization:read',
  'members:read',
  'customers:read',
  'projects:read',
  'tasks:read',
  'appointments:read',
  'content:read',
  'assets:read',
  'conversations:read',
  'ai_tools:read',
];
const MEMBER: Permission[] = [
  ...VIEWER,
  'customers:write',
  'projects:write',
  'tasks:write',
  'appointments:write',
  'content:write',
  'assets:write',
  'conversations:write',
];
const ADMIN: Permission[] = [
  ...MEMBER,
  'organization:update',
  'members:manage',
  'api_keys:read',
  'api_keys:manage',
  'activity:read',
  'billing:read',
  'usage:read',
  'customers:delete',
  'projects:delete',
  'tasks:delete',
  'appointments:delete',
  'content:publish',
  'content:archive',
  'content:delete',
  'assets:delete',
  'conversations:delete',
  'webhooks:manage',
];
const OWNER: Permission[] = [...ADMIN, 'billing:manage', 'owners:manage', 'organization:delete'];

/** Each role includes the one before it. */
export const ROLE_PERMISSIONS: Record<MemberRole, readonly Permission[]> = {
  viewer: VIEWER,
  member: MEMBER,
  admin: ADMIN,
  owner: OWNER,
};

/** What a global `client` user may do inside an organization, whatever their member role. */
const CLIENT_CEILING: Permission[] = ['organization:read', 'projects:read', 'tasks:read', 'appointments:read'];

/** Platform staff (global `admin`) read any organization; every such access is audited. */
export const PLATFORM_ADMIN: Permission[] = PERMISSIONS.filter((p) => p.endsWith(':read'));

/** Global moderators may archive any organization's content. */
export const PLATFORM_MODERATOR: Permission[] = ['organization:read', 'content:read', 'content:archive'];

/**
 * Role defaults, plus the member's grants, minus their denies (deny wins), within the global role.
 * Platform staff keep what their global role gives in every organization (an admin reads, a
 * moderator archives content) when they are also members there: an organization's role or
 * denies narrow the member, not the staff.
 */
export function memberPermissions(
  role: MemberRole,
  adjustments: MemberPermissions,
  globalRole: UserRole,
): Set<Permission> {
  const granted = new Set<Permission>([...ROLE_PERMISSIONS[role], ...adjustments.grant.filter(isPermission)]);
  for (const denied of adjustments.deny) granted.delete(denied as Permission);
  if (globalRole === 'admin') PLATFORM_ADMIN.forEach((permission) => granted.add(permission));
  if (globalRole === 'moderator') PLATFORM_MODERATOR.forEach((permission) => granted.add(permission));
  if (globalRole === 'client') {
    for (const permission of granted) if (!CLIENT_CEILING.includes(permission)) granted.delete(permission);
  }
  return granted;
}

/** An API key may do what its scopes say, and never more than its creator can do today. */
export function apiKeyPermissions(scopes: readonly string[], creator: Set<Permission>): Set<Permission> {
  return new Set(scopes.filter(isPermission).filter((scope) => creator.has(scope)));
}
