// The one Stripe client of the Worker: fetch-based (workerd has no Node http), made once per
// isolate and key. Without STRIPE_SECRET_KEY there is none, and billing answers 503 while the
// rest of Strive works. The SDK is imported on first use: evaluating it at start-up would cost
// every cold isolate, most of which never call Stripe (docs/operations/benchmarks.md, `npm run size`).
import type Stripe from 'stripe';
import type { Bindings } from '../../env';
import { ApiError } from '../../lib/problem';

let client: { key: string; stripe: Stripe } | undefined;

/** The SDK's constructor, evaluated on the first call only. */
export const loadStripe = () => import('stripe').then((sdk) => sdk.default);

export async function stripeClient(env: Pick<Bindings, 'STRIPE_SECRET_KEY'>): Promise<Stripe | null> {
  const key = env.STRIPE_SECRET_KEY;
  if (!key) return null;
  if (client?.key !== key) {
    const Stripe = await loadStripe();
    client = { key, stripe: new Stripe(key, { httpClient: Stripe.createFetchHttpClient(), maxNetworkRetries: 1 }) };
  }
  return client.stripe;
}

/** The id of a Stripe reference, which the API sends as an id or as the expanded object. */
export const stripeId = (ref: string | { id: string } | null) => (typeof ref === 'string' ? ref : (ref?.id ?? null));

export async function requireStripe(env: Pick<Bindings, 'STRIPE_SECRET_KEY'>): Promise<Stripe> {
  const stripe = await stripeClient(env);
  if (!stripe)
    throw new ApiError('not_configured', 'Billing is not configured on this deployment: STRIPE_SECRET_KEY is not set.');
  return stripe;
}
