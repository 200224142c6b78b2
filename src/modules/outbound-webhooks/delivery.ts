// Outbound webhook delivery, after the outbox trigger has written an event (see events.ts):
//   drain   the organization's undispatched events become one delivery per subscribed active
//           endpoint (unique per endpoint and event), queued to WEBHOOKS_QUEUE in sequence order.
//           Signalled after every successful tenant write (drainAfterWrites), and swept by the cron
//           for writes made elsewhere (Durable Objects, inbound webhooks) and for lost messages.
//   deliver one claim per delivery (a claim lapsing if its consumer crashed), a signed POST
//           (Standard Webhooks; 10 s, no redirects), its outcome recorded; retried with exponential
//           backoff and jitter for 3 days. 410 pauses the endpoint, as does 3 days of failures. A
//           delivery already succeeded is never sent again by a queue redelivery, and `webhook-id` is
//           the event's id in every attempt and replay.
// Order: an endpoint receives its events one at a time, in sequence order. An event is not sent while
// an earlier one to the same endpoint is unfinished (pending a retry, or being sent by another
// consumer): head of line. One consumer sends the run of them it holds one after the other and stops
// at the first failure. Pings have no sequence and wait for nothing.
import { sql, type SQL } from 'drizzle-orm';
import { notMoving } from '../../db/tenant';
import { createMiddleware } from 'hono/factory';
import { Webhook } from 'standardwebhooks';
import { D1Sessions } from '../../db/sessions';
import { shardBinding, shardCount } from '../../db/shards';
import type { Bindings, TenantEnv } from '../../env';
import { uuidv7, uuidv7PerRowSql } from '../../lib/ids';
import { checkOutboundHost, type HostCheck } from '../../lib/outbound-url';
import { prepare } from '../appointments/reminders';
import { eventOf, type AuditedEvent, type WebhookEvent } from './events';

export const WEBHOOKS_QUEUE_NAME = 'strive-webhooks';

export type WebhookMessage =
  | { kind: 'drain'; shard: number; organization_id: string }
  | { kind: 'deliver'; shard: number; organization_id: string; delivery_id: string; sequence?: number | null };

const SECOND = 1000;
const DAY = 24 * 60 * 60 * SECOND;
const TIMEOUT_MS = 10 * SECOND;
/** How long a consumer holds a delivery beyond the timeouts of those it sends first; a crashed one's lapses. */
const CLAIM_MS = 30 * SECOND;
/** The longest a Queues message may be delayed. */
const MAX_DELAY_S = 12 * 3600;
/** How long a failing delivery is retried, and an endpoint may fail before it is paused. */
export const RETRY_FOR_MS = 3 * DAY;
/** A pending delivery whose message is this late was lost (queue trouble): the cron queues it again. */
const STALE_MS = 15 * 60 * SECOND;
const BODY_KEPT_BYTES = 1024;
const SEND_BATCH_MAX = 100;

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Seconds before the next attempt after `attempts` failed ones: 30 s doubling up to 6 h, with
 * "equal jitter" (half fixed, half random) so that the deliveries of one outage do not return together.
 */
export function backoffSeconds(attempts: number, random = Math.random()): number {
  const base = Math.min(6 * 3600, 30 * 2 ** Math.max(0, attempts - 1));
  return Math.ceil(base / 2 + (random * base) / 2);
}

type Queued = { id: string; organization_id: string; sequence: number | null };

const deliverMessage = (shard: number, row: Queued) => ({
  body: {
    kind: 'deliver',
    shard,
    organization_id: row.organization_id,
    delivery_id: row.id,
    sequence: row.sequence,
  } satisfies WebhookMessage,
  contentType: 'json' as const,
});

/** Queues deliveries (in the order given), 100 messages per send. */
export async function enqueueDeliveries(queue: Queue<WebhookMessage>, shard: number, rows: Queued[]) {
  for (let i = 0; i < rows.length; i += SEND_BATCH_MAX) {
    await queue.sendBatch(rows.slice(i, i + SEND_BATCH_MAX).map((row) => deliverMessage(shard, row)));
  }
}

