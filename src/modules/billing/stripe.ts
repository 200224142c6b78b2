// The one Stripe client of the Worker: fetch-based (workerd has no Node http), made once per
// isolate and key. Without STRIPE_SECRET_KEY there is none, and billing answers 503 while the
// rest of Strive works.
import Stripe from 'stripe';
import type { Bindings } from '../../env';
import { ApiError } from '../../lib/problem';

let client: { key: string; stripe: Stripe } | undefined;

export function stripeClient(env: Pick<Bindings, 'STRIPE_SECRET_KEY'>): Stripe | null {
  const key = env.STRIPE_SECRET_KEY;
  if (!key) return null;
  if (client?.key !== key)
    client = { key, stripe: new Stripe(key, { httpClient: Stripe.createFetchHttpClient(), maxNetworkRetries: 1 }) };
  return client.stripe;
}

/** The id of a Stripe reference, which the API sends as an id or as the expanded object. */
export const stripeId = (ref: string | { id: string } | null) => (typeof ref === 'string' ? ref : (ref?.id ?? null));

export function requireStripe(env: Pick<Bindings, 'STRIPE_SECRET_KEY'>): Stripe {
  const stripe = stripeClient(env);
  if (!stripe)
    throw new ApiError('not_configured', 'Billing is not configured on this deployment: STRIPE_SECRET_KEY is not set.');
  return stripe;
}
