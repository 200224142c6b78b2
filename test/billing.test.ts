// Billing: GET /subscription, checkout and portal through the real stripe SDK against fetchMock'ed
// Stripe answers of the real shape, and POST /v1/webhooks/stripe with deliveries signed exactly
// as Stripe signs them (the SDK's own test header, Web Crypto).
import { createExecutionContext, env, fetchMock, waitOnExecutionContext } from 'cloudflare:test';
import Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/app';
import { SUBSCRIPTION_STATUSES, type SubscriptionStatus } from '../src/db/enums';
import { D1Sessions } from '../src/db/sessions';
import { catalogDb } from '../src/db/shards';
import { applies, subscriptionEffect, type EventRule } from '../src/modules/billing/service';
import {
  api,
  expectProblem,
  joinAs,
  newOrg,
  readResponse,
  type ApiResponse,
  type TestOrg,
  withWriter,
} from './helpers';

const STRIPE_KEY = 'sk_test_strive_billing';
const stripeEnv = { ...env, STRIPE_SECRET_KEY: STRIPE_KEY };

async function appRequest(method: string, path: string, token: string, body?: unknown): Promise<ApiResponse> {
  const ctx = createExecutionContext();
  const response = await createApp().request(
    `https://strive.test${path}`,
    {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    },
    withWriter(stripeEnv, ctx),
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return readResponse(response, { method, path });
}

const rand = () => crypto.randomUUID().replace(/-/g, '').slice(0, 14);
const now = () => Math.floor(Date.now() / 1000);

// ── Stripe objects as the API (2026-10-28) sends them, trimmed to what matters plus their frame ──

function subscriptionObject(org: string, tier: string, over: Partial<Record<string, unknown>> = {}) {
  const id = `sub_${rand()}`;
  const start = now() - 3600;
  return {
    id,
    object: 'subscription',
    billing_cycle_anchor: start,
    cancel_at: null,
    cancel_at_period_end: false,
    canceled_at: null,
    collection_method: 'charge_automatically',
    created: start,
    currency: 'usd',
    customer: `cus_${rand()}`,
    items: {
      object: 'list',
      data: [
        {
          id: `si_${rand()}`,
          object: 'subscription_item',
          created: start,
          current_period_start: start,
          current_period_end: start + 30 * 86_400,
          metadata: {},
          price: {
            id: `price_${tier}`,
            object: 'price',
            active: true,
            currency: 'usd',
            lookup_key: tier,
            product: `prod_${tier}`,
            recurring: { interval: 'month', interval_count: 1 },
            type: 'recurring',
            unit_amount: 4900,
          },
          quantity: 1,
          subscription: id,
        },
      ],
      has_more: false,
      url: `/v1/subscription_items?subscription=${id}`,
    },
    livemode: false,
    metadata: { organization_id: org },
    start_date: start,
    status: 'active',
    trial_end: null,
    trial_start: null,
    ...over,
  };
}

function stripeEvent(type: string, object: object, created = now()) {
  return {
    id: `evt_${rand()}`,
    object: 'event',
    api_version: '2026-10-28.endive',
    created,
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  };
}

const invoiceEvent = (type: string, subscription: { id: string; customer: string }, org: string, created = now()) =>
  stripeEvent(
    type,
    {
      id: `in_${rand()}`,
      object: 'invoice',
      status: type === 'invoice.paid' ? 'paid' : 'open',
      customer: subscription.customer,
      parent: {
        type: 'subscription_details',
        quote_details: null,
        subscription_details: { subscription: subscription.id, metadata: { organization_id: org } },
      },
    },
    created,
  );

const signer = new Stripe('sk_unused', { httpClient: Stripe.createFetchHttpClient() });

async function deliver(
  event: object,
  { secret = env.STRIPE_WEBHOOK_SECRET, tamper = false } = {},
): Promise<ApiResponse> {
  const payload = JSON.stringify(event);
  const signature = await signer.webhooks.generateTestHeaderStringAsync({
    payload,
    secret,
    cryptoProvider: Stripe.createSubtleCryptoProvider(),
  });
  return api('POST', '/v1/webhooks/stripe', {
    body: tamper ? payload.replace('"active"', '"trialing"') : payload,
    headers: { 'stripe-signature': signature },
  });
}

/** Stripe's API through fetchMock (nothing else may go out), and its JSON reply options. */
function stripeApi() {
  fetchMock.activate();
  fetchMock.disableNetConnect();
  return fetchMock.get('https://api.stripe.com');
}
const jsonReply = { headers: { 'content-type': 'application/json' } };

/** No active price for any lookup_key: a checkout that gets this far answers 503. */
const noPrices = (stripe: ReturnType<typeof stripeApi>) =>
  stripe
    .intercept({ path: (p) => p.startsWith('/v1/prices?'), method: 'GET' })
    .reply(200, { object: 'list', url: '/v1/prices', has_more: false, data: [] }, jsonReply);

/** An organization that already has a Stripe customer (and, if given, a previous Checkout Session). */
async function customerOrg(checkoutSession: string | null = null) {
  const org = await newOrg();
  await env.CATALOG.prepare(
    'UPDATE organizations SET stripe_customer_id = ?, stripe_checkout_session_id = ? WHERE id = ?',
  )
    .bind(`cus_${rand()}`, checkoutSession, org.id)
    .run();
  return org;
}

const subscriptionOf = async (org: TestOrg) =>
  (await api('GET', `/v1/orgs/${org.slug}/subscription`, { token: org.owner.token })).body;
const tierOfUser = async (token: string) => (await api('GET', '/v1/me', { token })).body.subscription_tier;
const statusOfOrg = async (org: TestOrg) =>
  (await api('GET', `/v1/orgs/${org.slug}`, { token: org.owner.token })).body.subscription_status;
/**
 * organizations.subscription_status (SCHEMA.md: active, inactive, trial) for a subscription status:
 * trial while trialing, active while the tier applies, inactive otherwise.
 */
const orgStatus = (status: SubscriptionStatus) =>
  status === 'trialing' ? 'trial' : ['active', 'past_due'].includes(status) ? 'active' : 'inactive';
/** Every status Stripe sends, as Stripe spells it; Strive stores `canceled` as `cancelled`. */
const STRIPE_STATUSES = [
  'active',
  'trialing',
  'past_due',
  'canceled',
  'unpaid',
  'incomplete',
  'incomplete_expired',
  'paused',
] as const;
const stored = (status: (typeof STRIPE_STATUSES)[number]): SubscriptionStatus =>
  status === 'canceled' ? 'cancelled' : status;

describe('GET /subscription', () => {
  it('is free and active for a new organization, in 1 round trip warm', async () => {
    const org = await newOrg();
    await api('GET', `/v1/orgs/${org.slug}/subscription`, { token: org.owner.token });
    const res = await api('GET', `/v1/orgs/${org.slug}/subscription`, { token: org.owner.token });
    expect(res.status).toBe(200);
    expect(res.roundTrips).toBe(1);
    expect(res.body).toEqual({
      id: expect.any(String),
      organization_id: org.id,
      stripe_subscription_id: null,
      stripe_customer_id: null,
      tier: 'free',
      status: 'active',
      effective_tier: 'free',
      current_period_start: null,
      current_period_end: null,
      cancel_at_period_end: false,
      canceled_at: null,
      trial_end: null,
      metadata: {},
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
  });

  it('is for admins (billing:read) and not for members', async () => {
    const org = await newOrg();
    const admin = await joinAs(org, 'admin');
    const member = await joinAs(org, 'member');
    expect((await api('GET', `/v1/orgs/${org.slug}/subscription`, { token: admin.token })).status).toBe(200);
    expectProblem(await api('GET', `/v1/orgs/${org.slug}/subscription`, { token: member.token }), 403, 'forbidden');
  });
});

describe('POST /v1/webhooks/stripe', () => {
  it("applies a new subscription: tier, status, period, the org status, the members' tier, an audit row", async () => {
    const org = await newOrg();
    const member = await joinAs(org, 'member');
    const subscription = subscriptionObject(org.id, 'pro');
    const res = await deliver(stripeEvent('customer.subscription.created', subscription));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ received: true, applied: true });

    const current = await subscriptionOf(org);
    expect(current).toMatchObject({
      tier: 'pro',
      status: 'active',
      effective_tier: 'pro',
      cancel_at_period_end: false,
      organization_id: org.id,
      stripe_subscription_id: subscription.id,
      stripe_customer_id: subscription.customer,
      metadata: { organization_id: org.id },
    });
    expect(current.current_period_end).toBe(
      new Date(subscription.items.data[0]!.current_period_end * 1000).toISOString(),
    );
    expect(await statusOfOrg(org)).toBe('active');
    expect(await tierOfUser(org.owner.token)).toBe('pro');
    expect(await tierOfUser(member.token)).toBe('pro');
    // The new tier applies at once: pro's limits in /usage.
    const usage = await api('GET', `/v1/orgs/${org.slug}/usage`, { token: org.owner.token });
    expect(usage.body.tier).toBe('pro');
    expect(usage.body.limits.seats.limit).toBe(50);

    const activity = await api('GET', `/v1/orgs/${org.slug}/activity?resource_type=subscription`, {
      token: org.owner.token,
    });
    expect(activity.body.data).toHaveLength(1);
    expect(activity.body.data[0]).toMatchObject({
      action: 'subscription.update',
      actor_type: 'webhook',
      actor_id: 'stripe',
      resource_id: org.id,
      old_data: { tier: 'free' },
      new_data: { tier: 'pro', stripe_event: expect.stringMatching(/^evt_/) },
    });
  });

  it("keeps the Stripe subscription's metadata as its newest applied event carried it", async () => {
    const org = await newOrg();
    const subscription = subscriptionObject(org.id, 'basic', {
      metadata: { organization_id: org.id, campaign: 'spring' },
    });
    const t = now();
    await deliver(stripeEvent('customer.subscription.created', subscription, t));
    expect((await subscriptionOf(org)).metadata).toEqual({ organization_id: org.id, campaign: 'spring' });
    const updated = await deliver(
      stripeEvent(
        'customer.subscription.updated',
        { ...subscription, metadata: { organization_id: org.id, campaign: 'autumn', seats: '12' } },
        t + 1,
      ),
    );
    expect(updated.body.applied).toBe(true);
    expect((await subscriptionOf(org)).metadata).toEqual({ organization_id: org.id, campaign: 'autumn', seats: '12' });
    const row = await env.CATALOG.prepare('SELECT metadata FROM subscriptions WHERE organization_id = ?')
      .bind(org.id)
      .first<{ metadata: string }>();
    expect(JSON.parse(row!.metadata)).toEqual({ organization_id: org.id, campaign: 'autumn', seats: '12' });
  });

  it("decides on the primary: replays, the events' order and the row it changes are the catalog's latest state", async () => {
    const org = await newOrg();
    const res = await deliver(stripeEvent('customer.subscription.created', subscriptionObject(org.id, 'pro')));
    expect(res.body).toEqual({ received: true, applied: true });
    const trips = res.headers.get('x-d1-instances')!.split(', ');
    // Where the organization's writer is (a replica); in it: processed already? The organization
    // and its subscription; the audit row; the change. One far hop, to the writer.
    expect(trips.map((trip) => trip.replace(/^shard_\d+/, 'shard'))).toEqual([
      'catalog:any',
      'catalog:primary@object',
      'catalog:primary@object',
      'shard:primary@object',
      'catalog:primary@object',
    ]);
    expect(res.farHops).toBe(1);
  });

  it('answers a replay 200 without applying it again', async () => {
    const org = await newOrg();
    const event = stripeEvent('customer.subscription.created', subscriptionObject(org.id, 'basic'));
    expect((await deliver(event)).body.applied).toBe(true);
    const replay = await deliver(event);
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual({ received: true, applied: false });
    const activity = await api('GET', `/v1/orgs/${org.slug}/activity?resource_type=subscription`, {
      token: org.owner.token,
    });
    expect(activity.body.data).toHaveLength(1);
  });

  it('never lets an older event roll state back', async () => {
    const org = await newOrg();
    const subscription = subscriptionObject(org.id, 'pro');
    const t = now();
    const newer = stripeEvent('customer.subscription.updated', { ...subscription, cancel_at_period_end: true }, t + 10);
    const older = stripeEvent('customer.subscription.created', subscription, t);
    expect((await deliver(newer)).body.applied).toBe(true);
    const late = await deliver(older);
    expect(late.status).toBe(200);
    expect(late.body.applied).toBe(false);
    expect(await subscriptionOf(org)).toMatchObject({ tier: 'pro', cancel_at_period_end: true });

    // An invoice event gives way to a newer subscription event too…
    const invoice = (type: string, created: number) => invoiceEvent(type, subscription, org.id, created);
    expect((await deliver(invoice('invoice.payment_failed', t + 5))).body.applied).toBe(false);
    expect((await subscriptionOf(org)).status).toBe('active');
    // …and applies when it is the newest: a failed payment makes it past_due, a paid one active.
    expect((await deliver(invoice('invoice.payment_failed', t + 20))).body.applied).toBe(true);
    expect(await subscriptionOf(org)).toMatchObject({ status: 'past_due', effective_tier: 'pro' });
    expect(await statusOfOrg(org)).toBe('active');
    expect((await deliver(invoice('invoice.paid', t + 30))).body.applied).toBe(true);
    expect((await subscriptionOf(org)).status).toBe('active');
  });

  it('records a newer event that changes nothing as the newest, so an older one arriving later cannot undo it', async () => {
    const org = await newOrg();
    const subscription = subscriptionObject(org.id, 'pro');
    const t = now();
    await deliver(stripeEvent('customer.subscription.created', subscription, t));
    // The card fails at t+10 (unpaid), the retry succeeds at t+20 (active again); Stripe delivers t+20 first.
    const recovered = await deliver(stripeEvent('customer.subscription.updated', subscription, t + 20));
    expect(recovered.body.applied).toBe(false); // already active: nothing to change, nothing audited
    const late = await deliver(
      stripeEvent('customer.subscription.updated', { ...subscription, status: 'unpaid' }, t + 10),
    );
    expect(late.body.applied).toBe(false);
    expect(await subscriptionOf(org)).toMatchObject({ status: 'active', effective_tier: 'pro' });
    const audit = await api('GET', `/v1/orgs/${org.slug}/activity?resource_type=subscription`, {
      token: org.owner.token,
    });
    expect(audit.body.data).toHaveLength(1);
  });

  it('refuses a bad signature, a tampered body and a missing header with 401, applying nothing', async () => {
    const org = await newOrg();
    const event = stripeEvent('customer.subscription.created', subscriptionObject(org.id, 'pro'));
    expectProblem(await deliver(event, { secret: 'whsec_not_the_endpoint_secret' }), 401, 'unauthenticated');
    expectProblem(await deliver(event, { tamper: true }), 401, 'unauthenticated');
    expectProblem(await api('POST', '/v1/webhooks/stripe', { body: JSON.stringify(event) }), 401, 'unauthenticated');
    expect((await subscriptionOf(org)).tier).toBe('free');
  });

  it('answers 200 to event types it does not act on, and to prices it does not sell', async () => {
    const org = await newOrg();
    const res = await deliver(stripeEvent('customer.created', { id: `cus_${rand()}`, object: 'customer' }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: true, applied: false });
    const unknownPrice = await deliver(
      stripeEvent('customer.subscription.created', subscriptionObject(org.id, 'platinum')),
    );
    expect(unknownPrice.body).toEqual({ received: true, applied: false });
    expect((await subscriptionOf(org)).tier).toBe('free');
  });

  it('keeps the tier for active, trialing and past_due, and counts every other status as free', async () => {
    const org = await newOrg();
    const subscription = subscriptionObject(org.id, 'enterprise');
    let created = now();
    for (const status of STRIPE_STATUSES) {
      created += 1;
      const res = await deliver(stripeEvent('customer.subscription.updated', { ...subscription, status }, created));
      expect(res.body.applied, status).toBe(true);
      const keeps = ['active', 'trialing', 'past_due'].includes(status);
      expect(await subscriptionOf(org), status).toMatchObject({
        tier: 'enterprise',
        status: stored(status),
        effective_tier: keeps ? 'enterprise' : 'free',
      });
      expect(await statusOfOrg(org), status).toBe(orgStatus(stored(status)));
      expect(await tierOfUser(org.owner.token), status).toBe(keeps ? 'enterprise' : 'free');
      const usage = await api('GET', `/v1/orgs/${org.slug}/usage`, { token: org.owner.token });
      expect(usage.body.tier, status).toBe(keeps ? 'enterprise' : 'free');
    }
  });

  it('goes back to free when the subscription is deleted; a user keeps the best tier of their organizations', async () => {
    const org = await newOrg();
    const other = await newOrg(org.owner);
    const t = now();
    await deliver(stripeEvent('customer.subscription.created', subscriptionObject(other.id, 'basic'), t));
    const subscription = subscriptionObject(org.id, 'pro');
    await deliver(stripeEvent('customer.subscription.created', subscription, t));
    expect(await tierOfUser(org.owner.token)).toBe('pro');
    const res = await deliver(
      stripeEvent('customer.subscription.deleted', { ...subscription, status: 'canceled', canceled_at: t + 1 }, t + 1),
    );
    expect(res.body.applied).toBe(true);
    expect(await subscriptionOf(org)).toMatchObject({ tier: 'free', status: 'cancelled', effective_tier: 'free' });
    expect(await statusOfOrg(org)).toBe('inactive');
    expect(await tierOfUser(org.owner.token)).toBe('basic');
  });

  it('gives a member the tier when they join and takes it when they leave', async () => {
    const org = await newOrg();
    await deliver(stripeEvent('customer.subscription.created', subscriptionObject(org.id, 'pro')));
    const member = await joinAs(org, 'member');
    expect(await tierOfUser(member.token)).toBe('pro');
    expect((await api('DELETE', `/v1/orgs/${org.slug}/members/${member.id}`, { token: member.token })).status).toBe(
      204,
    );
    expect(await tierOfUser(member.token)).toBe('free');
  });

  it("ends the tier when a subscription on a price Strive does not sell (set in Stripe's dashboard) is deleted", async () => {
    const org = await newOrg();
    const subscription = subscriptionObject(org.id, 'pro');
    const t = now();
    await deliver(stripeEvent('customer.subscription.created', subscription, t));
    const switched = {
      ...subscription,
      items: {
        ...subscription.items,
        data: [
          {
            ...subscription.items.data[0]!,
            price: { ...subscription.items.data[0]!.price, id: 'price_custom', lookup_key: null },
          },
        ],
      },
    };
    expect((await deliver(stripeEvent('customer.subscription.updated', switched, t + 1))).body.applied).toBe(false);
    const deleted = await deliver(
      stripeEvent('customer.subscription.deleted', { ...switched, status: 'canceled' }, t + 2),
    );
    expect(deleted.body.applied).toBe(true);
    expect(await subscriptionOf(org)).toMatchObject({ tier: 'free', status: 'cancelled', effective_tier: 'free' });
  });

  it('does not let a late failed payment undo a newer paid invoice', async () => {
    const org = await newOrg();
    const subscription = subscriptionObject(org.id, 'pro');
    const t = now();
    await deliver(stripeEvent('customer.subscription.created', { ...subscription, status: 'past_due' }, t));
    expect((await deliver(invoiceEvent('invoice.paid', subscription, org.id, t + 20))).body.applied).toBe(true);
    expect((await deliver(invoiceEvent('invoice.payment_failed', subscription, org.id, t + 10))).body.applied).toBe(
      false,
    );
    expect(await subscriptionOf(org)).toMatchObject({ status: 'active', effective_tier: 'pro' });
  });

  it('does not revive a canceled subscription with a late invoice event', async () => {
    const org = await newOrg();
    const subscription = subscriptionObject(org.id, 'pro');
    const t = now();
    await deliver(stripeEvent('customer.subscription.deleted', { ...subscription, status: 'canceled' }, t));
    expect((await deliver(invoiceEvent('invoice.paid', subscription, org.id, t + 5))).body.applied).toBe(false);
    expect(await subscriptionOf(org)).toMatchObject({ status: 'cancelled', effective_tier: 'free' });
  });

  it('links the Stripe ids on checkout.session.completed without waiting for the subscription event', async () => {
    const org = await newOrg();
    const session = {
      id: `cs_test_${rand()}`,
      object: 'checkout.session',
      mode: 'subscription',
      status: 'complete',
      payment_status: 'paid',
      client_reference_id: org.id,
      customer: `cus_${rand()}`,
      subscription: `sub_${rand()}`,
      metadata: { organization_id: org.id },
    };
    expect((await deliver(stripeEvent('checkout.session.completed', session))).body.applied).toBe(true);
    const row = await env.CATALOG.prepare(
      'SELECT stripe_subscription_id, stripe_customer_id, tier FROM subscriptions WHERE organization_id = ?',
    )
      .bind(org.id)
      .first();
    expect(row).toEqual({
      stripe_subscription_id: session.subscription,
      stripe_customer_id: session.customer,
      tier: 'free',
    });
    // A subscription event created before the checkout event still applies afterwards.
    const subscription = subscriptionObject(org.id, 'pro', { id: session.subscription, customer: session.customer });
    expect((await deliver(stripeEvent('customer.subscription.created', subscription, now() - 5))).body.applied).toBe(
      true,
    );
    expect((await subscriptionOf(org)).tier).toBe('pro');
  });
});

describe('Stripe events of the same second', () => {
  it('end in the same state whatever order they arrive in: a deletion is not undone by an update', async () => {
    const finals = [];
    const t = now(); // one clock for both rounds: their states must compare equal
    for (const deletedFirst of [true, false]) {
      const org = await newOrg();
      const subscription = subscriptionObject(org.id, 'pro');
      await deliver(stripeEvent('customer.subscription.created', subscription, t - 10));
      const updated = stripeEvent('customer.subscription.updated', { ...subscription, cancel_at_period_end: true }, t);
      const deleted = stripeEvent(
        'customer.subscription.deleted',
        { ...subscription, status: 'canceled', canceled_at: t },
        t,
      );
      for (const event of deletedFirst ? [deleted, updated] : [updated, deleted]) await deliver(event);
      // (The billing period comes from the clock when each subscription object was made; the
      // row's ids, times and metadata are each organization's own.)
      const {
        current_period_start: _start,
        current_period_end: _end,
        id: _id,
        organization_id: _org,
        stripe_subscription_id: _sub,
        stripe_customer_id: _customer,
        metadata: _metadata,
        created_at: _created,
        updated_at: _updated,
        ...final
      } = await subscriptionOf(org);
      expect(final, deletedFirst ? 'deleted first' : 'updated first').toMatchObject({
        tier: 'free',
        status: 'cancelled',
        effective_tier: 'free',
      });
      expect(await statusOfOrg(org)).toBe('inactive');
      finals.push(final);
    }
    expect(finals[0]).toEqual(finals[1]);
  });

  it('takes the later status of the lifecycle: incomplete → active in one second, in either order', async () => {
    for (const activeFirst of [true, false]) {
      const org = await newOrg();
      const subscription = subscriptionObject(org.id, 'basic');
      const t = now();
      const created = stripeEvent('customer.subscription.created', { ...subscription, status: 'incomplete' }, t);
      const updated = stripeEvent('customer.subscription.updated', subscription, t);
      for (const event of activeFirst ? [updated, created] : [created, updated]) await deliver(event);
      expect(await subscriptionOf(org), activeFirst ? 'active first' : 'incomplete first').toMatchObject({
        status: 'active',
        effective_tier: 'basic',
      });
    }
  });

  it('guards the upsert itself the same way as the check before it (a concurrent event between the two)', async () => {
    // The row as a concurrent event left it, then this event's batch: the WHERE must refuse
    // exactly what `applies` refuses.
    const catalog = catalogDb(env, D1Sessions.primary(env));
    const t = now();
    const rows: { status: SubscriptionStatus; created: number | null; sub: string; invoiced?: number }[] = [
      { status: 'cancelled', created: t, sub: 'sub_a' },
      { status: 'active', created: t, sub: 'sub_a' },
      { status: 'past_due', created: t, sub: 'sub_a' },
      { status: 'unpaid', created: t - 5, sub: 'sub_a' },
      { status: 'trialing', created: null, sub: 'sub_a' },
      { status: 'active', created: t - 5, sub: 'sub_b' },
      { status: 'cancelled', created: t - 5, sub: 'sub_b' },
      { status: 'active', created: t - 5, sub: 'sub_a', invoiced: t },
    ];
    const rules: EventRule[] = [
      { kind: 'subscription', subscriptionId: 'sub_a', created: t, status: 'active' },
      { kind: 'subscription', subscriptionId: 'sub_a', created: t, status: 'cancelled' },
      { kind: 'subscription', subscriptionId: 'sub_a', created: t - 1, status: 'cancelled' },
      { kind: 'subscription', subscriptionId: 'sub_a', created: t + 1, status: 'incomplete' },
      { kind: 'invoice', subscriptionId: 'sub_a', created: t, from: ['active', 'trialing'] },
      { kind: 'invoice', subscriptionId: 'sub_a', created: t + 1, from: ['past_due', 'unpaid'] },
      { kind: 'invoice', subscriptionId: 'sub_a', created: t - 1, from: ['past_due', 'unpaid'] },
      { kind: 'checkout', subscriptionId: 'sub_a' },
    ];
    let takenSomewhere = 0;
    for (const row of rows) {
      for (const rule of rules) {
        const org = await newOrg();
        const sub = `${row.sub}_${rand()}`;
        const scoped = {
          ...rule,
          subscriptionId: rule.subscriptionId === row.sub ? sub : `${rule.subscriptionId}_${rand()}`,
        };
        await env.CATALOG.prepare(
          "UPDATE subscriptions SET stripe_subscription_id = ?, tier = 'pro', status = ?, stripe_event_created = " +
            '?, stripe_invoice_created = ? WHERE organization_id = ?',
        )
          .bind(sub, row.status, row.created, row.invoiced ?? null, org.id)
          .run();
        const expected = applies(scoped, {
          stripe_subscription_id: sub,
          status: row.status,
          stripe_event_created: row.created,
          stripe_invoice_created: row.invoiced ?? null,
        });
        const [upserted] = await catalog.batch([
          ...subscriptionEffect(catalog, org.id, { status: 'past_due' }, scoped),
        ]);
        expect(upserted.length === 1, JSON.stringify({ row, rule })).toBe(expected);
        if (expected) takenSomewhere++;
      }
    }
    // Both outcomes occur: the table exercises the guard, not one side of it.
    expect(takenSomewhere).toBeGreaterThan(0);
    expect(takenSomewhere).toBeLessThan(rows.length * rules.length);
  });
});

describe('Stripe events of another subscription of the organization', () => {
  it('do not overwrite the live one: a late deletion, a failed invoice and a checkout of the old subscription', async () => {
    const org = await newOrg();
    const t = now();
    const old = subscriptionObject(org.id, 'basic');
    await deliver(stripeEvent('customer.subscription.created', old, t - 100));
    await deliver(stripeEvent('customer.subscription.updated', { ...old, status: 'incomplete_expired' }, t - 90));
    const current = subscriptionObject(org.id, 'pro');
    expect((await deliver(stripeEvent('customer.subscription.created', current, t - 50))).body.applied).toBe(true);

    const late = [
      stripeEvent('customer.subscription.deleted', { ...old, status: 'canceled', canceled_at: t }, t),
      stripeEvent('customer.subscription.updated', { ...old, status: 'past_due' }, t + 1),
      invoiceEvent('invoice.payment_failed', old, org.id, t + 2),
      // A second live subscription (two checkout sessions both completed): the first one stays.
      stripeEvent('customer.subscription.created', subscriptionObject(org.id, 'enterprise'), t + 2),
      stripeEvent(
        'checkout.session.completed',
        {
          id: `cs_test_${rand()}`,
          object: 'checkout.session',
          mode: 'subscription',
          status: 'complete',
          client_reference_id: org.id,
          customer: old.customer,
          subscription: `sub_${rand()}`,
          metadata: { organization_id: org.id },
        },
        t + 3,
      ),
    ];
    for (const event of late)
      expect((await deliver(event)).body, event.type).toEqual({ received: true, applied: false });
    expect(await subscriptionOf(org)).toMatchObject({ tier: 'pro', status: 'active', effective_tier: 'pro' });
    const row = await env.CATALOG.prepare('SELECT stripe_subscription_id FROM subscriptions WHERE organization_id = ?')
      .bind(org.id)
      .first();
    expect(row).toEqual({ stripe_subscription_id: current.id });
    // The current one's own events still apply.
    expect(
      (await deliver(stripeEvent('customer.subscription.deleted', { ...current, status: 'canceled' }, t + 4))).body
        .applied,
    ).toBe(true);
    expect((await subscriptionOf(org)).status).toBe('cancelled');
  });

  it('replace a subscription that is over: a new subscription after a canceled one applies', async () => {
    const org = await newOrg();
    const t = now();
    const old = subscriptionObject(org.id, 'basic');
    await deliver(stripeEvent('customer.subscription.deleted', { ...old, status: 'canceled' }, t - 10));
    const next = subscriptionObject(org.id, 'enterprise');
    expect((await deliver(stripeEvent('customer.subscription.created', next, t))).body.applied).toBe(true);
    expect(await subscriptionOf(org)).toMatchObject({ tier: 'enterprise', status: 'active' });
  });
});

describe('invoice events', () => {
  // [status before, event, status after]
  const cases: [SubscriptionStatus, string, SubscriptionStatus][] = [
    ['active', 'invoice.payment_failed', 'past_due'],
    ['trialing', 'invoice.payment_failed', 'past_due'],
    ['unpaid', 'invoice.payment_failed', 'unpaid'],
    ['incomplete', 'invoice.payment_failed', 'incomplete'],
    ['cancelled', 'invoice.payment_failed', 'cancelled'],
    ['incomplete_expired', 'invoice.payment_failed', 'incomplete_expired'],
    ['past_due', 'invoice.paid', 'active'],
    ['unpaid', 'invoice.paid', 'active'],
    ['trialing', 'invoice.paid', 'trialing'],
    ['incomplete', 'invoice.paid', 'incomplete'],
    ['cancelled', 'invoice.paid', 'cancelled'],
    ['paused', 'invoice.paid', 'paused'],
  ];
  it.each(cases)('%s + %s → %s', async (from, type, to) => {
    const org = await newOrg();
    const subscription = subscriptionObject(org.id, 'pro', { status: from === 'cancelled' ? 'canceled' : from });
    const t = now();
    await deliver(
      stripeEvent(
        from === 'cancelled' ? 'customer.subscription.deleted' : 'customer.subscription.updated',
        subscription,
        t - 10,
      ),
    );
    const res = await deliver(invoiceEvent(type, subscription, org.id, t));
    expect(res.body.applied).toBe(from !== to);
    expect((await subscriptionOf(org)).status).toBe(to);
    expect(await statusOfOrg(org)).toBe(orgStatus(to));
  });

  it('are ignored for an organization that never subscribed', async () => {
    const org = await newOrg();
    const res = await deliver(invoiceEvent('invoice.payment_failed', subscriptionObject(org.id, 'pro'), org.id));
    expect(res.body.applied).toBe(false);
    expect(await subscriptionOf(org)).toMatchObject({ tier: 'free', status: 'active' });
  });
});

describe('checkout and portal', () => {
  afterEach(() => {
    fetchMock.deactivate();
    fetchMock.enableNetConnect();
  });

  it('answer 503 not_configured without STRIPE_SECRET_KEY, and the rest keeps working', async () => {
    const org = await newOrg();
    expectProblem(
      await api('POST', `/v1/orgs/${org.slug}/billing/checkout`, { token: org.owner.token, body: { tier: 'pro' } }),
      503,
      'not_configured',
    );
    expectProblem(
      await api('POST', `/v1/orgs/${org.slug}/billing/portal`, { token: org.owner.token }),
      503,
      'not_configured',
    );
    expect((await api('GET', `/v1/orgs/${org.slug}/subscription`, { token: org.owner.token })).status).toBe(200);
  });

  it('are for owners only (billing:manage): 403 to an admin', async () => {
    const org = await newOrg();
    const admin = await joinAs(org, 'admin');
    expectProblem(
      await appRequest('POST', `/v1/orgs/${org.slug}/billing/checkout`, admin.token, { tier: 'pro' }),
      403,
      'forbidden',
    );
    expectProblem(await appRequest('POST', `/v1/orgs/${org.slug}/billing/portal`, admin.token), 403, 'forbidden');
  });

  it('refuses free and unknown tiers with 400', async () => {
    const org = await newOrg();
    for (const tier of ['free', 'gold']) {
      const res = await appRequest('POST', `/v1/orgs/${org.slug}/billing/checkout`, org.owner.token, { tier });
      expectProblem(res, 400, 'invalid_request');
      expect(res.body.errors[0].path).toBe('tier');
    }
  });

  it('creates the customer once, finds the price by lookup_key and opens a subscription Checkout Session', async () => {
    const stripe = stripeApi();
    const org = await newOrg();
    const customerId = `cus_${rand()}`;
    const sent: Record<string, { body: URLSearchParams; headers: Headers }[]> = {};
    const capture = (name: string) => (request: { body?: unknown; headers?: unknown }) => {
      (sent[name] ??= []).push({
        body: new URLSearchParams(String(request.body ?? '')),
        headers: new Headers(request.headers as HeadersInit),
      });
    };
    stripe.intercept({ path: '/v1/customers', method: 'POST' }).reply(
      200,
      (req) => {
        capture('customer')(req);
        return {
          id: customerId,
          object: 'customer',
          name: `Org ${org.slug}`,
          metadata: { organization_id: org.id },
          livemode: false,
        };
      },
      jsonReply,
    );
    stripe
      .intercept({ path: (p) => p.startsWith('/v1/prices?'), method: 'GET' })
      .reply(
        200,
        (req) => {
          capture('prices')({ ...req, body: new URL(`https://x${req.path}`).search.slice(1) });
          return {
            object: 'list',
            url: '/v1/prices',
            has_more: false,
            data: [
              {
                id: 'price_pro_monthly',
                object: 'price',
                active: true,
                lookup_key: 'pro',
                currency: 'usd',
                unit_amount: 4900,
                type: 'recurring',
              },
            ],
          };
        },
        jsonReply,
      )
      .times(2);
    stripe
      .intercept({ path: '/v1/checkout/sessions', method: 'POST' })
      .reply(
        200,
        (req) => {
          capture('session')(req);
          return {
            id: 'cs_test_1',
            object: 'checkout.session',
            mode: 'subscription',
            url: 'https://checkout.stripe.com/c/pay/cs_test_1',
            status: 'open',
          };
        },
        jsonReply,
      )
      .times(2);

    // The second checkout first looks at the first session and expires it, still open.
    stripe
      .intercept({ path: '/v1/checkout/sessions/cs_test_1', method: 'GET' })
      .reply(
        200,
        { id: 'cs_test_1', object: 'checkout.session', mode: 'subscription', status: 'open', subscription: null },
        jsonReply,
      );
    stripe.intercept({ path: '/v1/checkout/sessions/cs_test_1/expire', method: 'POST' }).reply(
      200,
      (req) => {
        capture('expire')(req);
        return { id: 'cs_test_1', object: 'checkout.session', mode: 'subscription', status: 'expired' };
      },
      jsonReply,
    );

    const first = await appRequest('POST', `/v1/orgs/${org.slug}/billing/checkout`, org.owner.token, { tier: 'pro' });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body).toEqual({ url: 'https://checkout.stripe.com/c/pay/cs_test_1' });
    // Its trips (the state, the customer, the session) run in the organization's writer: one far hop.
    expect([first.roundTrips, first.farHops]).toEqual([4, 1]);
    // No subscription yet (the first session abandoned, or still open): another checkout is allowed,
    // and the first session is expired so that only one can be paid. Once one is live it is 409 (below).
    const again = await appRequest('POST', `/v1/orgs/${org.slug}/billing/checkout`, org.owner.token, { tier: 'pro' });
    expect(again.status).toBe(200);
    expect(sent.expire).toHaveLength(1);
    fetchMock.assertNoPendingInterceptors();

    // One customer, created with an idempotency key per organization, stored and reused.
    expect(sent.customer).toHaveLength(1);
    expect(sent.customer![0]!.body.get('metadata[organization_id]')).toBe(org.id);
    expect(sent.customer![0]!.headers.get('idempotency-key')).toBe(`strive-customer-${org.id}`);
    expect(sent.customer![0]!.headers.get('authorization')).toBe(`Bearer ${STRIPE_KEY}`);
    const stored = await env.CATALOG.prepare('SELECT stripe_customer_id FROM organizations WHERE id = ?')
      .bind(org.id)
      .first();
    expect(stored).toEqual({ stripe_customer_id: customerId });

    expect(sent.prices![0]!.body.get('lookup_keys[0]')).toBe('pro');
    const session = sent.session![1]!.body;
    expect(Object.fromEntries(session)).toMatchObject({
      mode: 'subscription',
      customer: customerId,
      client_reference_id: org.id,
      'line_items[0][price]': 'price_pro_monthly',
      'line_items[0][quantity]': '1',
      'subscription_data[metadata][organization_id]': org.id,
      success_url: env.BILLING_SUCCESS_URL,
      cancel_url: env.BILLING_CANCEL_URL,
    });
  });

  it("sends the organization's billing_email as the Stripe customer's email: to a new customer, and to an existing one", async () => {
    const stripe = stripeApi();
    const org = await newOrg();
    const patched = await api('PATCH', `/v1/orgs/${org.slug}`, {
      token: org.owner.token,
      body: { billing_email: 'Invoices@Example.com' },
    });
    expect(patched.body.billing_email).toBe('invoices@example.com');
    const customerId = `cus_${rand()}`;
    const sent: URLSearchParams[] = [];
    stripe.intercept({ path: '/v1/customers', method: 'POST' }).reply(
      200,
      (req) => {
        sent.push(new URLSearchParams(String(req.body)));
        return {
          id: customerId,
          object: 'customer',
          email: 'invoices@example.com',
          metadata: { organization_id: org.id },
          livemode: false,
        };
      },
      jsonReply,
    );
    noPrices(stripe);
    expectProblem(
      await appRequest('POST', `/v1/orgs/${org.slug}/billing/checkout`, org.owner.token, { tier: 'pro' }),
      503,
      'not_configured',
    );
    expect(sent[0]?.get('email')).toBe('invoices@example.com');

    // Changed since: the stored customer gets the new email at the next checkout.
    await api('PATCH', `/v1/orgs/${org.slug}`, { token: org.owner.token, body: { billing_email: 'ap@example.com' } });
    stripe.intercept({ path: `/v1/customers/${customerId}`, method: 'POST' }).reply(
      200,
      (req) => {
        sent.push(new URLSearchParams(String(req.body)));
        return { id: customerId, object: 'customer', email: 'ap@example.com', livemode: false };
      },
      jsonReply,
    );
    noPrices(stripe);
    expectProblem(
      await appRequest('POST', `/v1/orgs/${org.slug}/billing/checkout`, org.owner.token, { tier: 'pro' }),
      503,
      'not_configured',
    );
    expect(sent[1]?.get('email')).toBe('ap@example.com');
    fetchMock.assertNoPendingInterceptors();
  });

  it("answers 503 not_configured when no active price has the tier's lookup_key", async () => {
    const stripe = stripeApi();
    const org = await customerOrg();
    noPrices(stripe);
    const res = await appRequest('POST', `/v1/orgs/${org.slug}/billing/checkout`, org.owner.token, {
      tier: 'enterprise',
    });
    expectProblem(res, 503, 'not_configured');
    expect(res.body.detail).toContain("'enterprise'");
    fetchMock.assertNoPendingInterceptors();
  });

  it(
    'answers 409 to a checkout while a subscription is live, unpaid and paused included (the portal changes, pays ' +
      'or resumes it)',
    async () => {
      for (const status of ['active', 'trialing', 'past_due', 'unpaid', 'paused']) {
        const org = await newOrg();
        await deliver(stripeEvent('customer.subscription.created', subscriptionObject(org.id, 'basic', { status })));
        const res = await appRequest('POST', `/v1/orgs/${org.slug}/billing/checkout`, org.owner.token, { tier: 'pro' });
        expectProblem(res, 409, 'conflict');
        expect(res.body.detail, status).toContain('billing/portal');
      }
    },
  );

  it('keep an organization from being deleted while its subscription is live: it would go on billing', async () => {
    const org = await newOrg();
    const subscription = subscriptionObject(org.id, 'basic');
    const t = now();
    await deliver(stripeEvent('customer.subscription.created', subscription, t));
    const refused = await api('DELETE', `/v1/orgs/${org.slug}`, { token: org.owner.token });
    expectProblem(refused, 409, 'conflict');
    expect(refused.body.detail).toContain('billing/portal');
    expect((await api('GET', `/v1/orgs/${org.slug}`, { token: org.owner.token })).status).toBe(200);
    await deliver(stripeEvent('customer.subscription.deleted', { ...subscription, status: 'canceled' }, t + 1));
    expect((await api('DELETE', `/v1/orgs/${org.slug}`, { token: org.owner.token })).status).toBe(204);
    expect((await api('GET', `/v1/orgs/${org.slug}`, { token: org.owner.token })).status).toBe(404);
  });

  it(
    'answers 409 while the previous checkout is paid and its subscription has not arrived yet; lets it through ' +
      'once that subscription is over',
    async () => {
      const stripe = stripeApi();
      const org = await customerOrg('cs_paid');
      const subscription = subscriptionObject(org.id, 'basic');
      stripe
        .intercept({ path: '/v1/checkout/sessions/cs_paid', method: 'GET' })
        .reply(
          200,
          {
            id: 'cs_paid',
            object: 'checkout.session',
            mode: 'subscription',
            status: 'complete',
            subscription: subscription.id,
          },
          jsonReply,
        )
        .times(2);
      const early = await appRequest('POST', `/v1/orgs/${org.slug}/billing/checkout`, org.owner.token, { tier: 'pro' });
      expectProblem(early, 409, 'conflict');
      expect(early.body.detail).toContain('being set up');

      // Its subscription arrives and is later canceled: a new checkout goes on (to the price: none here, 503).
      const t = now();
      await deliver(stripeEvent('customer.subscription.created', subscription, t));
      await deliver(stripeEvent('customer.subscription.deleted', { ...subscription, status: 'canceled' }, t + 1));
      noPrices(stripe);
      expectProblem(
        await appRequest('POST', `/v1/orgs/${org.slug}/billing/checkout`, org.owner.token, { tier: 'pro' }),
        503,
        'not_configured',
      );
      fetchMock.assertNoPendingInterceptors();
    },
  );

  it('goes on when Stripe no longer has the previous Checkout Session', async () => {
    const stripe = stripeApi();
    const org = await customerOrg('cs_gone');
    stripe.intercept({ path: '/v1/checkout/sessions/cs_gone', method: 'GET' }).reply(
      404,
      {
        error: {
          type: 'invalid_request_error',
          code: 'resource_missing',
          message: "No such checkout.session: 'cs_gone'",
        },
      },
      jsonReply,
    );
    noPrices(stripe);
    // Past the previous session: Stripe is asked for the price (none here, so 503).
    expectProblem(
      await appRequest('POST', `/v1/orgs/${org.slug}/billing/checkout`, org.owner.token, { tier: 'pro' }),
      503,
      'not_configured',
    );
    fetchMock.assertNoPendingInterceptors();
  });

  it('lets a checkout through once the subscription is over', async () => {
    const stripe = stripeApi();
    const org = await customerOrg();
    await deliver(
      stripeEvent('customer.subscription.deleted', subscriptionObject(org.id, 'basic', { status: 'canceled' })),
    );
    // Past the 409: Stripe is asked for the price (none here, so 503).
    noPrices(stripe);
    expectProblem(
      await appRequest('POST', `/v1/orgs/${org.slug}/billing/checkout`, org.owner.token, { tier: 'pro' }),
      503,
      'not_configured',
    );
    fetchMock.assertNoPendingInterceptors();
  });

  it('opens a portal session for the stored customer', async () => {
    const stripe = stripeApi();
    const org = await customerOrg();
    const customerId = (await env.CATALOG.prepare('SELECT stripe_customer_id FROM organizations WHERE id = ?')
      .bind(org.id)
      .first<{ stripe_customer_id: string }>())!.stripe_customer_id;
    let body: URLSearchParams | undefined;
    stripe.intercept({ path: '/v1/billing_portal/sessions', method: 'POST' }).reply(
      200,
      (req) => {
        body = new URLSearchParams(String(req.body));
        return {
          id: 'bps_1',
          object: 'billing_portal.session',
          customer: customerId,
          url: 'https://billing.stripe.com/p/session/test_1',
          return_url: env.BILLING_PORTAL_RETURN_URL,
        };
      },
      jsonReply,
    );
    const res = await appRequest('POST', `/v1/orgs/${org.slug}/billing/portal`, org.owner.token);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ url: 'https://billing.stripe.com/p/session/test_1' });
    expect(body?.get('customer')).toBe(customerId);
    expect(body?.get('return_url')).toBe(env.BILLING_PORTAL_RETURN_URL);
    fetchMock.assertNoPendingInterceptors();
  });
});
