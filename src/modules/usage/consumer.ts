// The USAGE_QUEUE consumer: counts each usage event exactly once under Queues' at-least-once
// delivery, with ONE D1 batch per shard a message batch touches.
//
// Exactly once: per shard, one batch (a transaction) holds two statements:
//   1. INSERT INTO usage_events … ON CONFLICT (id) DO NOTHING, every event of the batch tagged
//      with a token made for this batch alone (`counted_in`);
//   2. INSERT INTO usage_tracking … SELECT sum(quantity) FROM usage_events WHERE counted_in =
//      token GROUP BY the aggregate key, ON CONFLICT DO UPDATE adding to the totals (usage_amount)
//      and to their metadata (how many events, the first and last one's time).
// An event id is inserted at most once ever (primary key); the totals take exactly the events
// whose row this transaction inserted (a redelivered event keeps the token of the batch that
// first counted it); and both statements commit or neither does. So an event is added once,
// however often it is delivered, and nothing is added for an insert that rolled back.
// `ON CONFLICT (id) DO NOTHING`, not `INSERT OR IGNORE`: OR IGNORE would also skip rows that
// break a CHECK, silently dropping them; here a bad row fails its shard, which is retried and
// then dead-lettered, so it is recorded.
//
// Events of an organization no longer in the catalog (deleted while they were queued, like the
// DELETE request's own api_calls event) are acknowledged without counting: counted, they would
// put rows of a deleted organization back on its shard. One catalog query per message batch
// answers which organizations exist, their Stripe customers and their shards: an event is counted
// on the organization's shard as the catalog says now, not as it was when the event was sent (a
// move may have flipped it since; while the move copies, the old shard's fence refuses the batch,
// which is retried, and then counted once on the new shard).
//
// Stripe Billing Meters come after the commit, per event: an event Stripe does not take is the
// only message retried (its next delivery counts nothing and reports it again; Stripe dedupes by
// identifier), so a Stripe failure never holds back or dead-letters the counting of the others.
import { USAGE_RESOURCE_TYPES } from '../../db/enums';
import { D1Sessions } from '../../db/sessions';
import { shardBinding, shardCount } from '../../db/shards';
import { uuidv7, uuidv7PerRowSql } from '../../lib/ids';
import type { Bindings } from '../../env';
import { stripeClient } from '../billing/stripe';
import { LOCAL_MODEL } from '../ai/providers';
import { INSERT_DEAD_LETTER, type UsageEvent } from '../../lib/usage-meter';

/** wrangler.toml's max_retries for strive-usage: the dead-letter reason quotes it. */
export const USAGE_MAX_RETRIES = 5;
/** 10 s, 20 s, 40 s … capped at 15 min: a shard that is briefly unavailable gets time to recover. */
export const retryDelaySeconds = (attempts: number) => Math.min(10 * 2 ** (attempts - 1), 900);

/** Why a message body is not a usage event, or null when it is one. */
export function invalidEvent(body: unknown): string | null {
  if (typeof body !== 'object' || body === null) return 'the body is not an object';
  const e = body as Record<string, unknown>;
  if (typeof e.id !== 'string' || e.id === '') return 'no id';
  if (typeof e.organization_id !== 'string' || e.organization_id === '') return 'no organization_id';
  if (!Number.isInteger(e.shard) || (e.shard as number) < 0) return 'no shard';
  if (e.user_id !== null && typeof e.user_id !== 'string') return 'user_id is neither a string nor null';
  if (!(USAGE_RESOURCE_TYPES as readonly unknown[]).includes(e.resource_type))
    return `unknown resource_type ${String(e.resource_type)}`;
  if (typeof e.resource_name !== 'string') return 'resource_name is not a string';
  if (!Number.isSafeInteger(e.quantity)) return 'quantity is not an integer';
  if (typeof e.occurred_at !== 'string' || Number.isNaN(Date.parse(e.occurred_at)))
    return 'occurred_at is not a timestamp';
  return null;
}

const INSERT_EVENTS = `
INSERT INTO usage_events (id, organization_id, user_id, resource_type, resource_name, quantity, billing_period, occurred_at, counted_in)
SELECT json_extract(e.value, '$.id'), json_extract(e.value, '$.organization_id'), json_extract(e.value, '$.user_id'),
  json_extract(e.value, '$.resource_type'), json_extract(e.value, '$.resource_name'), json_extract(e.value, '$.quantity'),
  substr(json_extract(e.value, '$.occurred_at'), 1, 7), json_extract(e.value, '$.occurred_at'), ?2
FROM json_each(?1) AS e WHERE true
ON CONFLICT (id) DO NOTHING`;

