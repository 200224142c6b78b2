// What each tier allows: the one table quotas, `GET /usage` and docs/api/billing.md are read from.
import {
  SUBSCRIPTION_STATUSES,
  TIER_STATUSES,
  TIERS,
  type OrgSubscriptionStatus,
  type SubscriptionStatus,
  type Tier,
} from '../../db/enums';
import type { UsageResource } from '../../lib/usage-meter';

/** Monthly limits per resource; `null` = unlimited. `storage` is bytes held, `seats` members. */
export const TIER_LIMITS: Record<Tier, Record<UsageResource, number | null>> = {
  free: { seats: 5, ai_tokens: 50_000, storage: 100 * 1024 ** 2, api_calls: 10_000 },
  basic: { seats: 10, ai_tokens: 1_000_000, storage: 5 * 1024 ** 3, api_calls: 250_000 },
  pro: { seats: 50, ai_tokens: 10_000_000, storage: 50 * 1024 ** 3, api_calls: 2_500_000 },
  enterprise: { seats: null, ai_tokens: null, storage: 1024 ** 4, api_calls: null },
};

/** Tiers in ascending order (TIERS' order): a feature with `required_tier` t is available to t and above. */
const rank = (tier: Tier) => TIERS.indexOf(tier);

export const tierAllows = (tier: Tier, required: Tier): boolean => rank(tier) >= rank(required);

/**
 * Statuses in which the subscription still exists in Stripe and bills, or will again (unpaid: its
 * invoices stay open until paid; paused: it can be resumed): a second one would bill twice, so
 * checkout refuses and a foreign subscription's events do not overwrite it.
 */
export const LIVE_STATUSES: readonly SubscriptionStatus[] = [...TIER_STATUSES, 'unpaid', 'paused'];

/** A Stripe subscription that is live (the free tier's row has no Stripe subscription). */
export const isLive = (
  stripeSubscriptionId: string | null | undefined,
  status: SubscriptionStatus | null | undefined,
): boolean => !!stripeSubscriptionId && !!status && LIVE_STATUSES.includes(status);

/**
 * organizations.subscription_status in SCHEMA.md's terms, derived from the subscription's status:
 * `trial` while Stripe's trial runs, `active` while the tier applies otherwise (active, past_due),
 * `inactive` for every other status (cancelled, unpaid, incomplete, incomplete_expired, paused)
 * and for an organization without a subscription row. The free plan's row is `active`.
 */
export const orgSubscriptionStatus = (status: SubscriptionStatus | null | undefined): OrgSubscriptionStatus =>
  status === 'trialing' ? 'trial' : status && TIER_STATUSES.includes(status) ? 'active' : 'inactive';

/** orgSubscriptionStatus as SQL over a status expression, for the batch that changes the subscription. */
export const orgSubscriptionStatusSql = (status: string) =>
  `CASE ${status} ${SUBSCRIPTION_STATUSES.map((s) => `WHEN '${s}' THEN '${orgSubscriptionStatus(s)}'`).join(' ')} ELSE 'inactive' END`;

/** A Stripe subscription status as stored: `canceled` is SCHEMA.md's `cancelled`; undefined for one newer than this code. */
export function fromStripeStatus(status: string): SubscriptionStatus | undefined {
  const stored = status === 'canceled' ? 'cancelled' : status;
  return (SUBSCRIPTION_STATUSES as readonly string[]).includes(stored) ? (stored as SubscriptionStatus) : undefined;
}
