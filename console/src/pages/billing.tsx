// Billing and usage: the tier in effect, this month's usage against its limits, and Stripe's
// Checkout and customer portal. Without a Stripe key (local dev) both answer 503 and the page
// explains `npm run stripe:event`, which changes the tier as Stripe's webhook would.
import { useState } from 'preact/hooks';
import { api, may, unwrap, type Schemas } from '../api';
import { useAction, useLoad } from '../hooks';
import type { OrgProps } from '../main';
import { ErrorNote, formatBytes, formatDate, humanize, Page, Select, States, UsageBar } from '../ui';

type Tier = Schemas['CheckoutCreate']['tier'];
const LIMITS: [keyof Schemas['Usage']['limits'], string, (n: number) => string][] = [
  ['seats', 'Seats', String],
  ['api_calls', 'API calls this month', (n) => n.toLocaleString()],
  ['ai_tokens', 'AI tokens this month', (n) => n.toLocaleString()],
  ['storage', 'Storage', formatBytes],
];

export function Billing({ membership }: OrgProps) {
  const org = membership.organization.slug;
  const path = { params: { path: { org } } };
  const subscription = useLoad(() => api.GET('/v1/orgs/{org}/subscription', path).then(unwrap), [org]);
  const usage = useLoad(() => api.GET('/v1/orgs/{org}/usage', path).then(unwrap), [org]);
  const [tier, setTier] = useState<Tier>('pro');
  const [notConfigured, setNotConfigured] = useState(false);
  /** Stripe's hosted page for checkout or the portal: the browser goes there. */
  const redirect = useAction(async (to: 'checkout' | 'portal') => {
    const result =
      to === 'checkout'
        ? await api.POST('/v1/orgs/{org}/billing/checkout', { ...path, body: { tier } })
        : await api.POST('/v1/orgs/{org}/billing/portal', path);
    setNotConfigured(result.response.status === 503);
    location.assign(unwrap(result).url);
  });

  return (
    <Page title="Billing and usage">
      <States loaded={subscription}>
        {(sub) => (
          <div class="card">
            <p>
              <strong>{humanize(sub.effective_tier)}</strong> plan in effect
              {sub.effective_tier !== sub.tier && (
                <>
                  {' '}
                  (subscribed to {humanize(sub.tier)}, {humanize(sub.status)}: counted as free)
                </>
              )}
              {' · '}
              {humanize(sub.status)}
            </p>
            {sub.current_period_end && (
              <small>
                Current period ends {formatDate(sub.current_period_end)}
                {sub.cancel_at_period_end ? ', then it is cancelled' : ''}.
              </small>
            )}
          </div>
        )}
      </States>
      <h2>Usage {usage.data ? `in ${usage.data.billing_period.slice(0, 7)}` : ''}</h2>
      <States loaded={usage}>
        {(u) => (
          <div>
            {LIMITS.map(([key, label, format]) => (
              <UsageBar key={key} label={label} used={u.limits[key].used} limit={u.limits[key].limit} format={format} />
            ))}
          </div>
        )}
      </States>
      {may(membership.role, 'owner') ? (
        <div class="row">
          <Select
            label="Plan"
            value={tier}
            options={[
              ['basic', 'Basic'],
              ['pro', 'Pro'],
              ['enterprise', 'Enterprise'],
            ]}
            onChange={setTier}
          />
          <button type="button" class="primary" onClick={() => redirect.run('checkout')} disabled={redirect.pending}>
            Upgrade with Stripe Checkout
          </button>
          <button type="button" onClick={() => redirect.run('portal')} disabled={redirect.pending}>
            Manage billing
          </button>
        </div>
      ) : (
        <p class="hint">Only owners change the plan.</p>
      )}
      <ErrorNote error={redirect.error} />
      {notConfigured && (
        <div class="notice">
          <p>
            Stripe is not configured here (no <code>STRIPE_SECRET_KEY</code>). Locally, change the plan as Stripe's
            webhook would:
          </p>
          <pre class="snippet">
            npm run stripe:event -- --org {membership.organization.slug} --tier {tier}
          </pre>
          <p>It posts a subscription event signed with the dev webhook secret; reload this page to see the new tier.</p>
        </div>
      )}
    </Page>
  );
}
