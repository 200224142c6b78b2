// Appointment reminders: the cron job that finds them and the queue consumer that delivers them.
//
// Cron (every 5 min), per shard, across its organizations:
//   1. ONE batch: claim every due reminder (the window rule: REMINDER_GAP_MS) with INSERT OR
//      IGNORE into reminders_sent (unique per appointment, window and start time: a doubled or
//      overlapping run claims nothing twice), take over claims an earlier run made but never
//      queued (it died between 1 and 2), and read the claimed reminders with their appointments.
//   2. Send them to NOTIFICATIONS_QUEUE.
//   3. Mark them queued, and record them in each appointment's reminders_sent. A run that fails
//      before this leaves its claims to be taken over after CLAIM_TIMEOUT_MS: nothing is lost,
//      and a reminder is sent again only after a crash.
//      The same batch writes each reminder's system audit row: the `appointment.reminder` event of
//      the organization's outbound webhook endpoints (modules/outbound-webhooks), drained by the cron's sweep.
// Consumer: POSTs each reminder to the organization's appointment webhook, signed; a failed delivery is
// retried with backoff, then kept in the dead-letter queue. Every delivery of one reminder
// carries the same id, so a receiver can drop the rare duplicate.
import { inArray, sql, type SQL } from 'drizzle-orm';
import { LIVE_APPOINTMENT_STATUSES, type ReminderWindow } from '../../db/enums';
import { SQLiteSyncDialect } from 'drizzle-orm/sqlite-core';
import { D1Sessions } from '../../db/sessions';
import { shardBinding, shardCount, shardDb } from '../../db/shards';
import { appointment_webhooks, appointments, notMoving } from '../../db/tenant';
import type { Bindings } from '../../env';
import { uuidv7, uuidv7PerRowSql } from '../../lib/ids';
import { checkOutboundHost, type HostCheck } from '../../lib/outbound-url';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, signWebhook } from './webhook';
import type { Appointment } from './service';

export const NOTIFICATIONS_QUEUE_NAME = 'strive-notifications';

const HOUR_MS = 60 * 60 * 1000;
/**
 * The window rule. The 1 h reminder is due for a live appointment starting within the next hour;
 * the 24 h one for an appointment starting within a day but more than REMINDER_GAP_MS beyond the
 * 1 h window. Between the two (1 to 2 h ahead) nothing is due: the appointment waits for its 1 h
 * reminder. So the two reminders of one appointment are always more than an hour apart, and one
 * booked less than 2 h ahead gets the 1 h reminder only (without the gap, one booked 61 minutes
 * ahead got the 24 h reminder and, a run later, the 1 h one).
 */
const REMINDER_GAP_MS = HOUR_MS;
/** A claim not queued after this long belongs to a run that died: the next run takes it over. */
const CLAIM_TIMEOUT_MS = 10 * 60 * 1000;
/** Queues accepts at most 100 messages per sendBatch. */
const SEND_BATCH_MAX = 100;
const WEBHOOK_TIMEOUT_MS = 10_000;

export type ReminderEvent = {
  /** The reminder's id: the same in every delivery of this reminder. */
  id: string;
  type: 'appointment.reminder';
  created_at: string;
  organization_id: string;
  data: {
    window: ReminderWindow;
    appointment: Pick<
      Appointment,
      | 'id'
      | 'title'
      | 'description'
      | 'start_time'
      | 'end_time'
      | 'status'
      | 'location'
      | 'meeting_url'
      | 'customer_id'
      | 'assigned_to'
    >;
  };
};

/** A queue message: the event, and the shard where its organization's webhook is configured. */
export type NotificationMessage = { shard: number; event: ReminderEvent };

type ClaimedRow = ReminderEvent['data']['appointment'] & {
  reminder_id: string;
  reminder_window: ReminderWindow;
  organization_id: string;
};

const live = sql.join(
  LIVE_APPOINTMENT_STATUSES.map((s) => sql`${s}`),
  sql`, `,
);

/** What a reminder tells of its appointment (its id aside). */
const REMINDED_FIELDS = [
  'title',
  'description',
  'start_time',
  'end_time',
  'status',
  'location',
  'meeting_url',
  'customer_id',
  'assigned_to',
] as const satisfies readonly (keyof ReminderEvent['data']['appointment'])[];

/** A run's claimed reminders whose appointments are still as claimed and live. */
const remindedJoin = (claim: string) => sql`reminders_sent r JOIN appointments a
  ON a.organization_id = r.organization_id AND a.id = r.appointment_id AND a.start_time = r.start_time
  WHERE r.claim_id = ${claim} AND a.status IN (${live})`;

/** Queues every reminder now due on every shard; answers how many were queued. */
export async function sendDueReminders(env: Bindings, now: Date): Promise<number> {
  const shards = Array.from({ length: shardCount(env) }, (_, shard) => remindShard(env, shard, now));
  const results = await Promise.allSettled(shards);
  const failed = results.filter((r) => r.status === 'rejected');
  // One shard failing does not hold the others back; the run still reports the failure.
  if (failed.length > 0)
    throw new AggregateError(
      failed.map((r) => (r as PromiseRejectedResult).reason),
      'Reminders failed on some shards',
    );
  return results.reduce((sum, r) => sum + (r as PromiseFulfilledResult<number>).value, 0);
}

