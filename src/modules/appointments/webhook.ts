// The organization's appointment webhook: one HTTPS URL per organization, and a secret shown
// once, with which every delivery is signed (HMAC-SHA256, Stripe-style `t=…,v1=…`).
import { eq, sql } from 'drizzle-orm';
import { appointment_webhooks } from '../../db/tenant';
import type { TenantContext } from '../../env';
import { actingUserId, requirePermission } from '../../auth/tenant';
import { base64UrlEncode } from '../../lib/crypto';
import { notFound } from '../../lib/problem';
import { auditFromRow, auditRow } from '../activity/audit';
import type { WebhookPut } from './schemas';

export const SIGNATURE_HEADER = 'strive-signature';
export const EVENT_ID_HEADER = 'strive-event-id';

const described = (action: 'update' | 'delete') => ({
  action: `appointment_webhook.${action}` as const,
  resource_type: 'appointment_webhook',
});
const visible = {
  url: appointment_webhooks.url,
  created_at: appointment_webhooks.created_at,
  updated_at: appointment_webhooks.updated_at,
};

export async function getWebhook({ ctx }: { ctx: TenantContext }) {
  requirePermission(ctx, 'organization:update');
  const row = await ctx.store.selectFields(appointment_webhooks, visible).get();
  if (!row) throw notFound('webhook');
  return row;
}

/** Sets the URL and a new secret (returned here only): the receiver must switch to it. */
export async function putWebhook({ ctx, input }: { ctx: TenantContext; input: WebhookPut }) {
  requirePermission(ctx, 'organization:update');
  const secret = `whsec_${base64UrlEncode(crypto.getRandomValues(new Uint8Array(32)))}`;
  const now = new Date().toISOString();
  const [rows] = await ctx.store.batch([
    ctx.store
      .insert(appointment_webhooks, {
        id: ctx.organization.id,
        url: input.url,
        secret,
        created_by: actingUserId(ctx.actor),
        created_at: now,
        updated_at: now,
      })
      .onConflictDoUpdate({ target: appointment_webhooks.id, set: { url: input.url, secret, updated_at: now } })
      .returning(visible),
    // The secret never reaches the log (audit rows drop `secret` fields; it is not even passed).
    auditRow(ctx, {
      ...described('update'),
      resource_id: ctx.organization.id,
      new: { url: input.url, secret_rotated: true },
    }),
  ]);
  return { ...rows[0]!, secret };
}

export async function deleteWebhook({ ctx }: { ctx: TenantContext }) {
  requirePermission(ctx, 'organization:update');
  const [, deleted] = await ctx.store.batch([
    auditFromRow(ctx, appointment_webhooks, described('delete'), ['url'], null, sql`1`),
    ctx.store
      .delete(appointment_webhooks, eq(appointment_webhooks.id, ctx.organization.id))
      .returning({ id: appointment_webhooks.id }),
  ]);
  if (deleted.length === 0) throw notFound('webhook');
}

const encoder = new TextEncoder();

/**
 * `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the whole secret string>`.
 * The receiver recomputes it, compares in constant time and refuses old timestamps (replays).
 */
export async function signWebhook(secret: string, body: string, timestamp: number): Promise<string> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
  const mac = await crypto.subtle.sign('HMAC', key, encoder.encode(`${timestamp}.${body}`));
  const hex = [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `t=${timestamp},v1=${hex}`;
}
