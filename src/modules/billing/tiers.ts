// What each tier allows: the one table quotas, `GET /usage` and the README are read from.
import type { Tier } from '../../db/enums';
import type { UsageResource } from '../usage/meter';

/** Monthly limits per resource; `null` = unlimited. `storage` is bytes held, `seats` members. */
export const TIER_LIMITS: Record<Tier, Record<UsageResource, number | null>> = {
  free: { seats: 3, ai_tokens: 50_000, storage: 100 * 1024 ** 2, api_calls: 10_000 },
  basic: { seats: 10, ai_tokens: 1_000_000, storage: 5 * 1024 ** 3, api_calls: 250_000 },
  pro: { seats: 50, ai_tokens: 10_000_000, storage: 50 * 1024 ** 3, api_calls: 2_500_000 },
  enterprise: { seats: null, ai_tokens: null, storage: 1024 ** 4, api_calls: null },
};

/** Tiers in ascending order: a feature with `required_tier` t is available to t and above. */
const RANK: Record<Tier, number> = { free: 0, basic: 1, pro: 2, enterprise: 3 };

export const tierAllows = (tier: Tier, required: Tier): boolean => RANK[tier] >= RANK[required];