const dialect = new SQLiteSyncDialect();

/**
 * These statements span the shard's organizations, past the tenant store, and drizzle-orm 0.44's
 * batch() cannot bind raw SQL's parameters: they are prepared on the binding itself.
 */
export function prepare(db: D1Database, query: SQL): D1PreparedStatement {
  const { sql: text, params } = dialect.sqlToQuery(query);
  return db.prepare(text).bind(...params);
}

async function remindShard(env: Bindings, shard: number, now: Date): Promise<number> {
  const db = shardBinding(env, shard, D1Sessions.primary(env));
  const claim = uuidv7();
  const at = (offsetMs: number) => new Date(now.getTime() + offsetMs).toISOString();
  const nowIso = at(0);
  // The reminder due now for an appointment starting at `start` (see REMINDER_GAP_MS), or NULL.
  const dueWindow = (start: SQL) => sql`CASE
    WHEN ${start} <= ${nowIso} THEN NULL
    WHEN ${start} <= ${at(HOUR_MS)} THEN '1h'
    WHEN ${start} > ${at(HOUR_MS + REMINDER_GAP_MS)} AND ${start} <= ${at(24 * HOUR_MS)} THEN '24h' END`;
  const claimedNow = await db.batch<ClaimedRow>([
    prepare(
      db,
      sql`INSERT OR IGNORE INTO reminders_sent
        (id, organization_id, appointment_id, reminder_window, start_time, claim_id, claimed_at, queued_at)
      SELECT ${sql.raw(uuidv7PerRowSql())}, a.organization_id, a.id, ${dueWindow(sql`a.start_time`)}, a.start_time,
        ${claim}, ${nowIso}, NULL
      FROM appointments a
      WHERE a.start_time > ${nowIso} AND a.start_time <= ${at(24 * HOUR_MS)} AND a.status IN (${live})
        AND ${dueWindow(sql`a.start_time`)} IS NOT NULL AND ${notMoving(sql`a.organization_id`)}`,
    ),
    // A dead run's claim is taken over while its window is still the one due: a 24 h reminder
    // whose appointment has come within 2 h is left for the 1 h one.
    prepare(
      db,
      sql`UPDATE reminders_sent SET claim_id = ${claim}, claimed_at = ${nowIso}
      WHERE queued_at IS NULL AND claimed_at < ${at(-CLAIM_TIMEOUT_MS)} AND start_time > ${nowIso}
        AND reminder_window = ${dueWindow(sql`start_time`)} AND ${notMoving(sql`organization_id`)}`,
    ),
    // The appointment as it is now; one moved or cancelled since its claim is not reminded of.
    prepare(
      db,
      sql`SELECT r.id AS reminder_id, r.reminder_window, a.organization_id, a.id,
        ${sql.raw(REMINDED_FIELDS.map((f) => `a.${f}`).join(', '))}
      FROM ${remindedJoin(claim)}`,
    ),
  ]);
  const claimed = claimedNow[2]!.results;
  if (claimed.length === 0) return 0;

  const messages = claimed.map(({ reminder_id, reminder_window, organization_id, ...appointment }) => ({
    body: {
      shard,
      event: {
        id: reminder_id,
        type: 'appointment.reminder',
        created_at: nowIso,
        organization_id,
        data: { window: reminder_window, appointment },
      },
    } satisfies NotificationMessage,
    contentType: 'json' as const,
  }));
  for (let i = 0; i < messages.length; i += SEND_BATCH_MAX) {
    await env.NOTIFICATIONS_QUEUE.sendBatch(messages.slice(i, i + SEND_BATCH_MAX));
  }

  const queuedAt = new Date().toISOString();
  await db.batch([
    // Each reminder's system audit row, under the reminder's id: the outbox trigger makes it the
    // `appointment.reminder` event of the organization's webhook endpoints, in this same batch.
    prepare(
      db,
      sql`INSERT INTO activity_logs (id, organization_id, actor_type, action, resource_type, resource_id, new_data, created_at)
      SELECT r.id, r.organization_id, 'system', 'appointment.reminder', 'appointment', a.id, json_object('window', r.reminder_window,
        ${sql.raw(REMINDED_FIELDS.map((f) => `'${f}', a.${f}`).join(', '))}), ${queuedAt}
      FROM ${remindedJoin(claim)}`,
    ),
    prepare(db, sql`UPDATE reminders_sent SET queued_at = ${queuedAt} WHERE claim_id = ${claim}`),
    // Each appointment's record of what went out: its window(s) of this run, and when.
    prepare(
      db,
      sql`UPDATE appointments SET reminders_sent = json_patch(appointments.reminders_sent, (
        SELECT json_group_object(r.reminder_window, r.queued_at) FROM reminders_sent r WHERE r.claim_id = ${claim}
          AND r.organization_id = appointments.organization_id AND r.appointment_id = appointments.id AND r.start_time
            = appointments.start_time))
      WHERE EXISTS (
      SELECT 1 FROM reminders_sent r WHERE r.claim_id = ${claim} AND r.organization_id = appointments.organization_id
        AND r.appointment_id = appointments.id AND r.start_time = appointments.start_time)`,
    ),
  ]);
  return claimed.length;
}

