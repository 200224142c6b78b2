// The activity log's shapes: the read shape and the list query.
import { z } from '@hono/zod-openapi';
import { ACTOR_TYPES } from '../../db/enums';
import { InstantOrDate } from '../../lib/fields';
import { pageQuery } from '../../lib/pagination';

export const ActivitySchema = z
  .object({
    id: z.string().uuid(),
    organization_id: z.string().uuid(),
    user_id: z.string().nullable(),
    actor_type: z.enum(ACTOR_TYPES),
    actor_id: z.string().nullable(),
    action: z.string().openapi({ example: 'member.create' }),
    resource_type: z.string(),
    resource_id: z.string().nullable(),
    old_data: z.record(z.string(), z.unknown()).nullable(),
    new_data: z.record(z.string(), z.unknown()).nullable(),
    ip_address: z.string().nullable(),
    user_agent: z.string().nullable(),
    request_id: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi('Activity');

export const ActivityQuery = z.object({
  ...pageQuery,
  resource_type: z.string().max(64).optional(),
  resource_id: z.string().max(64).optional(),
  user_id: z.string().uuid().optional(),
  action: z.string().max(64).optional(),
  from: InstantOrDate.optional().openapi({ description: 'Inclusive: an instant, or a date (its midnight UTC)' }),
  to: InstantOrDate.optional().openapi({ description: 'Exclusive: an instant, or a date (its midnight UTC)' }),
});

export type ActivityQuery = z.output<typeof ActivityQuery>;