/** Turns undispatched events (of one organization, or of the whole shard) into queued deliveries. */
export async function drainOutbox(env: Bindings, shard: number, organizationId?: string): Promise<number> {
  const db = shardBinding(env, shard, D1Sessions.primary(env));
  const now = iso(Date.now());
  // A moving organization's events wait: the fence would fail the shard's whole drain.
  const ofOrg = organizationId
    ? sql`AND e.organization_id = ${organizationId}`
    : sql`AND ${notMoving(sql`e.organization_id`)}`;
  const [created] = await db.batch<Queued>([
    prepare(
      db,
      sql`INSERT OR IGNORE INTO webhook_deliveries
        (id, organization_id, endpoint_id, event_id, event_type, sequence, "trigger", status, attempts, next_attempt_at, created_at)
      SELECT ${sql.raw(uuidv7PerRowSql())}, e.organization_id, w.id, e.id, e.type, e.sequence, 'event', 'pending', 0, ${now}, ${now}
      FROM webhook_events e JOIN webhook_endpoints w ON w.organization_id = e.organization_id
      WHERE e.dispatched_at IS NULL ${ofOrg} AND w.status = 'active'
        AND (w.event_types IS NULL OR e.type IN (SELECT value FROM json_each(w.event_types)))
      ORDER BY e.organization_id, e.sequence
      RETURNING id, organization_id, sequence`,
    ),
    prepare(
      db,
      sql`UPDATE webhook_events SET dispatched_at = ${now} WHERE dispatched_at IS NULL
        AND ${organizationId ? sql`organization_id = ${organizationId}` : notMoving(sql`organization_id`)}`,
    ),
  ]);
  // A failure here leaves the deliveries pending: the cron's sweep queues them once stale.
  await enqueueDeliveries(env.WEBHOOKS_QUEUE, shard, created!.results);
  return created!.results.length;
}

/**
 * The deliveries to `d`'s endpoint that must finish before `d` is sent: unfinished ones of an earlier
 * event, except those `claim` (a consumer's run) holds, which it sends first.
 */
const earlierUnfinished = (d: SQL, claim?: string) => sql`SELECT 1 FROM webhook_deliveries p
  WHERE p.organization_id = ${d}.organization_id AND p.endpoint_id = ${d}.endpoint_id AND p.sequence < ${d}.sequence
    AND p.status IN ('pending', 'sending') ${claim ? sql`AND p.claim_id IS NOT ${claim}` : sql``}`;

/** The cron's part: every shard's outbox drained, and deliveries whose message was lost queued again. */
export async function sweepWebhooks(env: Bindings, now: Date): Promise<void> {
  await Promise.all(
    Array.from({ length: shardCount(env) }, async (_, shard) => {
      await drainOutbox(env, shard);
      const db = shardBinding(env, shard, D1Sessions.primary(env));
      const stale = iso(now.getTime() - STALE_MS);
      // Only an endpoint's head of line: the others' messages wait for it (or it queues them again once head).
      const lost = await prepare(
        db,
        sql`UPDATE webhook_deliveries SET next_attempt_at = ${iso(now.getTime())}
        WHERE ((status = 'pending' AND next_attempt_at < ${stale}) OR (status = 'sending' AND claimed_until < ${stale}))
          AND NOT EXISTS (${earlierUnfinished(sql`webhook_deliveries`)})
        RETURNING id, organization_id, sequence`,
      ).all<Queued>();
      await enqueueDeliveries(env.WEBHOOKS_QUEUE, shard, lost.results);
    }),
  );
}

/**
 * After every successful write to an organization, its outbox is drained off the request's path:
 * one queue message, no D1 round trip on the request.
 */
export const drainAfterWrites = createMiddleware<TenantEnv>(async (c, next) => {
  await next();
  const method = c.req.method;
  if (method === 'GET' || method === 'HEAD' || c.res.status >= 400) return;
  const tenant = c.get('tenant');
  const message: WebhookMessage = {
    kind: 'drain',
    shard: tenant.organization.shard,
    organization_id: tenant.organization.id,
  };
  c.executionCtx.waitUntil(
    c.env.WEBHOOKS_QUEUE.send(message, { contentType: 'json' }).catch((error) =>
      // The cron's sweep drains it within minutes.
      console.warn('webhook outbox drain not queued', error),
    ),
  );
});

// ── Delivery ───────────────────────────────────────────────────────────────────────────────────

type Claimed = AuditedEvent & {
  delivery_id: string;
  event_id: string;
  status: string;
  trigger: string;
  event_type: string;
  attempts: number;
  first_attempt_at: string | null;
  endpoint_id: string;
  endpoint_status: string;
  url: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: string | null;
  audit_id: string | null;
  waits_for: string | null;
};

