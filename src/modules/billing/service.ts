// Billing: the organization's subscription, Stripe Checkout and the customer portal (owners), and
// the state Stripe's webhooks bring (webhooks/stripe.ts applies it through `subscriptionEffect`).
import { and, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type Stripe from 'stripe';
import { organization_members, organizations, subscriptions, users } from '../../db/catalog';
import {
  effectiveTier,
  SUBSCRIPTION_STATUSES,
  TIER_STATUSES,
  TIERS,
  type SubscriptionStatus,
  type Tier,
} from '../../db/enums';
import { latest, type CatalogDb } from '../../db/shards';
import type { Bindings, TenantContext } from '../../env';
import { requirePermission } from '../../auth/tenant';
import { ApiError, conflict } from '../../lib/problem';
import { uuidv7 } from '../../lib/ids';
import { fromStripeStatus, isLive, LIVE_STATUSES, orgSubscriptionStatusSql } from './tiers';
import { requireStripe, stripeId } from './stripe';
import type { CheckoutCreate } from './schemas';

export type PaidTier = Exclude<Tier, 'free'>;
export const PAID_TIERS = TIERS.filter((t): t is PaidTier => t !== 'free');

const FREE = {
  id: null as string | null,
  stripe_subscription_id: null as string | null,
  stripe_customer_id: null as string | null,
  tier: 'free' as Tier,
  status: 'active' as SubscriptionStatus,
  current_period_start: null as string | null,
  current_period_end: null as string | null,
  cancel_at_period_end: false,
  canceled_at: null as string | null,
  trial_end: null as string | null,
  metadata: {} as Record<string, string>,
  created_at: null as string | null,
  updated_at: null as string | null,
};

/** GET /subscription: 1 catalog query; free and active when the organization never subscribed. */
export async function getSubscription({ ctx }: { ctx: TenantContext }) {
  requirePermission(ctx, 'billing:read');
  const row = await ctx.catalog
    .select({
      id: subscriptions.id,
      stripe_subscription_id: subscriptions.stripe_subscription_id,
      stripe_customer_id: subscriptions.stripe_customer_id,
      tier: subscriptions.tier,
      status: subscriptions.status,
      current_period_start: subscriptions.current_period_start,
      current_period_end: subscriptions.current_period_end,
      cancel_at_period_end: subscriptions.cancel_at_period_end,
      canceled_at: subscriptions.canceled_at,
      trial_end: subscriptions.trial_end,
      metadata: subscriptions.metadata,
      created_at: subscriptions.created_at,
      updated_at: subscriptions.updated_at,
    })
    .from(subscriptions)
    .where(eq(subscriptions.organization_id, ctx.organization.id))
    .get();
  const subscription = row ?? FREE;
  return {
    ...subscription,
    organization_id: ctx.organization.id,
    effective_tier: effectiveTier(subscription.tier, subscription.status),
  };
}

/**
 * The organization's Stripe customer: created once, stored in organizations.stripe_customer_id
 * and reused. Stripe's idempotency key (per organization) makes two concurrent first checkouts
 * get the same customer back, and the store only fills an empty column. `email` (the
 * organization's billing_email) is the customer's email: given to a new customer, and set on an
 * existing one, since it may have changed since.
 */
async function stripeCustomer(
  ctx: TenantContext,
  stripe: Stripe,
  stored: string | null,
  email: string | null = null,
): Promise<string> {
  if (stored) {
    if (email) await stripe.customers.update(stored, { email });
    return stored;
  }
  const customer = await stripe.customers.create(
    { name: ctx.organization.name, ...(email ? { email } : {}), metadata: { organization_id: ctx.organization.id } },
    { idempotencyKey: `strive-customer-${ctx.organization.id}` },
  );
  await ctx.catalog
    .update(organizations)
    .set({ stripe_customer_id: customer.id })
    .where(sql`${organizations.id} = ${ctx.organization.id} AND ${organizations.stripe_customer_id} IS NULL`)
    .run();
  return customer.id;
}

/** What decides a checkout or a deletion: as the primary has it, a webhook's last write included. */
async function billingState(ctx: TenantContext) {
  const row = await latest(ctx.catalog)
    .select({
      customer: organizations.stripe_customer_id,
      checkout: organizations.stripe_checkout_session_id,
      email: organizations.billing_email,
      subscription: subscriptions.stripe_subscription_id,
      status: subscriptions.status,
    })
    .from(organizations)
    .leftJoin(subscriptions, eq(subscriptions.organization_id, organizations.id))
    .where(eq(organizations.id, ctx.organization.id))
    .get();
  return row ?? { customer: null, checkout: null, email: null, subscription: null, status: null };
}

/**
 * Two Checkout Sessions paid in two tabs would make two subscriptions, so a new checkout first
 * closes the organization's previous session: expired while still open; if it has completed and
 * its subscription has not reached us yet (the webhook is on its way), the new checkout is a 409.
 */
async function closePreviousCheckout(stripe: Stripe, sessionId: string | null, knownSubscription: string | null) {
  if (!sessionId) return;
  let previous: Stripe.Checkout.Session;
  try {
    previous = await stripe.checkout.sessions.retrieve(sessionId);
  } catch (error) {
    // One Stripe no longer has (another account or mode since): nothing left to close.
    if ((error as { statusCode?: number }).statusCode === 404) return;
    throw error;
  }
  if (previous.status === 'open') {
    await stripe.checkout.sessions.expire(sessionId);
  } else if (
    previous.status === 'complete' &&
    previous.subscription &&
    stripeId(previous.subscription) !== knownSubscription
  ) {
    throw conflict(
      'A checkout of this organization has just been paid: its subscription is being set up (GET …/subscription).',
    );
  }
}

/** POST /billing/checkout: a Stripe Checkout Session for `tier`'s price (found by lookup_key). */
export async function createCheckout({
  ctx,
  env,
  input,
}: {
  ctx: TenantContext;
  env: Bindings;
  input: CheckoutCreate;
}) {
  requirePermission(ctx, 'billing:manage');
  const stripe = await requireStripe(env);
  const state = await billingState(ctx);
  // A second subscription would bill twice: changing plans is the portal's job.
  if (isLive(state.subscription, state.status)) {
    throw conflict(
      `The organization already has a subscription (${state.status}): change it, pay it or cancel it through POST …/billing/portal.`,
    );
  }
  await closePreviousCheckout(stripe, state.checkout, state.subscription);
  const customer = await stripeCustomer(ctx, stripe, state.customer, state.email);
  const prices = await stripe.prices.list({ lookup_keys: [input.tier], active: true, limit: 1 });
  const price = prices.data[0];
  if (!price) throw new ApiError('not_configured', `No active Stripe price has the lookup_key '${input.tier}'.`);
  const metadata = { organization_id: ctx.organization.id };
  const session = await stripe.checkout.sessions.create({
    mode: 'subscription',
    customer,
    client_reference_id: ctx.organization.id,
    line_items: [{ price: price.id, quantity: 1 }],
    metadata,
    subscription_data: { metadata },
    success_url: env.BILLING_SUCCESS_URL,
    cancel_url: env.BILLING_CANCEL_URL,
  });
  await ctx.catalog
    .update(organizations)
    .set({ stripe_checkout_session_id: session.id })
    .where(eq(organizations.id, ctx.organization.id))
    .run();
  return { url: session.url! };
}

/** POST /billing/portal: a Stripe customer portal session to change plan, card or cancel. */
export async function createPortal({ ctx, env }: { ctx: TenantContext; env: Bindings }) {
  requirePermission(ctx, 'billing:manage');
  const stripe = await requireStripe(env);
  const customer = await stripeCustomer(ctx, stripe, (await billingState(ctx)).customer);
  const session = await stripe.billingPortal.sessions.create({ customer, return_url: env.BILLING_PORTAL_RETURN_URL });
  return { url: session.url };
}

// ── State from Stripe ──────────────────────────────────────────────────────────────────────────

export type SubscriptionPatch = Partial<Omit<typeof subscriptions.$inferInsert, 'id' | 'organization_id'>>;

const isoSeconds = (seconds: number | null | undefined) => (seconds ? new Date(seconds * 1000).toISOString() : null);

/** A Stripe subscription as Strive's subscription row; its tier is its price's lookup_key. */
export function subscriptionPatch(subscription: Stripe.Subscription, deleted: boolean): SubscriptionPatch | undefined {
  const item = subscription.items.data[0];
  const lookupKey = item?.price.lookup_key;
  // A price Strive does not sell, or a status newer than this code: nothing to apply. A deletion
  // applies whatever its price (one switched to in Stripe's dashboard must still end the tier).
  if (!deleted && !PAID_TIERS.includes(lookupKey as PaidTier)) return undefined;
  const status = deleted ? 'cancelled' : fromStripeStatus(subscription.status);
  if (!status) return undefined;
  return {
    stripe_subscription_id: subscription.id,
    stripe_customer_id: typeof subscription.customer === 'string' ? subscription.customer : subscription.customer.id,
    stripe_price_id: item?.price.id ?? null,
    tier: deleted ? 'free' : (lookupKey as PaidTier),
    status,
    // Since API 2025-03-31 the billing period is the item's, not the subscription's.
    current_period_start: isoSeconds(item?.current_period_start),
    current_period_end: isoSeconds(item?.current_period_end),
    cancel_at_period_end: subscription.cancel_at_period_end,
    canceled_at: isoSeconds(subscription.canceled_at),
    trial_end: isoSeconds(subscription.trial_end),
    metadata: subscription.metadata ?? {},
  };
}

const TIER_RANK = sql.raw(`CASE s.tier ${TIERS.map((t, n) => `WHEN '${t}' THEN ${n}`).join(' ')} END`);
const quoted = (statuses: readonly SubscriptionStatus[]) => sql.raw(statuses.map((s) => `'${s}'`).join(', '));
const KEEPING = quoted(TIER_STATUSES);

/**
 * Which of two subscription events of the same `created` second wins, whatever order they arrive
 * in (Stripe's `created` has a one-second resolution and gives no order within it): the one whose
 * status is further along the lifecycle. Terminal states win over everything, so a
 * `customer.subscription.deleted` is never undone by an `updated` of its own second.
 */
const STATUS_RANK: Record<SubscriptionStatus, number> = {
  incomplete: 0,
  trialing: 1,
  active: 2,
  past_due: 3,
  unpaid: 4,
  paused: 4,
  cancelled: 5,
  incomplete_expired: 5,
};
const statusRankSql = sql`CASE ${subscriptions.status}
  ${sql.raw(SUBSCRIPTION_STATUSES.map((s) => `WHEN '${s}' THEN ${STATUS_RANK[s]}`).join(' '))} END`;

/**
 * When an event may change the subscription row; checked on the row as read (to answer and audit
 * without writing) and again in the upsert's WHERE (`appliesSql`), so a concurrent event cannot
 * slip between the two.
 * - `subscription` (customer.subscription.*) carries the whole state: it applies unless a newer
 *   event was applied (the row's `stripe_event_created`; the same second: `STATUS_RANK`), and not
 *   over another subscription of the organization that is still live, so a late event of an old
 *   subscription cannot overwrite the current one. It becomes the newest.
 * - `invoice` (invoice.*) moves the status of the row's own subscription from `from` only, gives
 *   way to a newer subscription event without blocking an older one that arrives late, and to a
 *   newer invoice event (`stripe_invoice_created`): a late failure does not undo a newer payment.
 * - `checkout` links the ids, unless another subscription is live.
 */
export type EventRule =
  | { kind: 'subscription'; subscriptionId: string; created: number; status: SubscriptionStatus }
  | { kind: 'invoice'; subscriptionId: string; created: number; from: readonly SubscriptionStatus[] }
  | { kind: 'checkout'; subscriptionId: string };

type RowState = Pick<
  typeof subscriptions.$inferSelect,
  'stripe_subscription_id' | 'status' | 'stripe_event_created' | 'stripe_invoice_created'
>;

/** True when `row` (the organization's subscription row, if any) takes an event under `rule`. */
export function applies(rule: EventRule, row: RowState | null | undefined): boolean {
  if (!row) return rule.kind !== 'invoice';
  const otherLive =
    row.stripe_subscription_id !== rule.subscriptionId && isLive(row.stripe_subscription_id, row.status);
  const applied = row.stripe_event_created;
  switch (rule.kind) {
    case 'subscription':
      return (
        !otherLive &&
        (applied === null ||
          applied < rule.created ||
          (applied === rule.created && STATUS_RANK[row.status] <= STATUS_RANK[rule.status]))
      );
    case 'invoice':
      return (
        row.stripe_subscription_id === rule.subscriptionId &&
        (applied === null || applied <= rule.created) &&
        (row.stripe_invoice_created === null || row.stripe_invoice_created <= rule.created) &&
        rule.from.includes(row.status)
      );
    case 'checkout':
      return !otherLive;
  }
}

/** `applies` as the upsert's WHERE on the existing row. */
function appliesSql(rule: EventRule): SQL {
  const {
    stripe_subscription_id: id,
    status,
    stripe_event_created: applied,
    stripe_invoice_created: invoiced,
  } = subscriptions;
  const otherLive = sql`(${id} IS NOT NULL AND ${id} <> ${rule.subscriptionId} AND ${status} IN (${quoted(LIVE_STATUSES)}))`;
  switch (rule.kind) {
    case 'subscription':
      return sql`NOT ${otherLive} AND (${applied} IS NULL OR ${applied} < ${rule.created}
        OR (${applied} = ${rule.created} AND ${statusRankSql} <= ${STATUS_RANK[rule.status]}))`;
    case 'invoice':
      return sql`${id} = ${rule.subscriptionId} AND (${applied} IS NULL OR ${applied} <= ${rule.created})
        AND (${invoiced} IS NULL OR ${invoiced} <= ${rule.created}) AND ${status} IN (${quoted(rule.from)})`;
    case 'checkout':
      return sql`NOT ${otherLive}`;
  }
}

/**
 * The statements that apply a patch: the subscription row (only where `rule` allows, so a late,
 * older or foreign event cannot roll state back), then organizations.subscription_status (orgSubscriptionStatus) and the
 * members' users.subscription_tier, both derived from the row as it now stands. A user's tier is
 * the highest tier in effect among all their organizations (a subscription whose status does not
 * keep its tier counts as free).
 */
export function subscriptionEffect(
  catalog: CatalogDb,
  organizationId: string,
  patch: SubscriptionPatch,
  rule: EventRule,
) {
  const now = new Date().toISOString();
  const set = {
    ...patch,
    ...(rule.kind === 'subscription'
      ? { stripe_event_created: rule.created }
      : rule.kind === 'invoice'
        ? { stripe_invoice_created: rule.created }
        : {}),
    updated_at: now,
  };
  return [
    catalog
      .insert(subscriptions)
      .values({ id: uuidv7(), organization_id: organizationId, ...set })
      .onConflictDoUpdate({ target: subscriptions.organization_id, set, setWhere: appliesSql(rule) })
      .returning({ id: subscriptions.id }),
    catalog
      .update(organizations)
      .set({
        subscription_status: sql`(SELECT ${sql.raw(orgSubscriptionStatusSql('status'))} FROM ${subscriptions} WHERE
          ${subscriptions.organization_id} = ${organizationId})`,
        updated_at: now,
      })
      .where(eq(organizations.id, organizationId)),
    usersTierUpdate(
      catalog,
      inArray(
        users.id,
        catalog
          .select({ id: organization_members.user_id })
          .from(organization_members)
          .where(eq(organization_members.organization_id, organizationId)),
      ),
    ),
  ] as const;
}

/**
 * An event its rule accepts that changes nothing still becomes the newest applied
 * (`stripe_event_created`), so an older event arriving after it cannot roll the state back.
 */
export function eventTimeEffect(
  catalog: CatalogDb,
  organizationId: string,
  rule: Extract<EventRule, { kind: 'subscription' }>,
) {
  return catalog
    .update(subscriptions)
    .set({ stripe_event_created: rule.created })
    .where(and(eq(subscriptions.organization_id, organizationId), appliesSql(rule)));
}

/**
 * users.subscription_tier of the users `which` selects, recomputed: the highest tier in effect
 * among all their organizations. Run by billing events and by membership changes.
 */
export function usersTierUpdate(catalog: CatalogDb, which: SQL) {
  return catalog
    .update(users)
    .set({
      subscription_tier: sql`coalesce((SELECT s.tier FROM ${organization_members} m JOIN ${subscriptions} s ON
        s.organization_id = m.organization_id
        WHERE m.user_id = ${users.id} AND s.status IN (${KEEPING}) ORDER BY ${TIER_RANK} DESC LIMIT 1), 'free')`,
      updated_at: new Date().toISOString(),
    })
    .where(which);
}
