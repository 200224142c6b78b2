// Webhook endpoints: where an organization's events go. The signing secret is shown at creation
// and on rotation only; after a rotation the previous secret signs too for 24 h, so a receiver
// can switch without losing a delivery. Audit rows never hold a secret.
import { and, eq, gte, sql } from 'drizzle-orm';
import { webhook_deliveries, webhook_endpoints, webhook_events } from '../../db/tenant';
import type { TenantContext } from '../../env';
import { actingUserId, requirePermission } from '../../auth/tenant';
import { base64Encode } from '../../lib/crypto';
import { OutboundUrl } from '../../lib/fields';
import { uuidv7, uuidv7PerRowSql } from '../../lib/ids';
import { newestFirst, newestFirstQuery, toPage } from '../../lib/pagination';
import { conflict, invalid, notFound } from '../../lib/problem';
import { auditedInsert, auditFromRow, auditedUpdate } from '../activity/audit';
import { devReceiverUrl, enqueueDeliveries, type WebhookMessage } from './delivery';
import type { DeliveryListInput, WebhookEndpointCreateInput, WebhookEndpointPatchInput } from './schemas';

const ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000;
const REPLAY_MAX = 1000;

/** What a delivery service needs beyond the tenant: the queue, and the local receiver dev may use. */
export type Delivery = { queue: Queue<WebhookMessage>; devReceiver?: string };

const described = (action: 'create' | 'update' | 'delete' | 'rotate') => ({
  action: `webhook_endpoint.${action}` as const,
  resource_type: 'webhook_endpoint',
});

const visible = {
  id: webhook_endpoints.id,
  url: webhook_endpoints.url,
  description: webhook_endpoints.description,
  event_types: webhook_endpoints.event_types,
  status: webhook_endpoints.status,
  paused_reason: webhook_endpoints.paused_reason,
  failing_since: webhook_endpoints.failing_since,
  previous_secret_expires_at: webhook_endpoints.previous_secret_expires_at,
  created_by: webhook_endpoints.created_by,
  created_at: webhook_endpoints.created_at,
  updated_at: webhook_endpoints.updated_at,
};
type Endpoint = typeof webhook_endpoints.$inferSelect;
const present = ({ secret: _s, previous_secret: _p, organization_id: _o, ...endpoint }: Endpoint) => endpoint;

const newSecret = () => `whsec_${base64Encode(crypto.getRandomValues(new Uint8Array(32)))}`;

/**
 * An https URL on a public name (400 naming `url` otherwise), or, on a dev machine, the local
 * receiver `npm run webhooks:listen` runs (see devReceiverUrl).
 */
function acceptedUrl(url: string, devReceiver: string | undefined): string {
  if (devReceiverUrl(url, devReceiver)) return url;
  const parsed = OutboundUrl.safeParse(url);
  if (!parsed.success) throw invalid('url', parsed.error.issues[0]!.message);
  return parsed.data;
}

export async function listEndpoints({ ctx, input }: { ctx: TenantContext; input: { limit: number; cursor?: string } }) {
  requirePermission(ctx, 'webhooks:manage');
  return newestFirst(webhook_endpoints.id, input, (after) => ctx.store.selectFields(webhook_endpoints, visible, after));
}

export async function getEndpoint({ ctx, id }: { ctx: TenantContext; id: string }) {
  requirePermission(ctx, 'webhooks:manage');
  const row = await ctx.store.selectFields(webhook_endpoints, visible, eq(webhook_endpoints.id, id)).get();
  if (!row) throw notFound('webhook');
  return row;
}

export async function createEndpoint({
  ctx,
  input,
  delivery,
}: {
  ctx: TenantContext;
  input: WebhookEndpointCreateInput;
  delivery: Delivery;
}) {
  requirePermission(ctx, 'webhooks:manage');
  const secret = newSecret();
  const now = new Date().toISOString();
  const row = await auditedInsert(
    ctx,
    webhook_endpoints,
    {
      id: uuidv7(),
      url: acceptedUrl(input.url, delivery.devReceiver),
      description: input.description ?? null,
      event_types: input.event_types ?? null,
      status: 'active',
      secret,
      created_by: actingUserId(ctx.actor),
      created_at: now,
      updated_at: now,
    },
    described('create'),
  );
  return { ...present(row), secret };
}

