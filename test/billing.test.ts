// Billing: GET /subscription, checkout and portal through the real stripe SDK against fetchMock'ed
// Stripe answers of the real shape, and POST /v1/webhooks/stripe with deliveries signed exactly
// as Stripe signs them (the SDK's own test header, Web Crypto).
import { createExecutionContext, env, fetchMock, waitOnExecutionContext } from 'cloudflare:test';
import Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/app';
import { SUBSCRIPTION_STATUSES } from '../src/db/enums';
import { api, expectProblem, joinAs, newOrg, readResponse, type ApiResponse, type TestOrg } from './helpers';

const STRIPE_KEY = 'sk_test_strive_billing';
const stripeEnv = { ...env, STRIPE_SECRET_KEY: STRIPE_KEY };

async function appRequest(method: string, path: string, token: string, body?: unknown): Promise<ApiResponse> {
  const ctx = createExecutionContext();
  const response = await createApp().request(`https://strive.test${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  }, stripeEnv, ctx);
  await waitOnExecutionContext(ctx);
  return readResponse(response);
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
      data: [{
        id: `si_${rand()}`,
        object: 'subscription_item',
        created: start,
        current_period_start: start,
        current_period_end: start + 30 * 86_400,
        metadata: {},
        price: { id: `price_${tier}`, object: 'price', active: true, currency: 'usd', lookup_key: tier, product: `prod_${tier}`, recurring: { interval: 'month', interval_count: 1 }, type: 'recurring', unit_amount: 4900 },
        quantity: 1,
        subscription: id,
      }],
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

const signer = new Stripe('sk_unused', { httpClient: Stripe.createFetchHttpClient() });

async function deliver(event: object, { secret = env.STRIPE_WEBHOOK_SECRET, tamper = false } = {}): Promise<ApiResponse> {
  const payload = JSON.stringify(event);
  const signature = await signer.webhooks.generateTestHeaderStringAsync({ payload, secret, cryptoProvider: Stripe.createSubtleCryptoProvider() });
  return api('POST', '/v1/webhooks/stripe', {
    body: tamper ? payload.replace('"active"', '"trialing"') : payload,
    headers: { 'stripe-signature': signature },
  });
}

const subscriptionOf = async (org: TestOrg) => (await api('GET', `/v1/orgs/${org.slug}/subscription`, { token: org.owner.token })).body;
const tierOfUser = async (token: string) => (await api('GET', '/v1/me', { token })).body.subscription_tier;
const statusOfOrg = async (org: TestOrg) => (await api('GET', `/v1/orgs/${org.slug}`, { token: org.owner.token })).body.subscription_status;

describe('GET /subscription', () => {
  it('is free and active for a new organization, in 1 round trip warm', async () => {
    const org = await newOrg();
    await api('GET', `/v1/orgs/${org.slug}/subscription`, { token: org.owner.token });
    const res = await api('GET', `/v1/orgs/${org.slug}/subscription`, { token: org.owner.token });
    expect(res.status).toBe(200);
    expect(res.roundTrips).toBe(1);
    expect(res.body).toEqual({
      tier: 'free', status: 'active', effective_tier: 'free', current_period_start: null, current_period_end: null,
      cancel_at_period_end: false, canceled_at: null, trial_end: null,
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
  it('applies a new subscription: tier, status, period, the org status, the members\' tier, an audit row', async () => {
    const org = await newOrg();
    const member = await joinAs(org, 'member');
    const subscription = subscriptionObject(org.id, 'pro');
    const res = await deliver(stripeEvent('customer.subscription.created', subscription));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ received: true, applied: true });

    const current = await subscriptionOf(org);
    expect(current).toMatchObject({ tier: 'pro', status: 'active', effective_tier: 'pro', cancel_at_period_end: false });
    expect(current.current_period_end).toBe(new Date(subscription.items.data[0]!.current_period_end * 1000).toISOString());
    expect(await statusOfOrg(org)).toBe('active');
    expect(await tierOfUser(org.owner.token)).toBe('pro');
    expect(await tierOfUser(member.token)).toBe('pro');
    // The new tier applies at once: pro's limits in /usage.
    const usage = await api('GET', `/v1/orgs/${org.slug}/usage`, { token: org.owner.token });
    expect(usage.body.tier).toBe('pro');
    expect(usage.body.limits.seats.limit).toBe(50);

    const activity = await api('GET', `/v1/orgs/${org.slug}/activity?resource_type=subscription`, { token: org.owner.token });
    expect(activity.body.data).toHaveLength(1);
    expect(activity.body.data[0]).toMatchObject({
      action: 'subscription.update', actor_type: 'webhook', actor_id: 'stripe', resource_id: org.id,
      old_data: { tier: 'free' }, new_data: { tier: 'pro', stripe_event: expect.stringMatching(/^evt_/) },
    });
  });

  it('answers a replay 200 without applying it again', async () => {
    const org = await newOrg();
    const event = stripeEvent('customer.subscription.created', subscriptionObject(org.id, 'basic'));
    expect((await deliver(event)).body.applied).toBe(true);
    const replay = await deliver(event);
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual({ received: true, applied: false });
    const activity = await api('GET', `/v1/orgs/${org.slug}/activity?resource_type=subscription`, { token: org.owner.token });
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
    const invoice = (type: string, created: number) =>
      stripeEvent(type, {
        id: `in_${rand()}`, object: 'invoice', status: type === 'invoice.paid' ? 'paid' : 'open', customer: subscription.customer,
        parent: { type: 'subscription_details', quote_details: null, subscription_details: { subscription: subscription.id, metadata: { organization_id: org.id } } },
      }, created);
    expect((await deliver(invoice('invoice.payment_failed', t + 5))).body.applied).toBe(false);
    expect((await subscriptionOf(org)).status).toBe('active');
    // …and applies when it is the newest: a failed payment makes it past_due, a paid one active.
    expect((await deliver(invoice('invoice.payment_failed', t + 20))).body.applied).toBe(true);
    expect(await subscriptionOf(org)).toMatchObject({ status: 'past_due', effective_tier: 'pro' });
    expect(await statusOfOrg(org)).toBe('past_due');
    expect((await deliver(invoice('invoice.paid', t + 30))).body.applied).toBe(true);
    expect((await subscriptionOf(org)).status).toBe('active');
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
    const unknownPrice = await deliver(stripeEvent('customer.subscription.created', subscriptionObject(org.id, 'platinum')));
    expect(unknownPrice.body).toEqual({ received: true, applied: false });
    expect((await subscriptionOf(org)).tier).toBe('free');
  });

  it('keeps the tier for active, trialing and past_due, and counts every other status as free', async () => {
    const org = await newOrg();
    const subscription = subscriptionObject(org.id, 'enterprise');
    let created = now();
    for (const status of SUBSCRIPTION_STATUSES) {
      created += 1;
      const res = await deliver(stripeEvent('customer.subscription.updated', { ...subscription, status }, created));
      expect(res.body.applied, status).toBe(true);
      const keeps = ['active', 'trialing', 'past_due'].includes(status);
      expect(await subscriptionOf(org), status).toMatchObject({ tier: 'enterprise', status, effective_tier: keeps ? 'enterprise' : 'free' });
      expect(await statusOfOrg(org)).toBe(status);
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
    const res = await deliver(stripeEvent('customer.subscription.deleted', { ...subscription, status: 'canceled', canceled_at: t + 1 }, t + 1));
    expect(res.body.applied).toBe(true);
    expect(await subscriptionOf(org)).toMatchObject({ tier: 'free', status: 'canceled', effective_tier: 'free' });
    expect(await statusOfOrg(org)).toBe('canceled');
    expect(await tierOfUser(org.owner.token)).toBe('basic');
  });

  it('gives a member the tier when they join and takes it when they leave', async () => {
    const org = await newOrg();
    await deliver(stripeEvent('customer.subscription.created', subscriptionObject(org.id, 'pro')));
    const member = await joinAs(org, 'member');
    expect(await tierOfUser(member.token)).toBe('pro');
    expect((await api('DELETE', `/v1/orgs/${org.slug}/members/${member.id}`, { token: member.token })).status).toBe(204);
    expect(await tierOfUser(member.token)).toBe('free');
  });

  it('does not revive a canceled subscription with a late invoice event', async () => {
    const org = await newOrg();
    const subscription = subscriptionObject(org.id, 'pro');
    const t = now();
    await deliver(stripeEvent('customer.subscription.deleted', { ...subscription, status: 'canceled' }, t));
    const paid = stripeEvent('invoice.paid', {
      id: `in_${rand()}`, object: 'invoice', status: 'paid', customer: subscription.customer,
      parent: { type: 'subscription_details', quote_details: null, subscription_details: { subscription: subscription.id, metadata: { organization_id: org.id } } },
    }, t + 5);
    expect((await deliver(paid)).body.applied).toBe(false);
    expect(await subscriptionOf(org)).toMatchObject({ status: 'canceled', effective_tier: 'free' });
  });

  it('links the Stripe ids on checkout.session.completed without waiting for the subscription event', async () => {
    const org = await newOrg();
    const session = {
      id: `cs_test_${rand()}`, object: 'checkout.session', mode: 'subscription', status: 'complete', payment_status: 'paid',
      client_reference_id: org.id, customer: `cus_${rand()}`, subscription: `sub_${rand()}`, metadata: { organization_id: org.id },
    };
    expect((await deliver(stripeEvent('checkout.session.completed', session))).body.applied).toBe(true);
    const row = await env.CATALOG.prepare('SELECT stripe_subscription_id, stripe_customer_id, tier FROM subscriptions WHERE organization_id = ?').bind(org.id).first();
    expect(row).toEqual({ stripe_subscription_id: session.subscription, stripe_customer_id: session.customer, tier: 'free' });
    // A subscription event created before the checkout event still applies afterwards.
    const subscription = subscriptionObject(org.id, 'pro', { id: session.subscription, customer: session.customer });
    expect((await deliver(stripeEvent('customer.subscription.created', subscription, now() - 5))).body.applied).toBe(true);
    expect((await subscriptionOf(org)).tier).toBe('pro');
  });
});

describe('checkout and portal', () => {
  afterEach(() => {
    fetchMock.deactivate();
    fetchMock.enableNetConnect();
  });

  it('answer 503 not_configured without STRIPE_SECRET_KEY, and the rest keeps working', async () => {
    const org = await newOrg();
    expectProblem(await api('POST', `/v1/orgs/${org.slug}/billing/checkout`, { token: org.owner.token, body: { tier: 'pro' } }), 503, 'not_configured');
    expectProblem(await api('POST', `/v1/orgs/${org.slug}/billing/portal`, { token: org.owner.token }), 503, 'not_configured');
    expect((await api('GET', `/v1/orgs/${org.slug}/subscription`, { token: org.owner.token })).status).toBe(200);
  });

  it('are for owners only (billing:manage): 403 to an admin', async () => {
    const org = await newOrg();
    const admin = await joinAs(org, 'admin');
    expectProblem(await appRequest('POST', `/v1/orgs/${org.slug}/billing/checkout`, admin.token, { tier: 'pro' }), 403, 'forbidden');
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
    fetchMock.activate();
    fetchMock.disableNetConnect();
    const org = await newOrg();
    const customerId = `cus_${rand()}`;
    const stripe = fetchMock.get('https://api.stripe.com');
    const sent: Record<string, { body: URLSearchParams; headers: Headers }[]> = {};
    const capture = (name: string) => (request: { body?: unknown; headers?: unknown }) => {
      (sent[name] ??= []).push({ body: new URLSearchParams(String(request.body ?? '')), headers: new Headers(request.headers as HeadersInit) });
    };
    const json = { headers: { 'content-type': 'application/json' } };
    stripe.intercept({ path: '/v1/customers', method: 'POST' }).reply(200, (req) => {
      capture('customer')(req);
      return { id: customerId, object: 'customer', name: `Org ${org.slug}`, metadata: { organization_id: org.id }, livemode: false };
    }, json);
    stripe.intercept({ path: (p) => p.startsWith('/v1/prices?'), method: 'GET' }).reply(200, (req) => {
      capture('prices')({ ...req, body: new URL(`https://x${req.path}`).search.slice(1) });
      return { object: 'list', url: '/v1/prices', has_more: false, data: [{ id: 'price_pro_monthly', object: 'price', active: true, lookup_key: 'pro', currency: 'usd', unit_amount: 4900, type: 'recurring' }] };
    }, json).times(2);
    stripe.intercept({ path: '/v1/checkout/sessions', method: 'POST' }).reply(200, (req) => {
      capture('session')(req);
      return { id: 'cs_test_1', object: 'checkout.session', mode: 'subscription', url: 'https://checkout.stripe.com/c/pay/cs_test_1', status: 'open' };
    }, json).times(2);

    const first = await appRequest('POST', `/v1/orgs/${org.slug}/billing/checkout`, org.owner.token, { tier: 'pro' });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body).toEqual({ url: 'https://checkout.stripe.com/c/pay/cs_test_1' });
    const again = await appRequest('POST', `/v1/orgs/${org.slug}/billing/checkout`, org.owner.token, { tier: 'pro' });
    expect(again.status).toBe(200);
    fetchMock.assertNoPendingInterceptors();

    // One customer, created with an idempotency key per organization, stored and reused.
    expect(sent.customer).toHaveLength(1);
    expect(sent.customer![0]!.body.get('metadata[organization_id]')).toBe(org.id);
    expect(sent.customer![0]!.headers.get('idempotency-key')).toBe(`strive-customer-${org.id}`);
    expect(sent.customer![0]!.headers.get('authorization')).toBe(`Bearer ${STRIPE_KEY}`);
    const stored = await env.CATALOG.prepare('SELECT stripe_customer_id FROM organizations WHERE id = ?').bind(org.id).first();
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

  it('answers 503 not_configured when no active price has the tier\'s lookup_key', async () => {
    fetchMock.activate();
    fetchMock.disableNetConnect();
    const org = await newOrg();
    await env.CATALOG.prepare('UPDATE organizations SET stripe_customer_id = ? WHERE id = ?').bind(`cus_${rand()}`, org.id).run();
    fetchMock.get('https://api.stripe.com').intercept({ path: (p) => p.startsWith('/v1/prices?'), method: 'GET' })
      .reply(200, { object: 'list', url: '/v1/prices', has_more: false, data: [] }, { headers: { 'content-type': 'application/json' } });
    const res = await appRequest('POST', `/v1/orgs/${org.slug}/billing/checkout`, org.owner.token, { tier: 'enterprise' });
    expectProblem(res, 503, 'not_configured');
    expect(res.body.detail).toContain("'enterprise'");
    fetchMock.assertNoPendingInterceptors();
  });

  it('answers 409 to a checkout when a subscription is active (plans change in the portal)', async () => {
    const org = await newOrg();
    await deliver(stripeEvent('customer.subscription.created', subscriptionObject(org.id, 'basic')));
    expectProblem(await appRequest('POST', `/v1/orgs/${org.slug}/billing/checkout`, org.owner.token, { tier: 'pro' }), 409, 'conflict');
  });

  it('opens a portal session for the stored customer', async () => {
    fetchMock.activate();
    fetchMock.disableNetConnect();
    const org = await newOrg();
    const customerId = `cus_${rand()}`;
    await env.CATALOG.prepare('UPDATE organizations SET stripe_customer_id = ? WHERE id = ?').bind(customerId, org.id).run();
    let body: URLSearchParams | undefined;
    fetchMock.get('https://api.stripe.com').intercept({ path: '/v1/billing_portal/sessions', method: 'POST' }).reply(200, (req) => {
      body = new URLSearchParams(String(req.body));
      return { id: 'bps_1', object: 'billing_portal.session', customer: customerId, url: 'https://billing.stripe.com/p/session/test_1', return_url: env.BILLING_PORTAL_RETURN_URL };
    }, { headers: { 'content-type': 'application/json' } });
    const res = await appRequest('POST', `/v1/orgs/${org.slug}/billing/portal`, org.owner.token);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ url: 'https://billing.stripe.com/p/session/test_1' });
    expect(body?.get('customer')).toBe(customerId);
    expect(body?.get('return_url')).toBe(env.BILLING_PORTAL_RETURN_URL);
    fetchMock.assertNoPendingInterceptors();
  });
});
