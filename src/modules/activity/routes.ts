import { z } from '@hono/zod-openapi';
import { ACTOR_TYPES } from '../../db/enums';
import { InstantOrDate } from '../../lib/fields';
import { defineRoute, json, OrgParam, type TenantApp } from '../../lib/openapi';
import { pageOf, pageQuery } from '../../lib/pagination';
import { listActivity } from './service';

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

const ActivityQuery = z.object({
  ...pageQuery,
  resource_type: z.string().max(64).optional(),
  resource_id: z.string().max(64).optional(),
  user_id: z.string().uuid().optional(),
  action: z.string().max(64).optional(),
  from: InstantOrDate.optional().openapi({ description: 'Inclusive: an instant, or a date (its midnight UTC)' }),
  to: InstantOrDate.optional().openapi({ description: 'Exclusive: an instant, or a date (its midnight UTC)' }),
});

export function registerActivityRoutes(app: TenantApp) {
  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/activity',
      tags: ['Activity'],
      permission: 'activity:read',
      summary: 'The audit trail: every change, who made it, before and after',
      request: { params: z.object({ org: OrgParam }), query: ActivityQuery },
      responses: { 200: json(pageOf(ActivitySchema), 'A page of activity, newest first') },
    }),
    async (c) => c.json(await listActivity({ ctx: c.get('tenant'), input: c.req.valid('query') }), 200),
  );
}
