// `npm run stripe:event -- --org acme --tier pro [--status active] [--type customer.subscription.updated] [--url http://127.0.0.1:8787]`
// Posts a Stripe-shaped subscription event, signed with STRIPE_WEBHOOK_SECRET from .dev.vars
// exactly as Stripe signs (`t=…,v1=HMAC-SHA256(secret, "t.payload")`), to the dev Worker's
// /v1/webhooks/stripe: the way to upgrade (or cancel) an organization without a Stripe account.
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEV_VARS_PATH } from './dev-identity.mjs';
import { parseDotenv } from './dev-setup.mjs';
import { wrangler } from './migrate.mjs';
import { IDS } from './seed.mjs';

const { values } = parseArgs({
  options: {
    org: { type: 'string' },
    tier: { type: 'string', default: 'pro' },
    status: { type: 'string', default: 'active' },
    type: { type: 'string', default: 'customer.subscription.updated' },
    url: { type: 'string', default: 'http://127.0.0.1:8787' },
  },
});
if (!values.org) {
  console.error(
    'usage: npm run stripe:event -- --org <slug or organization id> [--tier basic|pro|enterprise] [--status ' +
      "active|past_due|canceled|…] [--type …] (Stripe's statuses: Strive stores canceled as cancelled)",
  );
  process.exit(2);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A seeded slug, an id, or any other slug looked up in the local catalog (what `npm run dev` serves). */
function organizationIdOf(ref) {
  if (IDS.organizations[ref]) return IDS.organizations[ref];
  if (UUID.test(ref)) return ref;
  // Slugs are [a-z0-9-]: checked before the value goes into the SQL text.
  if (!/^[a-z0-9-]{1,64}$/.test(ref)) throw new Error(`'${ref}' is neither an organization id nor a slug.`);
  const output = wrangler(
    [
      'd1',
      'execute',
      'CATALOG',
      '--local',
      '--json',
      '--command',
      `SELECT id FROM organizations WHERE slug = '${ref}'`,
    ],
    { capture: true },
  );
  const id = JSON.parse(output).at(-1)?.results?.[0]?.id;
  if (!id) throw new Error(`No organization has the slug '${ref}' in the local catalog.`);
  return id;
}

let organizationId;
try {
  organizationId = organizationIdOf(values.org);
} catch (error) {
  console.error(error.message);
  process.exit(2);
}
const secret = parseDotenv(readFileSync(DEV_VARS_PATH, 'utf8')).STRIPE_WEBHOOK_SECRET;
if (!secret) throw new Error('.dev.vars has no STRIPE_WEBHOOK_SECRET: run `npm run setup`.');

const now = Math.floor(Date.now() / 1000);
const id = (prefix) => `${prefix}_dev${randomBytes(8).toString('hex')}`;
// One subscription per organization, so repeated events update the same one.
const subscriptionId = `sub_dev_${organizationId.replaceAll('-', '').slice(-16)}`;
const subscription = {
  id: subscriptionId,
  object: 'subscription',
  customer: `cus_dev_${organizationId.replaceAll('-', '').slice(-16)}`,
  // Stripe spells it `canceled`; Strive's `cancelled` is accepted here too and sent as Stripe would.
  status: values.type === 'customer.subscription.deleted' || values.status === 'cancelled' ? 'canceled' : values.status,
  cancel_at_period_end: false,
  canceled_at: values.type === 'customer.subscription.deleted' ? now : null,
  trial_end: null,
  created: now,
  metadata: { organization_id: organizationId },
  items: {
    object: 'list',
    has_more: false,
    url: `/v1/subscription_items?subscription=${subscriptionId}`,
    data: [
      {
        id: id('si'),
        object: 'subscription_item',
        current_period_start: now,
        current_period_end: now + 30 * 86_400,
        quantity: 1,
        price: {
          id: `price_dev_${values.tier}`,
          object: 'price',
          lookup_key: values.tier,
          active: true,
          currency: 'usd',
          type: 'recurring',
        },
      },
    ],
  },
};
const event = {
  id: id('evt'),
  object: 'event',
  api_version: '2026-10-28.endive',
  created: now,
  livemode: false,
  pending_webhooks: 1,
  request: { id: null, idempotency_key: null },
  type: values.type,
  data: { object: subscription },
};
const payload = JSON.stringify(event);
const signature = createHmac('sha256', secret).update(`${now}.${payload}`).digest('hex');
const response = await fetch(`${values.url}/v1/webhooks/stripe`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', 'stripe-signature': `t=${now},v1=${signature}` },
  body: payload,
});
const answer = await response.text();
console.log(
  `${values.type} (${values.tier}, ${subscription.status}) for ${organizationId}: ${response.status} ${answer}`,
);
if (!response.ok) process.exitCode = 1;
else if (JSON.parse(answer).applied === false) {
  // Nothing changed: say why rather than exit as if it had worked.
  console.error(
    'Not applied: the subscription is already in this state, the organization no longer exists, or an event of ' +
      'this same second ranked higher.',
  );
  process.exitCode = 1;
}
