// Clerk → Strive user sync. Verified with Svix (Standard Webhooks) against the raw body, recorded
// by event id in the same batch as its effect: a replay is a no-op that still answers 200.
import { z } from '@hono/zod-openapi';
import type { UserJSON } from '@clerk/backend';
import type { WebhookEvent } from '@clerk/backend/webhooks';
import { verifyWebhook } from '@clerk/backend/webhooks';
import { and, eq, sql } from 'drizzle-orm';
import { processed_events, users } from '../../db/catalog';
import { catalogDb, type CatalogDb } from '../../db/shards';
import { forgetAccess } from '../../auth/tenant';
import { uuidv7 } from '../../lib/ids';
import { defineRoute, json, type App } from '../../lib/openapi';
import { ApiError } from '../../lib/problem';

const Received = z.object({ received: z.literal(true), applied: z.boolean() }).openapi('WebhookReceived');

function primaryEmail(user: UserJSON): string | undefined {
  const primary = user.email_addresses.find((e) => e.id === user.primary_email_address_id) ?? user.email_addresses[0];
  return primary?.email_address.toLowerCase();
}

function fullName(user: UserJSON): string | null {
  return [user.first_name, user.last_name].filter(Boolean).join(' ') || null;
}

/** The statement that applies an event, or undefined for an event Strive does not act on. */
function effectOf(catalog: CatalogDb, event: WebhookEvent) {
  switch (event.type) {
    case 'user.created':
    case 'user.updated': {
      const email = primaryEmail(event.data);
      if (!email) return undefined;
      const profile = {
        email,
        first_name: event.data.first_name,
        last_name: event.data.last_name,
        name: fullName(event.data),
        avatar_url: event.data.image_url || null,
        updated_at: new Date().toISOString(),
      };
      // Known Clerk id → update; else an invited placeholder with this email → claim it; else insert.
      return catalog.run(sql`
        INSERT INTO ${users} (id, clerk_user_id, email, first_name, last_name, name, avatar_url, updated_at)
        VALUES (${uuidv7()}, ${event.data.id}, ${email}, ${profile.first_name}, ${profile.last_name}, ${profile.name}, ${profile.avatar_url}, ${profile.updated_at})
        ON CONFLICT (clerk_user_id) DO UPDATE SET email = excluded.email, first_name = excluded.first_name,
          last_name = excluded.last_name, name = excluded.name, avatar_url = excluded.avatar_url, updated_at = excluded.updated_at
        ON CONFLICT (email) DO UPDATE SET clerk_user_id = excluded.clerk_user_id, first_name = excluded.first_name,
          last_name = excluded.last_name, name = excluded.name, avatar_url = excluded.avatar_url, updated_at = excluded.updated_at
          WHERE ${users.clerk_user_id} IS NULL`);
    }
    case 'user.deleted':
      // Deactivate, never delete: the user's history (activity, authorship) stays meaningful.
      return event.data.id
        ? catalog.update(users).set({ is_active: false, updated_at: new Date().toISOString() }).where(eq(users.clerk_user_id, event.data.id))
        : undefined;
    default:
      return undefined;
  }
}

export function registerClerkWebhook(app: App) {
  app.openapi(
    defineRoute({
      method: 'post', path: '/v1/webhooks/clerk', tags: ['Webhooks'], public: true,
      summary: 'Clerk user events (Svix-signed): user.created, user.updated, user.deleted',
      responses: { 200: json(Received, 'Received; `applied` is false for replays and events Strive ignores') },
    }),
    async (c) => {
      const secret = c.env.CLERK_WEBHOOK_SECRET;
      if (!secret) throw new ApiError('not_configured', 'CLERK_WEBHOOK_SECRET is not set.');
      let event: WebhookEvent;
      try {
        event = await verifyWebhook(c.req.raw, { signingSecret: secret });
      } catch {
        throw new ApiError('unauthenticated', 'The webhook signature does not verify (missing, tampered or stale).');
      }
      const eventId = c.req.header('svix-id')!;
      const catalog = catalogDb(c.env, c.get('roundTrips'));
      const effect = effectOf(catalog, event);
      if (!effect) return c.json({ received: true as const, applied: false }, 200);

      const seen = and(eq(processed_events.source, 'clerk'), eq(processed_events.event_id, eventId));
      if (await catalog.select().from(processed_events).where(seen).get()) {
        return c.json({ received: true as const, applied: false }, 200);
      }
      try {
        // The plain INSERT fails on a concurrent duplicate, rolling its effect back with it.
        await catalog.batch([catalog.insert(processed_events).values({ source: 'clerk', event_id: eventId, type: event.type }), effect]);
      } catch (error) {
        if (await catalog.select().from(processed_events).where(seen).get()) {
          return c.json({ received: true as const, applied: false }, 200);
        }
        throw error;
      }
      if (event.type === 'user.deleted' && event.data.id) {
        const row = await catalog.select({ id: users.id }).from(users).where(eq(users.clerk_user_id, event.data.id)).get();
        if (row) forgetAccess({ userId: row.id });
      }
      return c.json({ received: true as const, applied: true }, 200);
    },
  );
}
