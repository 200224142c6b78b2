import { z } from '@hono/zod-openapi';
import { SUBSCRIPTION_STATUSES, TIERS } from '../../db/enums';
import { defineRoute, json, jsonBody, OrgParam, type TenantApp } from '../../lib/openapi';
import { createCheckout, createPortal, getSubscription, PAID_TIERS } from './service';

const Subscription = z
  .object({
    id: z
      .string()
      .uuid()
      .nullable()
      .openapi({ description: 'Null for an organization without a subscription row (free)' }),
    organization_id: z.string().uuid(),
    stripe_subscription_id: z.string().nullable(),
    stripe_customer_id: z.string().nullable(),
    tier: z.enum(TIERS),
    status: z
      .enum(SUBSCRIPTION_STATUSES)
      .openapi({ description: "Stripe's status; Stripe's `canceled` is `cancelled`" }),
    effective_tier: z
      .enum(TIERS)
      .openapi({ description: 'The tier whose limits apply: free unless the status is active, trialing or past_due' }),
    current_period_start: z.string().nullable(),
    current_period_end: z.string().nullable(),
    cancel_at_period_end: z.boolean(),
    canceled_at: z.string().nullable(),
    trial_end: z.string().nullable(),
    metadata: z
      .record(z.string(), z.string())
      .openapi({ description: "The Stripe subscription's metadata, as its newest applied event carried it" }),
    created_at: z.string().nullable(),
    updated_at: z.string().nullable(),
  })
  .openapi('Subscription');

const Redirect = z.object({ url: z.string().url() }).openapi('BillingRedirect');
const CheckoutCreate = z
  .object({ tier: z.enum(PAID_TIERS as [string, ...string[]]) })
  .strict()
  .openapi('CheckoutCreate');
const NOT_CONFIGURED = {
  503: { description: 'Billing is not configured (no STRIPE_SECRET_KEY, or no price for the tier): `not_configured`' },
};

const params = z.object({ org: OrgParam });
const tags = ['Billing'];

export function registerBillingRoutes(app: TenantApp) {
  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/subscription',
      tags,
      permission: 'billing:read',
      summary: "The organization's subscription: tier, status, current period (free by default)",
      request: { params },
      responses: { 200: json(Subscription, 'The subscription') },
    }),
    async (c) => c.json(await getSubscription({ ctx: c.get('tenant') }), 200),
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/orgs/{org}/billing/checkout',
      tags,
      permission: 'billing:manage',
      summary:
        'A Stripe Checkout Session for a paid tier (owners; 409 while a subscription is live: change it in the portal)',
      request: { params, body: jsonBody(CheckoutCreate) },
      responses: { 200: json(Redirect, 'Send the customer to `url`'), ...NOT_CONFIGURED },
    }),
    async (c) =>
      c.json(
        await createCheckout({
          ctx: c.get('tenant'),
          env: c.env,
          input: c.req.valid('json') as { tier: (typeof PAID_TIERS)[number] },
        }),
        200,
      ),
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/orgs/{org}/billing/portal',
      tags,
      permission: 'billing:manage',
      summary: 'A Stripe customer portal session: change plan, card, or cancel (owners)',
      request: { params },
      responses: { 200: json(Redirect, 'Send the customer to `url`'), ...NOT_CONFIGURED },
    }),
    async (c) => c.json(await createPortal({ ctx: c.get('tenant'), env: c.env }), 200),
  );
}