// The conflict target repeats usage_tracking_aggregate_unique's expression exactly. usage_events
// keeps the month (YYYY-MM), the totals its first day. A total's metadata counts the events it
// was made of and spans their times; keys it does not set are kept.
const ADD_TO_TOTALS = () => `
INSERT INTO usage_tracking (id, organization_id, user_id, resource_type, resource_name, usage_amount, billing_period, metadata, updated_at)
SELECT ${uuidv7PerRowSql()}, organization_id, user_id, resource_type, resource_name, sum(quantity), billing_period || '-01',
  json_object('events', count(*), 'first_event_at', min(occurred_at), 'last_event_at', max(occurred_at)), ?2
FROM usage_events WHERE counted_in = ?1
GROUP BY organization_id, user_id, resource_type, resource_name, billing_period
ON CONFLICT (organization_id, (CASE WHEN user_id IS NULL THEN '' ELSE user_id END), resource_type, resource_name, billing_period)
DO UPDATE SET usage_amount = usage_amount + excluded.usage_amount,
  metadata = json_set(metadata,
    '$.events', coalesce(json_extract(metadata, '$.events'), 0) + json_extract(excluded.metadata, '$.events'),
    '$.first_event_at', min(coalesce(json_extract(metadata, '$.first_event_at'), json_extract(excluded.metadata,
      '$.first_event_at')), json_extract(excluded.metadata, '$.first_event_at')),
    '$.last_event_at', max(coalesce(json_extract(metadata, '$.last_event_at'), json_extract(excluded.metadata,
      '$.last_event_at')), json_extract(excluded.metadata, '$.last_event_at'))),
  updated_at = excluded.updated_at`;

/** Counts one shard's events in one D1 batch. */
export async function countOnShard(shard: D1Database, events: UsageEvent[]): Promise<void> {
  // The events travel as ONE JSON parameter (D1 binds at most 100 parameters per statement).
  const rows = events.map(({ id, organization_id, user_id, resource_type, resource_name, quantity, occurred_at }) => ({
    id,
    organization_id,
    user_id,
    resource_type,
    resource_name,
    quantity,
    occurred_at,
  }));
  const token = uuidv7();
  await shard.batch([
    shard.prepare(INSERT_EVENTS).bind(JSON.stringify(rows), token),
    shard.prepare(ADD_TO_TOTALS()).bind(token, new Date().toISOString()),
  ]);
}

/** Reported to Stripe: ai_tokens of a provider's model. The built-in local model costs nothing. */
const billable = (event: UsageEvent) =>
  event.resource_type === 'ai_tokens' && event.quantity > 0 && event.resource_name !== LOCAL_MODEL;

type InCatalog = { stripe_customer_id: string | null; shard: number };

/** The organizations of `organizationIds` the catalog holds, each with its Stripe customer (or null) and its shard. */
async function organizationsInCatalog(env: Bindings, organizationIds: string[]): Promise<Map<string, InCatalog>> {
  const { results } = await env.CATALOG.prepare(
    'SELECT id, stripe_customer_id, shard FROM organizations WHERE id IN (SELECT value FROM json_each(?1))',
  )
    .bind(JSON.stringify(organizationIds))
    .all<InCatalog & { id: string }>();
  return new Map(results.map(({ id, ...organization }) => [id, organization]));
}

/**
 * Stripe Billing Meters: each counted billable event as a meter event whose identifier is the
 * usage event's id, so reporting it again is counted once by Stripe too. Never throws: answers
 * the ids of the events that were not reported.
 */