type Outcome = {
  delivery_id: string;
  endpoint_id: string;
  organization_id: string;
  status: 'succeeded' | 'failed' | 'pending';
  response_status: number | null;
  response_body: string | null;
  latency_ms: number | null;
  /** Seconds before the next attempt, for a delivery still pending. */
  retry_in?: number;
  /** The endpoint is paused, and why. */
  pause?: string;
  /** Whether the receiver was reached and answered 2xx (clears the endpoint's failing_since). */
  healthy: boolean;
};

/** The signatures of `body`: by the current secret, and by the previous one while it still signs. */
export function signatures(
  row: Pick<Claimed, 'secret' | 'previous_secret' | 'previous_secret_expires_at'>,
  id: string,
  at: Date,
  body: string,
) {
  const secrets = [row.secret];
  if (row.previous_secret && row.previous_secret_expires_at && row.previous_secret_expires_at > at.toISOString()) {
    secrets.push(row.previous_secret);
  }
  return secrets.map((secret) => new Webhook(secret).sign(id, at, body)).join(' ');
}

/** The first BODY_KEPT_BYTES of an answer, without reading the rest. */
async function bodyStart(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < BODY_KEPT_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  await reader.cancel().catch(() => {});
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) all.set(chunk, (at += chunk.byteLength) - chunk.byteLength);
  return new TextDecoder().decode(all.subarray(0, BODY_KEPT_BYTES));
}

function pingOf(row: Claimed): WebhookEvent {
  return {
    id: row.event_id,
    type: 'ping',
    created_at: row.created_at,
    organization_id: row.organization_id,
    sequence: null,
    actor: { type: 'system', id: null },
    data: { object: { endpoint_id: row.endpoint_id } },
  };
}

/**
 * For an endpoint of the local receiver `npm run webhooks:listen` runs (WEBHOOKS_DEV_RECEIVER, its
 * http origin, only ever in .dev.vars), the URL it is reached at: endpoints hold https URLs only (a
 * CHECK), so it is registered as https://127.0.0.1:port/… and sent to over plain http. Null otherwise.
 */
export function devReceiverUrl(url: string, devReceiver: string | undefined): string | null {
  if (!devReceiver) return null;
  const local = new URL(devReceiver);
  const registered = `https://${local.host}/`;
  return url.startsWith(registered) ? `${local.origin}/${url.slice(registered.length)}` : null;
}

/** Sends one claimed delivery and says what became of it. */
async function send(row: Claimed, env: Bindings, checkHost: (url: string) => Promise<HostCheck>): Promise<Outcome> {
  const base = { delivery_id: row.delivery_id, endpoint_id: row.endpoint_id, organization_id: row.organization_id };
  const failed = (response_body: string, extra: Partial<Outcome> = {}): Outcome => ({
    ...base,
    status: 'failed',
    response_status: null,
    response_body,
    latency_ms: null,
    healthy: false,
    ...extra,
  });
  const retryOrGiveUp = (outcome: Omit<Outcome, 'status'>): Outcome => {
    const since = Date.parse(row.first_attempt_at ?? new Date().toISOString());
    if (Date.now() - since >= RETRY_FOR_MS) return { ...outcome, status: 'failed' };
    return { ...outcome, status: 'pending', retry_in: backoffSeconds(row.attempts + 1) };
  };
  if (row.trigger !== 'test' && !row.audit_id) return failed('The event was withdrawn (its change did not commit).');
  const local = devReceiverUrl(row.url, env.WEBHOOKS_DEV_RECEIVER);
  const host: HostCheck = local ? { ok: true } : await checkHost(row.url);
  if (!host.ok) {
    const outcome = {
      ...base,
      response_status: null,
      response_body: `Not sent: ${host.reason}`,
      latency_ms: null,
      healthy: false,
    };
    return host.retry ? retryOrGiveUp(outcome) : { ...outcome, status: 'failed' };
  }
  const event = row.trigger === 'test' ? pingOf(row) : eventOf(row);
  const body = JSON.stringify(event);
  const at = new Date();
  const started = Date.now();
  try {
    const response = await fetch(local ?? row.url, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Strive-Webhooks/1.0',
        'webhook-id': event.id,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': signatures(row, event.id, at, body),
      },
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    const answered = {
      ...base,
      response_status: response.status,
      response_body: await bodyStart(response).catch((error) => `(body unreadable: ${String(error)})`),
      latency_ms: Date.now() - started,
    };
    if (response.ok) return { ...answered, status: 'succeeded', healthy: true };
    if (response.status === 410) {
      return { ...answered, status: 'failed', healthy: false, pause: 'The receiver answered 410 Gone.' };
    }
    return retryOrGiveUp({ ...answered, healthy: false });
  } catch (error) {
    const reason =
      (error as Error).name === 'TimeoutError' ? `No answer within ${TIMEOUT_MS / 1000} s.` : String(error);
    return retryOrGiveUp({
      ...base,
      response_status: null,
      response_body: reason,
      latency_ms: Date.now() - started,
      healthy: false,
    });
  }
}

