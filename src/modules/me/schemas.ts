// The signed-in user's shapes.
import { z } from '@hono/zod-openapi';
import { MEMBER_ROLES, TIERS, USER_ROLES } from '../../db/enums';

export const UserSchema = z
  .object({
    id: z.string().uuid(),
    clerk_user_id: z
      .string()
      .nullable()
      .openapi({ description: "The user's Clerk id; null for someone invited who has not signed in yet" }),
    email: z.string(),
    first_name: z.string().nullable(),
    last_name: z.string().nullable(),
    name: z.string().nullable(),
    avatar_url: z.string().nullable(),
    role: z.enum(USER_ROLES),
    subscription_tier: z.enum(TIERS),
    is_active: z.boolean(),
    last_login_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('User');

export const MeSchema = UserSchema.extend({
  memberships: z.array(
    z.object({
      organization: z.object({ id: z.string().uuid(), slug: z.string(), name: z.string() }),
      role: z.enum(MEMBER_ROLES),
    }),
  ),
}).openapi('Me');