async function reportToStripe(
  env: Bindings,
  events: UsageEvent[],
  customers: Map<string, InCatalog>,
): Promise<Set<string>> {
  const stripe = await stripeClient(env);
  const eventName = env.STRIPE_METER_EVENT_NAME;
  // No Stripe customer, no paid plan to bill: the tokens are counted in Strive only.
  const billed = events.filter((event) => billable(event) && customers.get(event.organization_id)?.stripe_customer_id);
  if (!stripe || !eventName || billed.length === 0) return new Set();
  const outcomes = await Promise.allSettled(
    billed.map((event) =>
      stripe.billing.meterEvents.create(
        {
          event_name: eventName,
          identifier: event.id,
          timestamp: Math.floor(Date.parse(event.occurred_at) / 1000),
          payload: {
            stripe_customer_id: customers.get(event.organization_id)!.stripe_customer_id!,
            value: String(event.quantity),
          },
          // The same request again (a redelivery within 24 h) gets Stripe's first answer back
          // instead of a duplicate-identifier error.
        },
        { idempotencyKey: `strive-meter-${event.id}` },
      ),
    ),
  );
  const failed = billed.filter((_, n) => outcomes[n]!.status === 'rejected');
  if (failed.length > 0)
    console.error(
      `usage: ${failed.length} counted events not reported to Stripe, retrying them`,
      (outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason,
    );
  return new Set(failed.map((e) => e.id));
}

/**
 * strive-usage: drop the events of organizations no longer in the catalog, group the rest by
 * shard, one batch per shard, ack a shard's messages after its commit.
 */
export async function consumeUsage(batch: MessageBatch<unknown>, env: Bindings): Promise<void> {
  const valid: { message: Message<unknown>; event: UsageEvent }[] = [];
  for (const message of batch.messages) {
    const reason = invalidEvent(message.body);
    if (reason) {
      // Never countable: retried like a failure so that the dead-letter consumer records it.
      console.error(`usage message ${message.id} is not an event (${reason})`);
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
      continue;
    }
    valid.push({ message, event: message.body as UsageEvent });
  }
  if (valid.length === 0) return;
  let customers: Map<string, InCatalog>;
  try {
    customers = await organizationsInCatalog(env, [...new Set(valid.map(({ event }) => event.organization_id))]);
  } catch (error) {
    console.error(`usage: ${valid.length} events not counted (the catalog was not read), retrying`, error);
    for (const { message } of valid) message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    return;
  }
  const ofDeleted: Record<string, number> = {};
  const counted = valid.filter(({ message, event }) => {
    if (customers.has(event.organization_id)) return true;
    ofDeleted[event.organization_id] = (ofDeleted[event.organization_id] ?? 0) + 1;
    message.ack();
    return false;
  });
  if (Object.keys(ofDeleted).length > 0) {
    console.log(
      `usage: events acknowledged without counting, their organization is not in the catalog (deleted): ${JSON.stringify(ofDeleted)}`,
    );
  }
  await Promise.all(
    [...Map.groupBy(counted, ({ event }) => customers.get(event.organization_id)!.shard)].map(
      async ([shard, group]) => {
        const events = group.map(({ event }) => event);
        try {
          await countOnShard(shardBinding(env, shard, D1Sessions.primary(env)), events);
        } catch (error) {
          // Only this shard's messages go back; the other shards' commits stand.
          console.error(`usage: ${events.length} events on shard ${shard} not counted, retrying`, error);
          for (const { message } of group) message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
          return;
        }
        // Counted. Only an event Stripe did not take comes back: its next delivery counts nothing
        // (its id is in usage_events) and reports it again (Stripe dedupes by identifier).
        const unreported = await reportToStripe(env, events, customers);
        for (const { message, event } of group) {
          if (unreported.has(event.id)) message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
          else message.ack();
        }
      },
    ),
  );
}

/**
 * Which of the billable `events` their shard has counted, so that a dead letter says whether it
 * failed to count or only to reach Stripe; an event whose shard cannot be read is in neither set.
 */
async function countedOrNot(
  env: Bindings,
  events: UsageEvent[],
): Promise<{ counted: Set<string>; uncounted: Set<string> }> {
  const counted = new Set<string>();
  const uncounted = new Set<string>();
  await Promise.all(
    [...Map.groupBy(events.filter(billable), (event) => event.shard)].map(async ([shard, inShard]) => {
      const ids = inShard.map((event) => event.id);
      if (shard >= shardCount(env)) return ids.forEach((id) => uncounted.add(id));
      try {
        const { results } = await shardBinding(env, shard, D1Sessions.primary(env))
          .prepare('SELECT id FROM usage_events WHERE id IN (SELECT value FROM json_each(?1))')
          .bind(JSON.stringify(ids))
          .all<{ id: string }>();
        const found = new Set(results.map((r) => r.id));
        for (const id of ids) (found.has(id) ? counted : uncounted).add(id);
      } catch (error) {
        console.error(`usage-dlq: shard ${shard} not read`, error);
      }
    }),
  );
  return { counted, uncounted };
}

/**
 * strive-usage-dlq: what could not be counted, or was counted but not reported to Stripe, is
 * recorded in the catalog, never dropped. Sending it back to strive-usage is safe in every case:
 * counting skips an id already in usage_events, Stripe an identifier it has.
 */
export async function recordDeadLetters(batch: MessageBatch<unknown>, env: Bindings): Promise<void> {
  const statement = env.CATALOG.prepare(INSERT_DEAD_LETTER);
  const events = batch.messages.filter((m) => !invalidEvent(m.body)).map((m) => m.body as UsageEvent);
  const { counted, uncounted } = await countedOrNot(env, events);
  const retries = `after ${USAGE_MAX_RETRIES} retries on strive-usage`;
  await env.CATALOG.batch(
    batch.messages.map((message) => {
      const body = message.body as Partial<UsageEvent> | null;
      const invalid = invalidEvent(message.body);
      const event = body as UsageEvent;
      const reason = invalid
        ? `not a usage event: ${invalid}`
        : counted.has(event.id)
          ? `counted on shard ${event.shard}, not reported to Stripe Billing Meters ${retries}; the consumer's log has each error`
          : !billable(event) || uncounted.has(event.id)
            ? `not counted ${retries} (shard ${event.shard}); the consumer's log has each error`
            : `not counted, or counted and not reported to Stripe, ${retries} (shard ${event.shard} could not be ` +
              `read); the consumer's log has each error`;
      const id = invalid || typeof body?.id !== 'string' ? `message:${message.id}` : body.id;
      const organizationId = typeof body?.organization_id === 'string' ? body.organization_id : null;
      return statement.bind(id, organizationId, JSON.stringify(message.body) ?? 'null', reason, USAGE_MAX_RETRIES);
    }),
  );
  batch.ackAll();
}
