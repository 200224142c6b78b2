// Platform administration's shapes.
import { z } from '@hono/zod-openapi';
import { DATA_REGIONS, MOVE_PHASES, USER_ROLES } from '../../db/enums';
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

export const MoveStart = z
  .object({
    to: z.string().max(20).openapi({ example: 'SHARD_1', description: 'The destination shard' }),
    leave_eu: z
      .boolean()
      .optional()
      .openapi({ description: 'Required (true) to move an organization kept in the EU to a shard outside it' }),
  })
  .strict()
  .openapi('MoveStart');

const ShardCheck = z.object({ rows: z.number().int(), sum: z.number().int() });

export const MoveSchema = z
  .object({
    id: z.string(),
    organization_id: z.string(),
    from: z.string().openapi({ example: 'SHARD_0' }),
    to: z.string().openapi({ example: 'SHARD_1' }),
    phase: z.enum(MOVE_PHASES),
    done: z.boolean().openapi({ description: 'cleaned or rolled_back: no step has anything left to do' }),
    wait_ms: z.number().int().openapi({ description: 'After the flip: how long until the source rows may go' }),
    cursor: z.object({ unit: z.number().int(), after: z.string().nullable(), objects: z.string().nullish() }),
    checks: z
      .record(z.string(), z.object({ source: ShardCheck, destination: ShardCheck }))
      .openapi({ description: 'Per table (and r2:objects): rows and a sum of row hashes read on each side' }),
    error: z.string().nullable(),
    started_by: z.string().nullable(),
    fenced_at: z.string().nullable(),
    flipped_at: z.string().nullable(),
    finished_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('OrganizationMove');
