// Stripe → Strive subscription state. Verified against the raw body (Web Crypto), recorded by
// event id in the same catalog batch as its effect, applied only where its rule allows (no newer
// event applied, the organization's current subscription, an allowed status transition:
// `EventRule` in billing/service.ts), audited with a webhook actor.
// Events Strive does not act on answer 200, and so does a replay.
import { and, eq } from 'drizzle-orm';
import type Stripe from 'stripe';
import { organizations, processed_events, shards, subscriptions } from '../../db/catalog';
import { organizationShard } from '../../db/places';
import { catalogDb, latest, type CatalogDb } from '../../db/shards';
import { forgetAccess } from '../../auth/access-cache';
import { requestScope, tenantContext } from '../../auth/tenant';
import { defineRoute, json, type App } from '../../lib/openapi';
import { received, WebhookReceived } from './received';
import { handOff } from '../../realtime/beside';
import { ApiError } from '../../lib/problem';
import { auditedCatalogChange, changes } from '../activity/audit';
import {
  applies,
  eventTimeEffect,
  subscriptionEffect,
  subscriptionPatch,
  type EventRule,
  type SubscriptionPatch,
} from '../billing/service';
import { loadStripe, stripeId } from '../billing/stripe';
import { effectiveTier } from '../../db/enums';

/** Verification needs no API key: a client that can only verify, made on the first event. */
let verification: Promise<{ verifier: Stripe; cryptoProvider: Stripe.CryptoProvider }> | undefined;
const verifying = () =>
  (verification ??= loadStripe().then((Stripe) => ({
    verifier: new Stripe('sk_unused', { httpClient: Stripe.createFetchHttpClient() }),
    cryptoProvider: Stripe.createSubtleCryptoProvider(),
  })));

type Change = { organizationId: string | null; patch: SubscriptionPatch; rule: EventRule };

const metadataOrg = (metadata: Stripe.Metadata | null | undefined) => metadata?.organization_id ?? null;

/**
 * What each invoice event does to the status, and from which: a failed payment makes a paying
 * subscription past_due; a paid invoice brings a past_due or unpaid one back to active (a trialing
 * one stays trialing). Neither touches any other status, so neither revives a cancelled, expired or
 * incomplete subscription nor undoes an unpaid one by a late failure.
 */
const INVOICE_TRANSITIONS = {
  'invoice.payment_failed': { from: ['active', 'trialing'], to: 'past_due' },
  'invoice.paid': { from: ['past_due', 'unpaid'], to: 'active' },
} as const;

/** Which organization an event is about and what it changes; undefined for events Strive ignores. */
function changeOf(event: Stripe.Event): Change | undefined {
  switch (event.type) {
    case 'customer.subscription.created':
    case 'customer.subscription.updated':
    case 'customer.subscription.deleted': {
      const subscription = event.data.object;
      const patch = subscriptionPatch(subscription, event.type === 'customer.subscription.deleted');
      if (!patch) return undefined;
      return {
        organizationId: metadataOrg(subscription.metadata),
        patch,
        rule: { kind: 'subscription', subscriptionId: subscription.id, created: event.created, status: patch.status! },
      };
    }
    case 'checkout.session.completed': {
      const session = event.data.object;
      const subscriptionId = stripeId(session.subscription);
      if (session.mode !== 'subscription' || !subscriptionId) return undefined;
      return {
        organizationId: metadataOrg(session.metadata) ?? session.client_reference_id,
        // The tier and status come with customer.subscription.created; this links the ids early.
        patch: { stripe_subscription_id: subscriptionId, stripe_customer_id: stripeId(session.customer) },
        rule: { kind: 'checkout', subscriptionId },
      };
    }
    case 'invoice.paid':
    case 'invoice.payment_failed': {
      const details = event.data.object.parent?.subscription_details;
      if (!details) return undefined;
      const { from, to } = INVOICE_TRANSITIONS[event.type];
      return {
        organizationId: metadataOrg(details.metadata),
        patch: { status: to },
        rule: { kind: 'invoice', subscriptionId: stripeId(details.subscription)!, created: event.created, from },
      };
    }
    default:
      return undefined;
  }
}

class StaleEvent extends Error {}

/** The event's row in processed_events: in the batch of its effect, or alone when it has none. */
const recorded = (catalog: CatalogDb, event: Stripe.Event) =>
  catalog.insert(processed_events).values({ source: 'stripe', event_id: event.id, type: event.type });

async function record(catalog: CatalogDb, event: Stripe.Event) {
  await recorded(catalog, event).onConflictDoNothing().run();
}

