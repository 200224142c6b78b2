// The events an organization's webhook endpoints may receive, and the payload each delivery
// carries. Events are written by the outbox trigger on activity_logs (migration 0009, whose list
// of actions is EVENT_TYPES: test/outbound-webhooks.test.ts checks it), so an event is the audit
// row of its change, seen from outside: no address, no user agent. The reminder cron writes a
// system audit row per reminder it sends, so reminders are events like any other.

/** Every type an endpoint may subscribe to: audited actions, the cron's reminders among them. */
export const EVENT_TYPES = [
  'customer.create',
  'customer.update',
  'customer.delete',
  'project.create',
  'project.update',
  'project.delete',
  'task.create',
  'task.update',
  'task.move',
  'task.delete',
  'content.create',
  'content.update',
  'content.delete',
  'content.publish',
  'content.unpublish',
  'content.archive',
  'appointment.create',
  'appointment.update',
  'appointment.delete',
  'appointment.reminder',
  'member.create',
  'member.update',
  'member.delete',
  'conversation.create',
  'conversation.delete',
  'subscription.update',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

type Json = Record<string, unknown>;

export type WebhookEvent = {
  id: string;
  type: EventType | 'ping';
  created_at: string;
  organization_id: string;
  /** The event's place in its organization's order (null for a ping): receivers order by it. */
  sequence: number | null;
  actor: { type: string; id: string | null };
  data: { object: Json; previous?: Json };
};

/** What the consumer reads of an event's audit row. */
export type AuditedEvent = {
  id: string;
  organization_id: string;
  sequence: number | null;
  action: string;
  resource_id: string | null;
  actor_type: string;
  actor_id: string | null;
  old_data: string | null;
  new_data: string | null;
  created_at: string;
};

const parsed = (text: string | null): Json | null => (text ? (JSON.parse(text) as Json) : null);

/**
 * A creation's object is the row as written; a deletion's the row as it was; any other change's
 * the object's id and the fields it set, with their values before in `previous`.
 */
export function eventOf(row: AuditedEvent): WebhookEvent {
  const before = parsed(row.old_data);
  const after = parsed(row.new_data);
  const deleted = row.action.endsWith('.delete');
  const object = deleted ? { id: row.resource_id, ...before } : { id: row.resource_id, ...after };
  return {
    id: row.id,
    type: row.action as EventType,
    created_at: row.created_at,
    organization_id: row.organization_id,
    sequence: row.sequence,
    actor: { type: row.actor_type, id: row.actor_id },
    data: !deleted && before ? { object, previous: before } : { object },
  };
}
