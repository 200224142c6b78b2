// Billing's shapes: the subscription, a Stripe redirect and a checkout's tier.
import { z } from '@hono/zod-openapi';
import { SUBSCRIPTION_STATUSES, TIERS } from '../../db/enums';
import { PAID_TIERS, type PaidTier } from './service';

export const Subscription = z
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

export const Redirect = z.object({ url: z.string().url() }).openapi('BillingRedirect');

export const CheckoutCreate = z
  .object({ tier: z.enum(PAID_TIERS as [PaidTier, ...PaidTier[]]) })
  .strict()
  .openapi('CheckoutCreate');

export type CheckoutCreate = z.output<typeof CheckoutCreate>;