export function registerStripeWebhook(app: App) {
  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/webhooks/stripe',
      tags: ['Webhooks'],
      public: true,
      summary:
        'Stripe events (signed): checkout.session.completed, customer.subscription.*, invoice.paid, invoice.payment_failed',
      responses: {
        200: json(WebhookReceived, 'Received; `applied` is false for replays, older events and events Strive ignores'),
      },
    }),
    async (c) => {
      const secret = c.env.STRIPE_WEBHOOK_SECRET;
      if (!secret) throw new ApiError('not_configured', 'STRIPE_WEBHOOK_SECRET is not set.');
      const { verifier, cryptoProvider } = await verifying();
      let event: Stripe.Event;
      try {
        event = await verifier.webhooks.constructEventAsync(
          await c.req.text(),
          c.req.header('stripe-signature') ?? '',
          secret,
          undefined,
          cryptoProvider,
        );
      } catch {
        throw new ApiError('unauthenticated', 'The webhook signature does not verify (missing, tampered or stale).');
      }
      const change = changeOf(event);
      if (!change) return received(c, false);
      // No organization named: recorded so Stripe stops retrying (a replay records nothing new).
      if (!change.organizationId) {
        console.warn(`stripe event ${event.id} (${event.type}): no organization to apply it to`);
        await record(catalogDb(c.env, c.get('d1')), event);
        return received(c, false);
      }
      // Applied by the organization's writer, beside its data (realtime/beside.ts): where it is
      // placed comes from a replica; one that does not know the organization leaves it unplaced.
      if (!c.get('beside')) {
        const place = await catalogDb(c.env, c.get('d1'))
          .select({ data_region: shards.region })
          .from(organizations)
          .leftJoin(shards, organizationShard)
          .where(eq(organizations.id, change.organizationId))
          .get();
        // The writer answers as this route does (it runs it).
        return handOff(c, place ?? { data_region: null }, change.organizationId) as Promise<never>;
      }

      // Replays and the events' order are decided by what the primary holds.
      const catalog = latest(catalogDb(c.env, c.get('d1')));
      const seen = and(eq(processed_events.source, 'stripe'), eq(processed_events.event_id, event.id));
      if (await catalog.select().from(processed_events).where(seen).get()) return received(c, false);

      const organization = await catalog
        .select({
          id: organizations.id,
          slug: organizations.slug,
          name: organizations.name,
          shard: organizations.shard,
          data_region: shards.region,
          subscription: subscriptions,
        })
        .from(organizations)
        .leftJoin(shards, organizationShard)
        .leftJoin(subscriptions, eq(subscriptions.organization_id, organizations.id))
        .where(eq(organizations.id, change.organizationId))
        .get();
      const before = organization?.subscription;
      const takes = organization !== undefined && applies(change.rule, before);
      const diff = takes ? changes({ ...before } as SubscriptionPatch, change.patch) : null;
      if (takes && !diff && change.rule.kind === 'subscription') {
        // Nothing to change, but this is now the newest event applied: an older one must not
        // undo it later (e.g. active at T2 arriving before past_due at T1). Not audited: no change.
        await catalog.batch([
          recorded(catalog, event).onConflictDoNothing(),
          eventTimeEffect(catalog, organization.id, change.rule),
        ]);
        return received(c, false);
      }
      if (!organization || !diff) {
        // No organization (deleted, or a subscription made outside Strive), an older event, one
        // its rule refuses, or no change: recorded so Stripe stops retrying, and nothing else.
        if (!organization) console.warn(`stripe event ${event.id} (${event.type}): no organization to apply it to`);
        else if (
          !takes &&
          before?.stripe_subscription_id &&
          change.rule.subscriptionId !== before.stripe_subscription_id
        ) {
          // Another subscription than the row's: if both are live, the customer is billed twice.
          console.warn(
            `stripe event ${event.id} (${event.type}) for ${change.rule.subscriptionId}: organization ` +
              `${organization.id} has ${before.stripe_subscription_id} (${before.status}), not applied`,
          );
        }
        await record(catalog, event);
        return received(c, false);
      }

      const ctx = tenantContext(requestScope(c), {
        organization: {
          id: organization.id,
          slug: organization.slug,
          name: organization.name,
          shard: organization.shard,
          data_region: organization.data_region,
          tier: before ? effectiveTier(before.tier, before.status) : 'free',
        },
        actor: { type: 'webhook', source: 'stripe' },
        role: null,
        permissions: new Set(),
        clientEmail: null,
      });
      try {
        await auditedCatalogChange(
          ctx,
          {
            action: 'subscription.update',
            resource_type: 'subscription',
            resource_id: organization.id,
            old: diff.old,
            new: { ...diff.new, stripe_event: event.id },
          },
          async () => {
            const [upserted] = await catalog
              .batch([
                recorded(catalog, event),
                ...subscriptionEffect(catalog, organization.id, change.patch, change.rule),
              ])
              .then(([, ...effects]) => effects);
            // A newer event applied between our read and this batch: the event is recorded, its
            // effect was not, and the audit row is withdrawn.
            if (upserted.length === 0) throw new StaleEvent();
          },
        );
      } catch (error) {
        if (error instanceof StaleEvent) return received(c, false);
        // A concurrent delivery of the same event recorded it first (primary key): its effect stands.
        if (await catalog.select().from(processed_events).where(seen).get()) return received(c, false);
        throw error;
      }
      // The new tier applies at once in this isolate (others within the access cache's 30 s).
      await forgetAccess(ctx.d1, { organizationId: organization.id });
      return received(c, true);
    },
  );
}