type DeliverBody = Extract<WebhookMessage, { kind: 'deliver' }>;

/** The queue consumer: drains first (the deliveries they create are queued anew), then delivers. */
export async function consumeWebhooks(batch: MessageBatch<WebhookMessage>, env: Bindings): Promise<void> {
  const drains = batch.messages.filter((m) => m.body.kind === 'drain');
  const deliveries = batch.messages.filter((m): m is Message<DeliverBody> => m.body.kind === 'deliver');
  const organizations = new Map(drains.map((m) => [m.body.organization_id, m.body.shard]));
  await Promise.all([...organizations].map(([organizationId, shard]) => drainOutbox(env, shard, organizationId)));
  drains.forEach((m) => m.ack());

  const hostChecks = new Map<string, Promise<HostCheck>>();
  const checkHost = (url: string) => hostChecks.get(url) ?? hostChecks.set(url, checkOutboundHost(url, env)).get(url)!;
  await Promise.all(
    [...Map.groupBy(deliveries, (m) => m.body.shard)].map(([shard, messages]) =>
      deliverInShard(env, shard, messages, checkHost),
    ),
  );
}

async function deliverInShard(
  env: Bindings,
  shard: number,
  messages: Message<DeliverBody>[],
  checkHost: (url: string) => Promise<HostCheck>,
) {
  const db = shardBinding(env, shard, D1Sessions.primary(env));
  const now = Date.now();
  const nowIso = iso(now);
  const claim = uuidv7();
  // Claimed in sequence order, each statement seeing the ones before it: an event whose earlier ones
  // this run holds is claimed too (it is sent after them), one waiting for anyone else's is not.
  const bySequence = messages.toSorted((a, b) => (a.body.sequence ?? Infinity) - (b.body.sequence ?? Infinity));
  const ids = [...new Set(bySequence.map((m) => m.body.delivery_id))];
  const claimedUntil = iso(now + CLAIM_MS + ids.length * TIMEOUT_MS);
  const claims = ids.map((id) =>
    prepare(
      db,
      sql`UPDATE webhook_deliveries SET status = 'sending', claimed_until = ${claimedUntil}, claim_id = ${claim}
      WHERE id = ${id} AND (status = 'pending' OR (status = 'sending' AND claimed_until < ${nowIso}))
        AND EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.organization_id = webhook_deliveries.organization_id
          AND w.id = webhook_deliveries.endpoint_id AND w.status = 'active')
        AND NOT EXISTS (${earlierUnfinished(sql`webhook_deliveries`, claim)})
      RETURNING id`,
    ),
  );
  const inList = sql.join(
    ids.map((id) => sql`${id}`),
    sql`, `,
  );
  // waits_for: when the earlier delivery holding this one back is tried next (if one is pending).
  const read = prepare(
    db,
    sql`SELECT d.id AS delivery_id, d.organization_id, d.status, d."trigger", d.event_id, d.event_type, d.sequence,
      d.attempts, d.first_attempt_at, d.endpoint_id, COALESCE(a.created_at, d.created_at) AS created_at,
      w.status AS endpoint_status, w.url, w.secret, w.previous_secret, w.previous_secret_expires_at,
      a.id AS audit_id, a.id, a.action, a.resource_id, a.actor_type, a.actor_id, a.old_data, a.new_data,
      (SELECT max(p.next_attempt_at) FROM webhook_deliveries p WHERE p.organization_id = d.organization_id
        AND p.endpoint_id = d.endpoint_id AND p.sequence < d.sequence AND p.status = 'pending') AS waits_for
    FROM webhook_deliveries d
      JOIN webhook_endpoints w ON w.organization_id = d.organization_id AND w.id = d.endpoint_id
      LEFT JOIN activity_logs a ON a.id = d.event_id
    WHERE d.id IN (${inList})`,
  );
  const results = await db.batch<unknown>([...claims, read]);
  const claimed = results.slice(0, -1).flatMap((r) => (r.results as { id: string }[]).map((row) => row.id));
  const rows = new Map(
    (results.at(-1)!.results as Claimed[]).map((row) => [row.delivery_id, { ...row, id: row.event_id }]),
  );

  // Each endpoint's events one after the other, in sequence order (`claimed` is), up to the first
  // failure: the rest are released unsent. Pings go at once.
  const settled = new Map<string, Outcome>();
  const released = new Map<string, number>();
  const runs = Map.groupBy(
    claimed.map((id) => rows.get(id)!),
    (row) => (row.sequence === null ? row.delivery_id : row.endpoint_id),
  );
  await Promise.all(
    [...runs.values()].map(async (run) => {
      for (const [n, row] of run.entries()) {
        const outcome = await send(row, env, checkHost);
        settled.set(row.delivery_id, outcome);
        if (outcome.status === 'succeeded') continue;
        const after = 1 + (outcome.retry_in ?? 0);
        for (const rest of run.slice(n + 1)) released.set(rest.delivery_id, after + Math.ceil(Math.random() * 4));
        return;
      }
    }),
  );
  await record(db, [...settled.values()], [...released.keys()], nowIso);

  for (const message of messages) {
    const id = message.body.delivery_id;
    const row = rows.get(id);
    const outcome = settled.get(id);
    if (outcome?.status === 'pending') message.retry({ delaySeconds: outcome.retry_in! });
    else if (outcome || !row || row.status === 'succeeded' || row.status === 'failed') message.ack();
    // A paused endpoint's deliveries wait for it to be resumed (the cron's sweep queues them again).
    else if (row.endpoint_status !== 'active') message.ack();
    // Released behind a failure: tried again just after the one that failed.
    else if (released.has(id)) message.retry({ delaySeconds: released.get(id)! });
    // Held back: waiting for an earlier event's retry, or another consumer sends it (or an earlier
    // one) now; its claim lapses if it crashed.
    else {
      const waits = row.waits_for ? Math.max(0, Math.ceil((Date.parse(row.waits_for) - now) / SECOND)) : 0;
      message.retry({ delaySeconds: Math.min(MAX_DELAY_S, waits + 1 + Math.ceil(Math.random() * 4)) });
    }
  }
}

