// Quota checks where they bite: one shard query summing this billing period's usage of a resource,
// and storage reserved atomically before an upload.
import { and, eq, lte, sql } from 'drizzle-orm';
import { assets, storage_reservations, usage_tracking } from '../../db/tenant';
import type { TenantContext } from '../../env';
import { ApiError } from '../../lib/problem';
import { TIER_LIMITS } from '../billing/tiers';
import type { UsageResource } from '../../lib/usage-meter';

/** The billing period usage is counted in: the first day (UTC) of an instant's month, `YYYY-MM-01`. */
export const billingPeriod = (at: Date = new Date()): string => `${at.toISOString().slice(0, 7)}-01`;

/** Held, not consumed: their events add and subtract, and the total spans every period. */
export const STOCKS: ReadonlySet<UsageResource> = new Set(['storage', 'seats']);

/** What the organization uses of `resource`: this period's total, or what it holds for a stock. */
export async function usedThisPeriod(ctx: TenantContext, resource: UsageResource): Promise<number> {
  const row = await ctx.store
    .selectFields(
      usage_tracking,
      { used: sql<number>`coalesce(sum(${usage_tracking.usage_amount}), 0)` },
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
      `The ${ctx.organization.tier} tier allows ${limit} ${resource} a month and ${used} are used. Upgrade the ` +
        `subscription or wait for the next period.`,
    );
  }
}

/** Longer than any upload takes; a reservation its upload never released frees its bytes after it. */
const RESERVATION_MS = 60 * 60 * 1000;

/**
 * Reserves `bytes` of storage for the upload of asset `id`, or answers 402 when they do not fit.
 * What an organization holds is known without the queue: its assets' sizes plus the uploads in
 * flight. (`usage_tracking`'s storage is counted seconds later: concurrent uploads checked
 * against it all passed.) The sum and the insert are one statement, like seats, so two uploads
 * cannot both take the last bytes; the batch first drops the organization's lapsed reservations.
 * The upload releases the reservation in the batch that writes its row (`releaseStorage`), so
 * the bytes are counted once: as the reservation until then, as the asset after.
 */
export async function reserveStorage(ctx: TenantContext, id: string, bytes: number): Promise<void> {
  const limit = TIER_LIMITS[ctx.organization.tier].storage;
  const now = Date.now();
  const assetBytes = ctx.store.selectFields(assets, { n: sql`coalesce(sum(${assets.size}), 0)` });
  const reservedBytes = ctx.store.selectFields(storage_reservations, {
    n: sql`coalesce(sum(${storage_reservations.bytes}), 0)`,
  });
  const fits = limit === null ? sql`1` : sql`(${assetBytes}) + (${reservedBytes}) + ${bytes} <= ${limit}`;
  const [, reserved] = await ctx.store.batch([
    ctx.store.delete(storage_reservations, lte(storage_reservations.expires_at, new Date(now).toISOString())),
    ctx.store
      .insertWhere(storage_reservations, { id, bytes, expires_at: new Date(now + RESERVATION_MS).toISOString() }, fits)
      .returning({ id: storage_reservations.id }),
  ]);
  if (reserved.length === 0) {
    throw new ApiError(
      'quota_exceeded',
      `The ${ctx.organization.tier} tier allows ${limit} bytes of storage: this file (${bytes} bytes) does not ` +
        `fit beside the organization's files and the uploads in progress. Delete files or upgrade the subscription.`,
    );
  }
}

/** The statement that gives a reservation's bytes back (the asset's row now counts them, or the upload failed). */
export const releaseStorage = (ctx: TenantContext, id: string) =>
  ctx.store.delete(storage_reservations, eq(storage_reservations.id, id));
