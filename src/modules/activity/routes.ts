import { z } from '@hono/zod-openapi';
import { defineRoute, json, OrgParam, type TenantApp } from '../../lib/openapi';
import { pageOf } from '../../lib/pagination';
import { listActivity } from './service';
import { ActivityQuery, ActivitySchema } from './schemas';

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
