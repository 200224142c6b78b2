// Quota checks where they bite: one shard query summing this billing period's usage of a resource.
import { and, eq, sql } from 'drizzle-orm';
import { usage_tracking } from '../../db/tenant';
import type { TenantContext } from '../../env';
import { ApiError } from '../../lib/problem';
import { TIER_LIMITS } from '../billing/tiers';
import type { UsageResource } from './meter';

/** `YYYY-MM` of an instant, in UTC: the billing period usage is counted in. */
export const billingPeriod = (at: Date = new Date()): string => at.toISOString().slice(0, 7);

/** Held, not consumed: their events add and subtract, and the total spans every period. */
export const STOCKS: ReadonlySet<UsageResource> = new Set(['storage', 'seats']);

/** What the organization uses of `resource`: this period's total, or what it holds for a stock. */
export async function usedThisPeriod(ctx: TenantContext, resource: UsageResource): Promise<number> {
  const row = await ctx.store
    .selectFields(
      usage_tracking,
      { used: sql<number>`coalesce(sum(${usage_tracking.quantity}), 0)` },
      and(
        eq(usage_tracking.resource_type, resource),
        STOCKS.has(resource) ? undefined : eq(usage_tracking.billing_period, billingPeriod()),
      ),
    )
    .get();
  return row?.used ?? 0;
}

/** 402 `quota_exceeded` when `additional` more of `resource` would pass the tier's limit. */
export async function assertQuota(ctx: TenantContext, resource: UsageResource, additional = 1): Promise<void> {
  const limit = TIER_LIMITS[ctx.organization.tier][resource];
  if (limit === null) return;
  // It decides a write: the shard's latest totals, not a replica's.
  ctx.store.latest();
  const used = await usedThisPeriod(ctx, resource);
  if (used + additional > limit) {
    throw new ApiError(
      'quota_exceeded',
      `The ${ctx.organization.tier} tier allows ${limit} ${resource} a month and ${used} are used. Upgrade the subscription or wait for the next period.`,
    );
  }
}