export async function updateEndpoint({
  ctx,
  id,
  input,
  delivery,
}: {
  ctx: TenantContext;
  id: string;
  input: WebhookEndpointPatchInput;
  delivery: Delivery;
}) {
  requirePermission(ctx, 'webhooks:manage');
  const patch = {
    ...input,
    ...(input.url !== undefined ? { url: acceptedUrl(input.url, delivery.devReceiver) } : {}),
    // Resumed: what paused it is history, and its failures start over.
    ...(input.status === 'active' ? { paused_reason: null, failing_since: null } : {}),
  };
  const { row } = await auditedUpdate(ctx, webhook_endpoints, id, patch, described('update'));
  return present(row);
}

export async function deleteEndpoint({ ctx, id }: { ctx: TenantContext; id: string }) {
  requirePermission(ctx, 'webhooks:manage');
  const idIs = eq(webhook_endpoints.id, id);
  // Its deliveries go with it (ON DELETE CASCADE): queued ones find nothing and are dropped.
  const [, deleted] = await ctx.store.batch([
    auditFromRow(
      ctx,
      webhook_endpoints,
      described('delete'),
      ['url', 'description', 'event_types', 'status'],
      null,
      idIs,
    ),
    ctx.store.delete(webhook_endpoints, idIs).returning({ id: webhook_endpoints.id }),
  ]);
  if (deleted.length === 0) throw notFound('webhook');
}

/** A new secret, shown here only; the one it replaces keeps signing for 24 h. */
export async function rotateSecret({ ctx, id }: { ctx: TenantContext; id: string }) {
  requirePermission(ctx, 'webhooks:manage');
  const secret = newSecret();
  const now = new Date();
  const expires = new Date(now.getTime() + ROTATION_OVERLAP_MS).toISOString();
  const idIs = eq(webhook_endpoints.id, id);
  const [, rotated] = await ctx.store.batch([
    auditFromRow(ctx, webhook_endpoints, described('rotate'), [], { previous_secret_expires_at: expires }, idIs),
    ctx.store
      .update(
        webhook_endpoints,
        {
          previous_secret: sql`${webhook_endpoints.secret}`,
          secret,
          previous_secret_expires_at: expires,
          updated_at: now.toISOString(),
        },
        idIs,
      )
      .returning(),
  ]);
  if (!rotated[0]) throw notFound('webhook');
  return { ...present(rotated[0]), secret };
}

const deliveryColumns = {
  id: webhook_deliveries.id,
  endpoint_id: webhook_deliveries.endpoint_id,
  event_id: webhook_deliveries.event_id,
  event_type: webhook_deliveries.event_type,
  sequence: webhook_deliveries.sequence,
  trigger: webhook_deliveries.trigger,
  status: webhook_deliveries.status,
  attempts: webhook_deliveries.attempts,
  next_attempt_at: webhook_deliveries.next_attempt_at,
  last_attempt_at: webhook_deliveries.last_attempt_at,
  response_status: webhook_deliveries.response_status,
  response_body: webhook_deliveries.response_body,
  latency_ms: webhook_deliveries.latency_ms,
  created_at: webhook_deliveries.created_at,
};

export async function listDeliveries({ ctx, id, input }: { ctx: TenantContext; id: string; input: DeliveryListInput }) {
  requirePermission(ctx, 'webhooks:manage');
  const [endpoint, rows] = await ctx.store.batch([
    ctx.store.selectFields(webhook_endpoints, { id: webhook_endpoints.id }, eq(webhook_endpoints.id, id)),
    newestFirstQuery(webhook_deliveries.id, input, (after) =>
      ctx.store.selectFields(
        webhook_deliveries,
        deliveryColumns,
        and(
          eq(webhook_deliveries.endpoint_id, id),
          input.status && eq(webhook_deliveries.status, input.status),
          input.event_type && eq(webhook_deliveries.event_type, input.event_type),
          after,
        ),
      ),
    ),
  ]);
  if (endpoint.length === 0) throw notFound('webhook');
  return toPage(rows, input.limit);
}

