// GET /usage: a period's totals by resource type and name, with the tier's limits and what is left,
// and a page of the period's usage_tracking rows themselves (who, and what the consumer recorded).
import { and, eq, inArray, lte, or, sql } from 'drizzle-orm';
import { usage_tracking } from '../../db/tenant';
import { USAGE_RESOURCE_TYPES } from '../../db/enums';
import type { TenantContext } from '../../env';
import { requirePermission } from '../../auth/tenant';
import { newestFirstQuery, toPage } from '../../lib/pagination';
import { TIER_LIMITS } from '../billing/tiers';
import { STOCKS } from './quota';
import type { UsageResource } from '../../lib/usage-meter';
import type { UsageQuery } from './schemas';

/**
 * 1 shard round trip (two reads in one batch). Flows (api_calls, ai_tokens) are the period's own;
 * stocks (storage, seats) are what is held at the end of it, so their rows of every period up to
 * it add up. The rows listed are the period's own. Limits are the organization's tier today: past
 * periods are shown against the current tier.
 */
export async function getUsage({ ctx, input }: { ctx: TenantContext; input: UsageQuery & { period: string } }) {
  requirePermission(ctx, 'usage:read');
  const usage_amount = sql<number>`sum(${usage_tracking.usage_amount})`.mapWith(Number);
  const [rows, records] = await ctx.store.batch([
    ctx.store
      .selectFields(
        usage_tracking,
        { resource_type: usage_tracking.resource_type, resource_name: usage_tracking.resource_name, usage_amount },
        or(
          eq(usage_tracking.billing_period, input.period),
          and(inArray(usage_tracking.resource_type, [...STOCKS]), lte(usage_tracking.billing_period, input.period)),
        ),
      )
      .groupBy(usage_tracking.resource_type, usage_tracking.resource_name)
      .orderBy(usage_tracking.resource_type, usage_tracking.resource_name),
    newestFirstQuery(usage_tracking.id, input, (after) =>
      ctx.store.select(usage_tracking, and(eq(usage_tracking.billing_period, input.period), after)),
    ),
  ]);
  const tier = ctx.organization.tier;
  const used = (resource: UsageResource) =>
    rows.filter((r) => r.resource_type === resource).reduce((sum, r) => sum + r.usage_amount, 0);
  const limits = Object.fromEntries(
    USAGE_RESOURCE_TYPES.map((resource) => {
      const limit = TIER_LIMITS[tier][resource];
      const total = used(resource);
      return [resource, { used: total, limit, remaining: limit === null ? null : Math.max(0, limit - total) }];
    }),
  ) as Record<UsageResource, { used: number; limit: number | null; remaining: number | null }>;
  const page = toPage(records, input.limit);
  return {
    billing_period: input.period,
    tier,
    totals: rows.filter((r) => r.usage_amount !== 0),
    limits,
    records: page.data,
    next_cursor: page.next_cursor,
  };
}
