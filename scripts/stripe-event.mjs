// `npm run stripe:event -- --org acme --tier pro [--status active] [--type customer.subscription.updated] [--url http://127.0.0.1:8787]`
// Posts a Stripe-shaped subscription event, signed with STRIPE_WEBHOOK_SECRET from .dev.vars
// exactly as Stripe signs (`t=…,v1=HMAC-SHA256(secret, "t.payload")`), to the dev Worker's
// /v1/webhooks/stripe: the way to upgrade (or cancel) an organization without a Stripe account.
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEV_VARS_PATH } from './dev-identity.mjs';
import { parseDotenv } from './dev-setup.mjs';
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
  console.error('usage: npm run stripe:event -- --org <seeded slug or organization id> [--tier basic|pro|enterprise] [--status active|past_due|canceled|…] [--type …]');
  process.exit(2);
}
const organizationId = IDS.organizations[values.org] ?? values.org;
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
  status: values.type === 'customer.subscription.deleted' ? 'canceled' : values.status,
  cancel_at_period_end: false,
  canceled_at: values.type === 'customer.subscription.deleted' ? now : null,
  trial_end: null,
  created: now,
  metadata: { organization_id: organizationId },
  items: {
    object: 'list',
    has_more: false,
    url: `/v1/subscription_items?subscription=${subscriptionId}`,
    data: [{
      id: id('si'),
      object: 'subscription_item',
      current_period_start: now,
      current_period_end: now + 30 * 86_400,
      quantity: 1,
      price: { id: `price_dev_${values.tier}`, object: 'price', lookup_key: values.tier, active: true, currency: 'usd', type: 'recurring' },
    }],
  },
};
const event = {
  id: id('evt'), object: 'event', api_version: '2026-10-28.endive', created: now, livemode: false,
  pending_webhooks: 1, request: { id: null, idempotency_key: null }, type: values.type, data: { object: subscription },
};
const payload = JSON.stringify(event);
const signature = createHmac('sha256', secret).update(`${now}.${payload}`).digest('hex');
const response = await fetch(`${values.url}/v1/webhooks/stripe`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', 'stripe-signature': `t=${now},v1=${signature}` },
  body: payload,
});
console.log(`${values.type} (${values.tier}, ${subscription.status}) for ${organizationId}: ${response.status} ${await response.text()}`);
if (!response.ok) process.exitCode = 1;
