// Platform administration's shapes.
import { z } from '@hono/zod-openapi';
import { USER_ROLES } from '../../db/enums';
import { ActivitySchema } from '../activity/schemas';

export const Health = z.object({ status: z.literal('ok') }).openapi('Health');

export const UserRolePatch = z
  .object({ role: z.enum(USER_ROLES) })
  .strict()
  .openapi('UserRolePatch');

export const PlatformActivitySchema = ActivitySchema.omit({ organization_id: true }).openapi('PlatformActivity');