/** The last failure, as the endpoint's paused_reason tells it. */
const last = (o: Outcome) => (o.response_status ? `HTTP ${o.response_status}` : (o.response_body ?? 'no answer'));

/**
 * The attempts of one shard's batch (made from `attemptedAt` on) and what they mean for their
 * endpoints, and the deliveries released unsent, in one D1 batch.
 */
async function record(db: D1Database, outcomes: Outcome[], released: string[], attemptedAt: string) {
  if (outcomes.length === 0) return;
  const nowIso = iso(Date.now());
  const statements = outcomes.map((o) =>
    prepare(
      db,
      sql`UPDATE webhook_deliveries SET status = ${o.status}, claimed_until = NULL, claim_id = NULL,
        attempts = attempts + 1, first_attempt_at = COALESCE(first_attempt_at, ${attemptedAt}), last_attempt_at = ${attemptedAt},
        response_status = ${o.response_status}, response_body = ${o.response_body}, latency_ms = ${o.latency_ms},
        next_attempt_at = ${o.retry_in ? iso(Date.now() + o.retry_in * SECOND) : nowIso}
      WHERE id = ${o.delivery_id}`,
    ),
  );
  if (released.length > 0) {
    const ids = sql.join(
      released.map((id) => sql`${id}`),
      sql`, `,
    );
    statements.push(
      prepare(
        db,
        sql`UPDATE webhook_deliveries SET status = 'pending', claimed_until = NULL, claim_id = NULL WHERE id IN (${ids})`,
      ),
    );
  }
  for (const o of outcomes) {
    const endpoint = sql`organization_id = ${o.organization_id} AND id = ${o.endpoint_id}`;
    if (o.healthy) {
      statements.push(prepare(db, sql`UPDATE webhook_endpoints SET failing_since = NULL WHERE ${endpoint}`));
      continue;
    }
    statements.push(
      prepare(
        db,
        sql`UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, ${nowIso}) WHERE ${endpoint}`,
      ),
    );
    const failingFor = iso(Date.now() - RETRY_FOR_MS);
    // 410, or failing for 3 days: paused, with the reason its owners see on the endpoint.
    statements.push(
      prepare(
        db,
        sql`UPDATE webhook_endpoints SET status = 'paused', updated_at = ${nowIso},
          paused_reason = COALESCE(${o.pause ?? null}, 'Every delivery failed since ' || failing_since || '; the last: ' || ${last(o)})
        WHERE ${endpoint} AND status = 'active' AND (${o.pause ? 1 : 0} = 1 OR failing_since <= ${failingFor})`,
      ),
    );
  }
  await db.batch(statements);
}
