import { z } from '@hono/zod-openapi';
import { USAGE_RESOURCE_TYPES, TIERS } from '../../db/enums';
import { defineRoute, json, OrgParam, type App } from '../../lib/openapi';
import { billingPeriod } from './quota';
import { getUsage } from './service';

const Limit = z.object({
  used: z.number().int(),
  limit: z.number().int().nullable().openapi({ description: 'null: unlimited' }),
  remaining: z.number().int().nullable(),
});

const Usage = z
  .object({
    period: z.string(),
    tier: z.enum(TIERS).openapi({ description: 'The tier in effect now (free while the subscription is not active, trialing or past_due)' }),
    totals: z.array(z.object({ resource_type: z.enum(USAGE_RESOURCE_TYPES), resource_name: z.string(), quantity: z.number().int() })),
    limits: z.object(Object.fromEntries(USAGE_RESOURCE_TYPES.map((r) => [r, Limit])) as Record<(typeof USAGE_RESOURCE_TYPES)[number], typeof Limit>),
  })
  .openapi('Usage');

const UsageQuery = z.object({
  period: z
    .string()
    .regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'A month as YYYY-MM.')
    .optional()
    .openapi({ description: 'YYYY-MM (UTC); the current month by default', example: '2026-11' }),
});

export function registerUsageRoutes(app: App) {
  app.openapi(
    defineRoute({
      method: 'get', path: '/v1/orgs/{org}/usage', tags: ['Billing'], permission: 'usage:read',
      summary: "A month's usage by resource type and name, with the tier's limits and what is left",
      request: { params: z.object({ org: OrgParam }), query: UsageQuery },
      responses: { 200: json(Usage, 'Usage of the period') },
    }),
    async (c) => c.json(await getUsage({ ctx: c.get('tenant'), input: { period: c.req.valid('query').period ?? billingPeriod() } }), 200),
  );
}