/** Seconds before the n-th retry: 30 s doubling, at most an hour. */
const backoff = (attempts: number) => Math.min(3600, 30 * 2 ** Math.max(0, attempts - 1));

/**
 * The queue consumer: each reminder to its organization's webhook, if it configured one, and only
 * while it still holds: a reminder that waited in the queue (retries, a backlog) past its
 * appointment's start, or whose appointment was since cancelled, moved or deleted, is
 * acknowledged without a delivery (a moved one gets its own reminders for the new time).
 */
export async function deliverNotifications(batch: MessageBatch<NotificationMessage>, env: Bindings): Promise<void> {
  const { webhooks, current } = await readShards(
    env,
    batch.messages.map((m) => m.body),
  );
  const now = new Date().toISOString();
  // Each webhook URL is checked (its host resolved) once per batch, right before its deliveries.
  const hostChecks = new Map<string, Promise<HostCheck>>();
  const checkHost = (url: string) => hostChecks.get(url) ?? hostChecks.set(url, checkOutboundHost(url, env)).get(url)!;
  await Promise.all(
    batch.messages.map(async (message) => {
      const { event } = message.body;
      const reminded = event.data.appointment;
      const appointment = current.get(appointmentKey(event.organization_id, reminded.id));
      const stillDue =
        appointment !== undefined &&
        appointment.start_time === reminded.start_time &&
        appointment.start_time > now &&
        (LIVE_APPOINTMENT_STATUSES as readonly string[]).includes(appointment.status);
      const webhook = webhooks.get(event.organization_id);
      // No webhook: the queue message was the whole notification.
      if (!stillDue || !webhook) return message.ack();
      // A URL refused now (set before a rule, or a name that resolves to a private address) is not
      // called, nor retried; a failed resolution is retried like a failed delivery (fail closed).
      const host = await checkHost(webhook.url);
      if (!host.ok) {
        console.warn(`webhook ${event.id}: not delivered, ${host.reason}`);
        return host.retry ? message.retry({ delaySeconds: backoff(message.attempts) }) : message.ack();
      }
      try {
        const body = JSON.stringify(event);
        const response = await fetch(webhook.url, {
          method: 'POST',
          body,
          headers: {
            'content-type': 'application/json',
            'user-agent': 'Strive-Webhooks/1.0',
            [EVENT_ID_HEADER]: event.id,
            [SIGNATURE_HEADER]: await signWebhook(webhook.secret, body, Math.floor(Date.now() / 1000)),
          },
          redirect: 'manual',
          signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
        });
        await response.body?.cancel();
        if (response.ok) return message.ack();
        console.warn(`webhook ${event.id}: HTTP ${response.status}, attempt ${message.attempts}`);
      } catch (error) {
        console.warn(`webhook ${event.id} failed, attempt ${message.attempts}:`, error);
      }
      message.retry({ delaySeconds: backoff(message.attempts) });
    }),
  );
}

const appointmentKey = (organizationId: string, id: string) => `${organizationId}/${id}`;

/**
 * For the reminders in a batch: their organizations' webhooks and their appointments as they are
 * now. One batch (one round trip) per shard involved.
 */
async function readShards(env: Bindings, messages: NotificationMessage[]) {
  const webhooks = new Map<string, { url: string; secret: string }>();
  const current = new Map<string, Pick<Appointment, 'start_time' | 'status'>>();
  await Promise.all(
    [...Map.groupBy(messages, (message) => message.shard)].map(async ([shard, inShard]) => {
      const db = shardDb(env, shard, D1Sessions.primary(env));
      const [hooks, rows] = await db.batch([
        db
          .select({
            organization_id: appointment_webhooks.organization_id,
            url: appointment_webhooks.url,
            secret: appointment_webhooks.secret,
          })
          .from(appointment_webhooks)
          .where(
            inArray(appointment_webhooks.organization_id, [...new Set(inShard.map((m) => m.event.organization_id))]),
          ),
        db
          .select({
            organization_id: appointments.organization_id,
            id: appointments.id,
            start_time: appointments.start_time,
            status: appointments.status,
          })
          .from(appointments)
          .where(inArray(appointments.id, [...new Set(inShard.map((m) => m.event.data.appointment.id))])),
      ]);
      for (const { organization_id, ...webhook } of hooks) webhooks.set(organization_id, webhook);
      for (const { organization_id, id, ...row } of rows) current.set(appointmentKey(organization_id, id), row);
    }),
  );
  return { webhooks, current };
}
