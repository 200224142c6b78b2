// What Strive stores beyond the seed schema (the data model the product was specified from), in
// one place, each with its reason. The schema's own columns and values are all there under their
// names; these come on top: `column` for a column, `column=value` for an enum value.

/** Tenant tables (every SHARD_n). */
export const TENANT_ADDITIONS: Record<string, Record<string, string>> = {
  customers: {
    notes: 'Free text about the customer, for the people who work with them.',
    created_by: 'Who created the customer (audit at a glance, without the activity log).',
    'status=inactive': 'A customer who is neither active nor lost (churned): paused, dormant.',
    'source=phone': 'Came in by a phone call.',
    'source=event': 'Met at an event (fair, meetup).',
    'source=advertising': 'Came through paid advertising.',
  },
  projects: {
    tags: 'Searchable labels, as customers and tasks have.',
    created_by: 'Who created the project.',
  },
  tasks: {
    organization_id: 'Every tenant row carries its organization: the composite foreign keys keep a task in its project\'s organization.',
    version: 'Optimistic concurrency: a write carrying a stale version is refused (409).',
    completed_at: 'When the task was last done, set and cleared with the status.',
  },
  ai_conversations: {},
  usage_tracking: {
    updated_at: 'When the consumer last added events to the total.',
  },
  appointments: {
    created_by: 'Who booked the appointment.',
  },
  content: {
    html: 'The sanitised HTML rendering of `content`, made once per write and served publicly.',
  },
  activity_logs: {
    actor_type: 'Who acted: a user, an API key, the system, a webhook or the AI assistant.',
    actor_id: 'The acting API key, webhook source or conversation, where user_id alone does not say.',
    request_id: 'The request that made the change (also in its response and problem bodies).',
  },
};

/** Tenant tables the seed schema does not have. */
export const TENANT_ADDITIONAL_TABLES: Record<string, string> = {
  reminders_sent: 'The ledger of appointment reminders (unique per appointment, window and start time): no reminder is sent twice.',
  appointment_webhooks: 'Where an organization\'s appointment reminders are delivered, and the secret that signs them.',
  assets: 'CMS files: the row that makes an R2 object part of an organization.',
  usage_events: 'Every usage event counted, by its id: the consumer counts an event exactly once into usage_tracking.',
};
