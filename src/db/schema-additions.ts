// What Strive holds beyond SCHEMA.md (the data model it was specified from), each with its reason,
// in one place: table → column (or `column=value` for an enum value, `*` for a whole table SCHEMA.md
// does not have) → why. Everything SCHEMA.md names exists under its name with its values; these
// are additions, never renames. "(not in the API)": internal, never answered.

/** Catalog tables (binding CATALOG). */
export const CATALOG_ADDITIONS: Record<string, Record<string, string>> = {
  users: {
    first_name: "Clerk's first name, kept beside `name` (their full name)",
    last_name: "Clerk's last name, kept beside `name`",
    last_login_at: 'when the user last signed in (first-use provisioning)',
    clerk_updated_at:
      "Clerk's updated_at of the newest user event applied, so an older event never wins (not in the API)",
  },
  organizations: {
    logo_url: "the organization's logo, shown by clients",
    website: "the organization's site: the public feed's link",
    shard: 'which tenant shard holds every row of the organization (not in the API)',
    stripe_customer_id: 'the Stripe customer checkout and the portal reuse (not in the API)',
    stripe_checkout_session_id:
      'the last Checkout Session opened, expired by the next checkout so that only one is paid (not in the API)',
    created_by: 'who created the organization (not in the API)',
  },
  organization_members: {
    invited_by: 'who added the member',
    updated_at: 'when the role or permissions last changed',
    calendar_token_hash: "SHA-256 of the member's calendar feed token (not in the API)",
  },
  subscriptions: {
    stripe_price_id: 'the Stripe price subscribed to; the tier is its lookup_key (not in the API)',
    canceled_at: "when Stripe canceled it (Stripe's canceled_at)",
    trial_end: "when Stripe's trial ends",
    stripe_event_created:
      'created time of the newest subscription event applied: an older event never rolls state back (not in the API)',
    stripe_invoice_created:
      'created time of the newest invoice event applied: a late failure never undoes a newer payment (not in the API)',
    'status=trialing': "Stripe's status during a trial (the organization's subscription_status is then `trial`)",
    'status=incomplete': "Stripe's status until the first payment succeeds",
    'status=incomplete_expired': "Stripe's status when the first payment never succeeded",
    'status=paused': "Stripe's status of a paused subscription",
  },
  ai_tools: {
    function_name: 'derived from `name` (snake_case, unique): the function name the model calls',
    'required_tier=free': 'tools every organization may use (SCHEMA.md starts required_tier at basic)',
  },
  api_keys: { '*': 'organization API keys (scoped credentials for servers); not in SCHEMA.md' },
  platform_activity_logs: {
    '*': "the audit log of platform-wide changes (a user's global role), which belong to no organization",
  },
  processed_events: { '*': 'webhook deliveries already applied (Stripe, Clerk), recorded with their effect' },
  usage_dead_letters: { '*': 'usage events the consumer could not count, kept for replay' },
  idempotency_keys: { '*': 'first answers of requests sent with an Idempotency-Key, replayed for 24 h' },
  shards: {
    '*':
      'the tenant shards, each with its region (location hint or `eu`) and whether it takes new organizations: ' +
      "where placement puts an organization's data",
  },
  organization_moves: {
    '*': "moves of an organization between shards: each one's phase, progress and checks, resumable after a crash",
  },
};

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
    organization_id:
      "Every tenant row carries its organization: the composite foreign keys keep a task in its project's organization.",
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
  reminders_sent: {
    '*': 'The ledger of appointment reminders (unique per appointment, window and start time): no reminder is sent twice.',
  },
  appointment_webhooks: {
    '*': "Where an organization's appointment reminders are delivered, and the secret that signs them.",
  },
  assets: { '*': 'CMS files: the row that makes an R2 object part of an organization.' },
  webhook_endpoints: {
    '*': "Where an organization's events are POSTed (outbound webhooks), with the secrets that sign them.",
  },
  webhook_events: {
    '*': 'The outbox: one row per event, written by a trigger with its audit row, numbered per organization.',
  },
  webhook_sequences: { '*': "Each organization's last event sequence number, so that none is ever reused." },
  webhook_deliveries: {
    '*': 'Each delivery of an event to an endpoint: its status and last attempt (code, latency, 1 KB).',
  },
  usage_events: {
    '*': 'Every usage event counted, by its id: the consumer counts an event exactly once into usage_tracking.',
  },
  storage_reservations: {
    '*': 'Bytes held for uploads in flight, so that concurrent uploads cannot pass the storage quota together.',
  },
  move_fences: {
    '*': 'Organizations on their way off this shard: triggers refuse their writes while a move copies them.',
  },
};
