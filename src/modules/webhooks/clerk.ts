// Clerk → Strive user sync. Verified with Svix (Standard Webhooks) against the raw body, recorded
// by event id in the same batch as its effect: a replay is a no-op that still answers 200.
import type { UserJSON } from '@clerk/backend';
import type { WebhookEvent } from '@clerk/backend/webhooks';
import { verifyWebhook } from '@clerk/backend/webhooks';
import { and, eq, sql, type SQL } from 'drizzle-orm';
import { processed_events, users } from '../../db/catalog';
import { isUniqueViolation } from '../../db/errors';
import { catalogDb, latest, type CatalogDb } from '../../db/shards';
import { insertWhere } from '../../db/tenant-store';
import { forgetAccess } from '../../auth/access-cache';
import { webUrlOrNull } from '../../lib/fields';
import { uuidv7 } from '../../lib/ids';
import { defineRoute, json, type App } from '../../lib/openapi';
import { received, WebhookReceived } from './received';
import { ApiError } from '../../lib/problem';

/**
 * The user's primary email, only once Clerk has verified it. A secondary or unverified address
 * proves nothing about who holds it, and the email is what claims an invitation (and what later
 * invitations find): an outsider could otherwise add someone's address and take their place.
 */
function verifiedPrimaryEmail(user: UserJSON): string | undefined {
  const primary = user.email_addresses.find((e) => e.id === user.primary_email_address_id);
  return primary?.verification?.status === 'verified' ? primary.email_address.toLowerCase() : undefined;
}

function fullName(user: UserJSON): string | null {
  return [user.first_name, user.last_name].filter(Boolean).join(' ') || null;
}

/**
 * The statement that applies an event unless `fresh` fails (the event is recorded already), with
 * the ids of the users it changed; undefined for an event Strive does not act on.
 */
function effectOf(catalog: CatalogDb, event: WebhookEvent, fresh: SQL) {
  switch (event.type) {
    case 'user.created':
    case 'user.updated': {
      // Without a verified primary email the event changes nothing; the user.updated that
      // follows its verification applies.
      const email = verifiedPrimaryEmail(event.data);
      if (!email) return undefined;
      const profile = {
        email,
        first_name: event.data.first_name,
        last_name: event.data.last_name,
        name: fullName(event.data),
        avatar_url: webUrlOrNull(event.data.image_url),
        clerk_updated_at: event.data.updated_at,
        updated_at: new Date().toISOString(),
      };
      // Known Clerk id → update; else an invited placeholder with this email → claim it; else insert.
      // Built with the query builder, not a raw `sql` statement: drizzle's D1 batch() cannot bind
      // the parameters of a raw statement (it has no prepared `stmt`), so every event failed.
      return insertWhere(catalog, users, { id: uuidv7(), clerk_user_id: event.data.id, ...profile }, fresh)
        .onConflictDoUpdate({
          target: users.clerk_user_id,
          set: profile,
          // Svix may deliver out of order: an update older than what we hold changes nothing. Nor
          // does one moving to an email another row holds: merging two users is for a person.
          setWhere: sql`(${users.clerk_updated_at} IS NULL OR ${users.clerk_updated_at} <= excluded.clerk_updated_at)
            AND NOT EXISTS (SELECT 1 FROM ${users} AS other WHERE other.email = excluded.email AND other.id <> ${users}.id)
            AND ${fresh}`,
        })
        .onConflictDoUpdate({
          target: users.email,
          set: { ...profile, clerk_user_id: event.data.id },
          // Only a placeholder may be claimed: an email already tied to another Clerk user is not.
          setWhere: sql`${users.clerk_user_id} IS NULL AND ${fresh}`,
        })
        .returning({ id: users.id });
    }
    case 'user.deleted':
      // Deactivate, never delete: the user's history (activity, authorship) stays meaningful.
      return event.data.id
        ? catalog
            .update(users)
            .set({ is_active: false, updated_at: new Date().toISOString() })
            .where(and(eq(users.clerk_user_id, event.data.id), fresh))
            .returning({ id: users.id })
        : undefined;
    default:
      return undefined;
  }
}

export function registerClerkWebhook(app: App) {
  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/webhooks/clerk',
      tags: ['Webhooks'],
      public: true,
      summary: 'Clerk user events (Svix-signed): user.created, user.updated, user.deleted',
      responses: { 200: json(WebhookReceived, 'Received; `applied` is false for replays and events Strive ignores') },
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
      // Replays and Clerk's own order are decided by what the primary holds.
      const catalog = latest(catalogDb(c.env, c.get('d1')));
      const seen = and(eq(processed_events.source, 'clerk'), eq(processed_events.event_id, eventId));
      const effect = effectOf(catalog, event, sql`NOT EXISTS (SELECT 1 FROM ${processed_events} WHERE ${seen})`);
      if (!effect) return received(c, false);
      const record = catalog
        .insert(processed_events)
        .values({ source: 'clerk', event_id: eventId, type: event.type })
        .onConflictDoNothing();
      let changed: { id: string }[];
      try {
        // One batch: the effect unless the event is recorded (a replay, a concurrent duplicate), and its record.
        [changed] = await catalog.batch([effect, record]);
      } catch (error) {
        if (!isUniqueViolation(error, 'email')) throw error;
        // The new primary email belongs to another row in a way the effect's own guard did not
        // foresee. Merging two users is a decision for a person, not a webhook: record the event
        // so Svix stops retrying, keep the user as they were, and say so in the logs.
        console.warn(
          `clerk event ${eventId}: ${event.type} for ${event.data.id} not applied, its email belongs to another user`,
        );
        await record.run();
        return received(c, false);
      }
      if (changed.length === 0) return received(c, false); // a replay, an older update, or an email held by another user
      if (event.type === 'user.deleted') await forgetAccess(c.get('d1'), { userId: changed[0]!.id });
      return received(c, true);
    },
  );
}
