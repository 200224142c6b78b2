import { z } from '@hono/zod-openapi';
import { defineRoute, json, OrgParam, type TenantApp } from '../../lib/openapi';
import { billingPeriod } from './quota';
import { getUsage } from './service';
import { Usage, UsageQuery } from './schemas';

export function registerUsageRoutes(app: TenantApp) {
  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/usage',
      tags: ['Billing'],
      permission: 'usage:read',
      summary:
        "A month's usage by resource type and name, with the tier's limits and what is left, and the month's rows",
      request: { params: z.object({ org: OrgParam }), query: UsageQuery },
      responses: { 200: json(Usage, 'Usage of the period') },
    }),
    async (c) => {
      const { period, ...page } = c.req.valid('query');
      return c.json(
        await getUsage({ ctx: c.get('tenant'), input: { period: period ?? billingPeriod(), ...page } }),
        200,
      );
    },
  );
}
