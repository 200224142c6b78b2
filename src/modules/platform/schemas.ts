// Platform administration's shapes.
import { z } from '@hono/zod-openapi';
import { DATA_REGIONS, USER_ROLES } from '../../db/enums';
import { ActivitySchema } from '../activity/schemas';

export const Health = z.object({ status: z.literal('ok') }).openapi('Health');

export const UserRolePatch = z
  .object({ role: z.enum(USER_ROLES) })
  .strict()
  .openapi('UserRolePatch');

export const PlatformActivitySchema = ActivitySchema.omit({ organization_id: true }).openapi('PlatformActivity');

export const ShardSchema = z
  .object({
    binding: z.string().openapi({ example: 'SHARD_0' }),
    region: z
      .enum(DATA_REGIONS)
      .nullable()
      .openapi({ description: 'Location hint, or `eu`; null without a `shards` row' }),
    open: z.boolean().openapi({ description: 'Takes new organizations' }),
    organizations: z.number().int(),
    rows: z.number().int().openapi({ description: 'Rows of every tenant table' }),
    bytes: z.number().int().openapi({ description: "The database's size, as D1 reports it" }),
    limit_bytes: z.number().int().openapi({ description: "D1's most bytes per database" }),
    used: z.number().openapi({ description: 'bytes / limit_bytes' }),
  })
  .openapi('Shard');

export const ShardPatch = z.object({ open: z.boolean() }).strict().openapi('ShardPatch');
