// Members' shapes: the read shape, add and change (role, permission adjustments).
import { z } from '@hono/zod-openapi';
import { PERMISSIONS } from '../../auth/permissions';
import { MEMBER_ROLES } from '../../db/enums';
import { Email } from '../../lib/fields';
import { UserSchema } from '../me/schemas';

const PermissionName = z.enum(PERMISSIONS);

const MemberPermissions = z
  .object({
    grant: z.array(PermissionName).max(PERMISSIONS.length).default([]),
    deny: z.array(PermissionName).max(PERMISSIONS.length).default([]),
  })
  .strict()
  .openapi('MemberPermissions', { description: 'Adjustments to the role: grants added, denies removed; deny wins' });

export const MemberSchema = z
  .object({
    id: z.string().uuid(),
    organization_id: z.string().uuid(),
    user_id: z.string().uuid(),
    role: z.enum(MEMBER_ROLES),
    permissions: z.object({ grant: z.array(z.string()), deny: z.array(z.string()) }),
    invited_by: z.string().nullable(),
    joined_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    user: UserSchema,
  })
  .openapi('Member');

export const MemberCreate = z
  .object({ email: Email, role: z.enum(MEMBER_ROLES), permissions: MemberPermissions.optional() })
  .strict()
  .openapi('MemberCreate');

export const MemberPatch = z
  .object({ role: z.enum(MEMBER_ROLES), permissions: MemberPermissions })
  .partial()
  .strict()
  .openapi('MemberPatch');

export type MemberCreate = z.output<typeof MemberCreate>;
export type MemberPatch = z.output<typeof MemberPatch>;