/** Sends a finished delivery again (the 3 days of retries start over); 409 while it is under way. */
export async function retryDelivery({
  ctx,
  id,
  deliveryId,
  delivery,
}: {
  ctx: TenantContext;
  id: string;
  deliveryId: string;
  delivery: Delivery;
}) {
  requirePermission(ctx, 'webhooks:manage');
  const where = and(eq(webhook_deliveries.id, deliveryId), eq(webhook_deliveries.endpoint_id, id))!;
  const [row] = await ctx.store
    .update(
      webhook_deliveries,
      { status: 'pending', first_attempt_at: null, next_attempt_at: new Date().toISOString() },
      and(where, sql`${webhook_deliveries.status} IN ('succeeded', 'failed')`)!,
    )
    .returning(deliveryColumns);
  if (!row) {
    const exists = await ctx.store.selectFields(webhook_deliveries, { id: webhook_deliveries.id }, where).get();
    if (exists) throw conflict('The delivery is pending or being sent: it cannot be retried now.');
    await getEndpoint({ ctx, id }); // 404 naming the webhook when it is the endpoint that does not exist
    throw notFound('delivery');
  }
  await enqueueDeliveries(delivery.queue, ctx.organization.shard, [
    { id: row.id, organization_id: ctx.organization.id, sequence: row.sequence },
  ]);
  return row;
}

/** Every event since `since` sent again to the endpoint, in sequence order, under its own `webhook-id`. */
export async function replayEvents({
  ctx,
  id,
  since,
  delivery,
}: {
  ctx: TenantContext;
  id: string;
  since: string;
  delivery: Delivery;
}) {
  requirePermission(ctx, 'webhooks:manage');
  const endpoint = await getEndpoint({ ctx, id });
  const now = new Date().toISOString();
  const sinceIs = gte(webhook_events.created_at, since);
  const first = sql`(SELECT min(${webhook_events.sequence}) FROM ${webhook_events} WHERE ${ctx.store.scope(webhook_events, sinceIs)})`;
  const created = await ctx.store
    .insertFromSelect(
      webhook_deliveries,
      webhook_events,
      // webhook_deliveries' columns, in its column order.
      {
        id: sql.raw(uuidv7PerRowSql()),
        organization_id: webhook_events.organization_id,
        endpoint_id: sql`${id}`,
        event_id: webhook_events.id,
        event_type: webhook_events.type,
        sequence: webhook_events.sequence,
        trigger: sql`'replay'`,
        status: sql`'pending'`,
        attempts: sql`0`,
        claimed_until: sql`NULL`,
        claim_id: sql`NULL`,
        next_attempt_at: sql`${now}`,
        first_attempt_at: sql`NULL`,
        last_attempt_at: sql`NULL`,
        response_status: sql`NULL`,
        response_body: sql`NULL`,
        latency_ms: sql`NULL`,
        created_at: sql`${now}`,
      },
      and(
        sinceIs,
        sql`${webhook_events.sequence} < ${first} + ${REPLAY_MAX}`,
        endpoint.event_types
          ? sql`${webhook_events.type} IN (SELECT value FROM json_each(${JSON.stringify(endpoint.event_types)}))`
          : undefined,
      )!,
    )
    .returning({
      id: webhook_deliveries.id,
      organization_id: webhook_deliveries.organization_id,
      sequence: webhook_deliveries.sequence,
    });
  created.sort((a, b) => a.sequence! - b.sequence!);
  await enqueueDeliveries(delivery.queue, ctx.organization.shard, created);
  return { replayed: created.length };
}

/** A `ping` event to the endpoint, recorded like any delivery. */
export async function testEndpoint({ ctx, id, delivery }: { ctx: TenantContext; id: string; delivery: Delivery }) {
  requirePermission(ctx, 'webhooks:manage');
  await getEndpoint({ ctx, id });
  const now = new Date().toISOString();
  const [row] = await ctx.store
    .insert(webhook_deliveries, {
      id: uuidv7(),
      endpoint_id: id,
      event_id: uuidv7(),
      event_type: 'ping',
      sequence: null,
      trigger: 'test',
      status: 'pending',
      next_attempt_at: now,
      created_at: now,
    })
    .returning(deliveryColumns);
  await enqueueDeliveries(delivery.queue, ctx.organization.shard, [
    { id: row!.id, organization_id: ctx.organization.id, sequence: null },
  ]);
  return row!;
}
