import { z } from '@hono/zod-openapi';
import { defineRoute, json, jsonBody, OrgParam, type TenantApp } from '../../lib/openapi';
import { createCheckout, createPortal, getSubscription, PAID_TIERS } from './service';
import { CheckoutCreate, Redirect, Subscription } from './schemas';

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
      beside: true,
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
