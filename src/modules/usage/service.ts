// GET /usage: a period's totals by resource type and name, with the tier's limits and what is left.
import { and, eq, inArray, lte, or, sql } from 'drizzle-orm';
import { usage_tracking } from '../../db/tenant';
import { USAGE_RESOURCE_TYPES } from '../../db/enums';
import type { TenantContext } from '../../env';
import { requirePermission } from '../../auth/tenant';
import { TIER_LIMITS } from '../billing/tiers';
import { STOCKS } from './quota';
import type { UsageResource } from './meter';

/**
 * 1 shard query. Flows (api_calls, ai_tokens) are the period's own; stocks (storage, seats) are
 * what is held at the end of it, so their events of every period up to it add up. Limits are the
 * organization's tier today: past periods are shown against the current tier.
 */
export async function getUsage({ ctx, input }: { ctx: TenantContext; input: { period: string } }) {
  requirePermission(ctx, 'usage:read');
  const quantity = sql<number>`sum(${usage_tracking.quantity})`.mapWith(Number);
  const rows = await ctx.store
    .selectFields(
      usage_tracking,
      { resource_type: usage_tracking.resource_type, resource_name: usage_tracking.resource_name, quantity },
      or(
        eq(usage_tracking.billing_period, input.period),
        and(inArray(usage_tracking.resource_type, [...STOCKS]), lte(usage_tracking.billing_period, input.period)),
      ),
    )
    .groupBy(usage_tracking.resource_type, usage_tracking.resource_name)
    .orderBy(usage_tracking.resource_type, usage_tracking.resource_name);
  const tier = ctx.organization.tier;
  const used = (resource: UsageResource) => rows.filter((r) => r.resource_type === resource).reduce((sum, r) => sum + r.quantity, 0);
  const limits = Object.fromEntries(
    USAGE_RESOURCE_TYPES.map((resource) => {
      const limit = TIER_LIMITS[tier][resource];
      const total = used(resource);
      return [resource, { used: total, limit, remaining: limit === null ? null : Math.max(0, limit - total) }];
    }),
  ) as Record<UsageResource, { used: number; limit: number | null; remaining: number | null }>;
  return { period: input.period, tier, totals: rows.filter((r) => r.quantity !== 0), limits };
}
