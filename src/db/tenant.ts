// Tenant data (bindings SHARD_0 … SHARD_{n-1}): every row carries organization_id, and an
// organization lives wholly in one shard. References between tenant rows are composite foreign
// keys that include organization_id, so the database itself refuses a project pointing at another
// organization's customer (or a subtask at another project's task). User ids point into the
// catalog, a different database, so they are plain columns.
import { sql, type SQL } from 'drizzle-orm';
import { check, foreignKey, index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { auditColumns, bool, createdAt, hundredths, id, json, oneOf, updatedAt } from './columns';
import {
  ACTOR_TYPES,
  AI_MODELS,
  APPOINTMENT_STATUSES,
  CONTENT_STATUSES,
  CONTENT_TYPES,
  CONTEXT_TYPES,
  CUSTOMER_SOURCES,
  CUSTOMER_STATUSES,
  PRIORITIES,
  PROJECT_STATUSES,
  REMINDER_WINDOWS,
  TASK_STATUSES,
  USAGE_RESOURCE_TYPES,
  WEBHOOK_DELIVERY_STATUSES,
  WEBHOOK_DELIVERY_TRIGGERS,
  WEBHOOK_ENDPOINT_STATUSES,
  type ReminderWindow,
} from './enums';

const organizationId = () => text('organization_id').notNull();

export const customers = sqliteTable(
  'customers',
  {
    id: id(),
    organization_id: organizationId(),
    name: text('name').notNull(),
    email: text('email'),
    phone: text('phone'),
    company: text('company'),
    status: text('status', { enum: CUSTOMER_STATUSES }).notNull().default('lead'),
    source: text('source', { enum: CUSTOMER_SOURCES }),
    tags: json<string[]>('tags').notNull().default([]),
    custom_fields: json<Record<string, unknown>>('custom_fields').notNull().default({}),
    assigned_to: text('assigned_to'),
    notes: text('notes'),
    created_by: text('created_by'),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    uniqueIndex('customers_org_id_unique').on(t.organization_id, t.id),
    index('customers_email_idx').on(t.email),
    index('customers_org_status_idx').on(t.organization_id, t.status),
    index('customers_assigned_to_idx').on(t.assigned_to),
    check('customers_status_check', oneOf('status', CUSTOMER_STATUSES)),
    check('customers_source_check', sql`source IS NULL OR ${oneOf('source', CUSTOMER_SOURCES)}`),
    check('customers_tags_check', sql`json_valid(tags)`),
    check('customers_custom_fields_check', sql`json_valid(custom_fields)`),
  ],
);

export const projects = sqliteTable(
  'projects',
  {
    id: id(),
    organization_id: organizationId(),
    customer_id: text('customer_id'),
    name: text('name').notNull(),
    description: text('description'),
    status: text('status', { enum: PROJECT_STATUSES }).notNull().default('planning'),
    priority: text('priority', { enum: PRIORITIES }).notNull().default('medium'),
    start_date: text('start_date'),
    due_date: text('due_date'),
    completion_date: text('completion_date'),
    budget: hundredths('budget'),
    progress_percentage: integer('progress_percentage').notNull().default(0),
    project_manager_id: text('project_manager_id'),
    tags: json<string[]>('tags').notNull().default([]),
    created_by: text('created_by'),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    uniqueIndex('projects_org_id_unique').on(t.organization_id, t.id),
    foreignKey({
      columns: [t.organization_id, t.customer_id],
      foreignColumns: [customers.organization_id, customers.id],
    }),
    index('projects_customer_idx').on(t.customer_id),
    index('projects_manager_idx').on(t.project_manager_id),
    check('projects_status_check', oneOf('status', PROJECT_STATUSES)),
    check('projects_priority_check', oneOf('priority', PRIORITIES)),
    check('projects_progress_check', sql`progress_percentage BETWEEN 0 AND 100`),
    check('projects_dates_check', sql`due_date IS NULL OR start_date IS NULL OR due_date >= start_date`),
  ],
);

export const tasks = sqliteTable(
  'tasks',
  {
    id: id(),
    organization_id: organizationId(),
    project_id: text('project_id').notNull(),
    /** A task of the same project; deleting it deletes its subtasks. */
    parent_task_id: text('parent_task_id'),
    title: text('title').notNull(),
    description: text('description'),
    status: text('status', { enum: TASK_STATUSES }).notNull().default('todo'),
    priority: text('priority', { enum: PRIORITIES }).notNull().default('medium'),
    assigned_to: text('assigned_to'),
    /** An instant, ISO 8601 UTC (`2026-12-04T00:00:00.000Z`). */
    due_date: text('due_date'),
    estimated_hours: hundredths('estimated_hours'),
    actual_hours: hundredths('actual_hours'),
    tags: json<string[]>('tags').notNull().default([]),
    /** Order inside its column: integers with gaps, renumbered in one batch when a gap closes. */
    position: integer('position').notNull().default(0),
    /** Incremented on every change; a write carrying a stale version is refused (409). */
    version: integer('version').notNull().default(1),
    completed_at: text('completed_at'),
    created_by: text('created_by'),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    index('tasks_status_assigned_to_idx').on(t.status, t.assigned_to),
    index('tasks_project_board_idx').on(t.project_id, t.status, t.position),
    index('tasks_org_assigned_idx').on(t.organization_id, t.assigned_to, t.id),
    // Newest-first pages across projects, and of one status: walked in id order, never sorted.
    index('tasks_org_id_idx').on(t.organization_id, t.id),
    index('tasks_org_status_id_idx').on(t.organization_id, t.status, t.id),
    index('tasks_parent_idx').on(t.parent_task_id),
    index('tasks_created_by_idx').on(t.created_by),
    uniqueIndex('tasks_org_project_id_unique').on(t.organization_id, t.project_id, t.id),
    foreignKey({
      columns: [t.organization_id, t.project_id],
      foreignColumns: [projects.organization_id, projects.id],
    }).onDelete('cascade'),
    foreignKey({
      columns: [t.organization_id, t.project_id, t.parent_task_id],
      foreignColumns: [t.organization_id, t.project_id, t.id],
    }).onDelete('cascade'),
    check('tasks_status_check', oneOf('status', TASK_STATUSES)),
    check('tasks_priority_check', oneOf('priority', PRIORITIES)),
    check('tasks_version_check', sql`version >= 1`),
  ],
);

export type ConversationMessage = {
  /** UUID v7: what a socket's `delta` names while the message is being written. */
  id?: string;
  role: 'user' | 'assistant' | 'system' | 'tool';
  content: string;
  created_at: string;
  model?: string;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  status?: 'complete' | 'cancelled' | 'failed';
  /** Why a failed answer stopped. */
  error?: { code: string; detail: string };
  /** A `tool` message: the call the model made (its result is `content`). */
  tool?: { name: string; arguments: string };
};

export const ai_conversations = sqliteTable(
  'ai_conversations',
  {
    id: id(),
    organization_id: organizationId(),
    user_id: text('user_id').notNull(),
    title: text('title'),
    context_type: text('context_type', { enum: CONTEXT_TYPES }).notNull().default('general'),
    context_id: text('context_id'),
    ai_model: text('ai_model', { enum: AI_MODELS }).notNull().default('openai_gpt4'),
    conversation_data: json<ConversationMessage[]>('conversation_data').notNull().default([]),
    usage_tokens: integer('usage_tokens').notNull().default(0),
    is_archived: bool('is_archived').notNull().default(false),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    index('ai_conversations_user_created_idx').on(t.user_id, t.created_at),
    index('ai_conversations_org_id_idx').on(t.organization_id, t.id),
    check('ai_conversations_context_type_check', oneOf('context_type', CONTEXT_TYPES)),
    check('ai_conversations_ai_model_check', oneOf('ai_model', AI_MODELS)),
    check('ai_conversations_context_check', sql`context_type = 'general' OR context_id IS NOT NULL`),
    check('ai_conversations_data_check', sql`json_valid(conversation_data)`),
  ],
);

/** `{"24h": "2026-12-02T15:00:03.112Z", "1h": null}`: each window's reminder, when it was queued. */
export type RemindersSent = Record<ReminderWindow, string | null>;
export const NO_REMINDERS_SENT: RemindersSent = { '24h': null, '1h': null };

export const appointments = sqliteTable(
  'appointments',
  {
    id: id(),
    organization_id: organizationId(),
    customer_id: text('customer_id'),
    assigned_to: text('assigned_to'),
    title: text('title').notNull(),
    description: text('description'),
    start_time: text('start_time').notNull(),
    end_time: text('end_time').notNull(),
    status: text('status', { enum: APPOINTMENT_STATUSES }).notNull().default('scheduled'),
    location: text('location'),
    meeting_url: text('meeting_url'),
    /**
     * Which reminders for the current start_time were queued, and when, copied from the
     * reminders_sent ledger by the job that queues them; a move resets it.
     */
    reminders_sent: json<RemindersSent>('reminders_sent').notNull().default(NO_REMINDERS_SENT),
    created_by: text('created_by'),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    uniqueIndex('appointments_org_id_unique').on(t.organization_id, t.id),
    index('appointments_org_start_idx').on(t.organization_id, t.start_time),
    index('appointments_assignee_start_idx').on(t.assigned_to, t.start_time),
    // The reminder cron looks across the shard's organizations for what starts soon.
    index('appointments_start_idx').on(t.start_time),
    index('appointments_customer_idx').on(t.customer_id),
    foreignKey({
      columns: [t.organization_id, t.customer_id],
      foreignColumns: [customers.organization_id, customers.id],
    }),
    check('appointments_status_check', oneOf('status', APPOINTMENT_STATUSES)),
    check('appointments_time_check', sql`end_time > start_time`),
  ],
);

/**
 * One row per reminder ever queued: the unique index on (appointment, window, start time) is what
 * makes a doubled or overlapping cron run send nothing twice. A moved appointment gets new
 * reminders for its new start time.
 */
export const reminders_sent = sqliteTable(
  'reminders_sent',
  {
    id: id(),
    organization_id: organizationId(),
    appointment_id: text('appointment_id').notNull(),
    reminder_window: text('reminder_window', { enum: REMINDER_WINDOWS }).notNull(),
    /** The appointment's start_time this reminder is for. */
    start_time: text('start_time').notNull(),
    /** The cron run that claimed it; a claim never queued is taken over by a later run. */
    claim_id: text('claim_id').notNull(),
    claimed_at: text('claimed_at').notNull(),
    queued_at: text('queued_at'),
  },
  (t) => [
    uniqueIndex('reminders_sent_appointment_window_unique').on(t.appointment_id, t.reminder_window, t.start_time),
    index('reminders_sent_claim_idx').on(t.claim_id),
    index('reminders_sent_unqueued_idx').on(t.queued_at, t.claimed_at),
    foreignKey({
      columns: [t.organization_id, t.appointment_id],
      foreignColumns: [appointments.organization_id, appointments.id],
    }).onDelete('cascade'),
    check('reminders_sent_window_check', oneOf('reminder_window', REMINDER_WINDOWS)),
  ],
);

/** Where an organization's appointment notifications are POSTed, signed with `secret` (HMAC-SHA256). */
export const appointment_webhooks = sqliteTable(
  'appointment_webhooks',
  {
    /** The organization's id: one webhook per organization. */
    id: id(),
    organization_id: organizationId(),
    url: text('url').notNull(),
    secret: text('secret').notNull(),
    created_by: text('created_by'),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    uniqueIndex('appointment_webhooks_org_unique').on(t.organization_id),
    check('appointment_webhooks_url_check', sql`url LIKE 'https://%'`),
    check('appointment_webhooks_id_check', sql`id = organization_id`),
  ],
);

/** The keys Strive reads; any other key of the client's is kept as sent. */
export type SeoMeta = {
  title?: string;
  description?: string;
  canonical_url?: string;
  image?: string;
  [key: string]: unknown;
};

export const content = sqliteTable(
  'content',
  {
    id: id(),
    organization_id: organizationId(),
    title: text('title').notNull(),
    slug: text('slug').notNull(),
    content: text('content').notNull().default(''),
    /** The sanitised HTML rendering of `content`, made once per change. */
    html: text('html').notNull().default(''),
    excerpt: text('excerpt'),
    content_type: text('content_type', { enum: CONTENT_TYPES }).notNull().default('page'),
    status: text('status', { enum: CONTENT_STATUSES }).notNull().default('draft'),
    seo_meta: json<SeoMeta>('seo_meta').notNull().default({}),
    author_id: text('author_id'),
    published_at: text('published_at'),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    uniqueIndex('content_org_slug_unique').on(t.organization_id, t.slug),
    // The public list and feed (newest publication first, then id) and the next scheduled time.
    index('content_org_status_published_id_idx').on(t.organization_id, t.status, t.published_at, t.id),
    index('content_author_idx').on(t.author_id),
    // The newest-first list: walked in id order, never sorted.
    index('content_org_id_idx').on(t.organization_id, t.id),
    check('content_type_check', oneOf('content_type', CONTENT_TYPES)),
    check('content_status_check', oneOf('status', CONTENT_STATUSES)),
    check('content_seo_meta_check', sql`json_valid(seo_meta)`),
  ],
);

/**
 * CMS files. The bytes live in R2 (`ASSETS`) under `r2_key` = orgs/{organization_id}/assets/{id}/{file_name};
 * this row is what makes an object part of the organization: no row, no asset.
 */
export const assets = sqliteTable(
  'assets',
  {
    id: id(),
    organization_id: organizationId(),
    file_name: text('file_name').notNull(),
    content_type: text('content_type').notNull(),
    /** Bytes. */
    size: integer('size').notNull(),
    /** R2's quoted HTTP ETag of the object. */
    etag: text('etag').notNull(),
    r2_key: text('r2_key').notNull(),
    created_by: text('created_by'),
    created_at: createdAt(),
  },
  (t) => [
    // Also the newest-first list's index.
    uniqueIndex('assets_org_id_unique').on(t.organization_id, t.id),
    // Covers the storage quota's sum of sizes.
    index('assets_org_size_idx').on(t.organization_id, t.size),
    check('assets_size_check', sql`size >= 0`),
  ],
);

/**
 * Bytes an upload holds while it streams into R2: taken before a byte is read, by one statement
 * that checks them against the tier's limit together with every asset and every other live
 * reservation, and released in the batch that writes the asset's row (or when the upload fails).
 * One that its upload never released (the isolate died) lapses at `expires_at`.
 */
export const storage_reservations = sqliteTable(
  'storage_reservations',
  {
    /** The asset's id. */
    id: id(),
    organization_id: organizationId(),
    bytes: integer('bytes').notNull(),
    expires_at: text('expires_at').notNull(),
    created_at: createdAt(),
  },
  (t) => [
    index('storage_reservations_org_expires_idx').on(t.organization_id, t.expires_at),
    check('storage_reservations_bytes_check', sql`bytes > 0`),
  ],
);

export const usage_tracking = sqliteTable(
  'usage_tracking',
  {
    id: id(),
    organization_id: organizationId(),
    user_id: text('user_id'),
    resource_type: text('resource_type', { enum: USAGE_RESOURCE_TYPES }).notNull(),
    resource_name: text('resource_name').notNull().default(''),
    usage_amount: integer('usage_amount').notNull().default(0),
    /** The month's first day, `YYYY-MM-01` (UTC). */
    billing_period: text('billing_period').notNull(),
    /**
     * What the consumer recorded of the events added up here: `events` (how many),
     * `first_event_at`, `last_event_at`. Other keys are kept.
     */
    metadata: json<Record<string, unknown>>('metadata').notNull().default({}),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    index('usage_tracking_org_period_idx').on(t.organization_id, t.billing_period),
    index('usage_tracking_user_idx').on(t.user_id),
    // The consumer's upsert target. SQLite treats NULLs as distinct in a unique index, so a null
    // user_id (usage of no one in particular) is keyed as '' here, or each event would add a row.
    // (A CASE, not coalesce(): drizzle-kit splits index expressions at commas.)
    uniqueIndex('usage_tracking_aggregate_unique').on(
      t.organization_id,
      sql`(CASE WHEN user_id IS NULL THEN '' ELSE user_id END)`,
      t.resource_type,
      t.resource_name,
      t.billing_period,
    ),
    check('usage_tracking_resource_type_check', oneOf('resource_type', USAGE_RESOURCE_TYPES)),
    check('usage_tracking_period_check', sql`billing_period GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-01'`),
  ],
);

/**
 * Every usage event counted, by its own id: the consumer inserts an event and adds it to
 * usage_tracking in one batch, and only if this batch inserted it (`counted_in`), so a redelivered
 * event is never counted twice.
 */
export const usage_events = sqliteTable(
  'usage_events',
  {
    id: id(),
    organization_id: organizationId(),
    user_id: text('user_id'),
    resource_type: text('resource_type', { enum: USAGE_RESOURCE_TYPES }).notNull(),
    resource_name: text('resource_name').notNull().default(''),
    quantity: integer('quantity').notNull(),
    /**
     * The month, `YYYY-MM` (usage_tracking's period without its day): this ledger gets a row per
     * event, too many to rewrite for a change of format.
     */
    billing_period: text('billing_period').notNull(),
    occurred_at: text('occurred_at').notNull(),
    /** The consumer batch that inserted (and so counted) this event. */
    counted_in: text('counted_in').notNull(),
    created_at: createdAt(),
  },
  (t) => [
    index('usage_events_counted_in_idx').on(t.counted_in),
    index('usage_events_org_period_idx').on(t.organization_id, t.billing_period),
    check('usage_events_resource_type_check', oneOf('resource_type', USAGE_RESOURCE_TYPES)),
    check('usage_events_period_check', sql`billing_period GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]'`),
    check('usage_events_quantity_check', sql`typeof(quantity) = 'integer'`),
  ],
);

export const activity_logs = sqliteTable(
  'activity_logs',
  {
    id: id(),
    organization_id: organizationId(),
    ...auditColumns(ACTOR_TYPES),
  },
  (t) => [
    index('activity_logs_org_created_idx').on(t.organization_id, t.created_at),
    // Lists are newest first by id (UUID v7): without this every page sorted the whole log.
    index('activity_logs_org_id_idx').on(t.organization_id, t.id),
    index('activity_logs_org_resource_idx').on(t.organization_id, t.resource_type, t.resource_id),
    index('activity_logs_org_user_idx').on(t.organization_id, t.user_id),
    check('activity_logs_actor_type_check', oneOf('actor_type', ACTOR_TYPES)),
  ],
);

// ── Outbound webhooks ──────────────────────────────────────────────────────────────────────────
// A trigger on activity_logs (migrations 0008, 0009) writes the outbox row of every audited change an
// integration may subscribe to, in the statement that writes the audit row: an event exists if
// and only if its change committed, and a withdrawn audit row takes its event with it.

/** Where an organization's events are POSTed, signed by the Standard Webhooks scheme. */
export const webhook_endpoints = sqliteTable(
  'webhook_endpoints',
  {
    id: id(),
    organization_id: organizationId(),
    url: text('url').notNull(),
    description: text('description'),
    /** The event types it receives; null: all of them. */
    event_types: json<string[]>('event_types'),
    status: text('status', { enum: WEBHOOK_ENDPOINT_STATUSES }).notNull().default('active'),
    /** Why it was paused by Strive (410 Gone, failing for 3 days); null when a person paused it. */
    paused_reason: text('paused_reason'),
    /** `whsec_…`: signs every delivery. */
    secret: text('secret').notNull(),
    /** The secret before the last rotation: it signs too until previous_secret_expires_at. */
    previous_secret: text('previous_secret'),
    previous_secret_expires_at: text('previous_secret_expires_at'),
    /** The first failure since the last success: 3 days of failures pause the endpoint. */
    failing_since: text('failing_since'),
    created_by: text('created_by'),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    uniqueIndex('webhook_endpoints_org_id_unique').on(t.organization_id, t.id),
    check('webhook_endpoints_url_check', sql`url LIKE 'https://%'`),
    check('webhook_endpoints_status_check', oneOf('status', WEBHOOK_ENDPOINT_STATUSES)),
  ],
);

/**
 * Organizations on their way off this shard (modules/platform/moves.ts): triggers on every tenant
 * table refuse their writes (tenant migration 0010), whoever writes; `releasing` is set only
 * inside the move's own delete batches.
 */
export const move_fences = sqliteTable('move_fences', {
  organization_id: text('organization_id').primaryKey(),
  move_id: text('move_id').notNull(),
  releasing: bool('releasing').notNull().default(false),
  created_at: createdAt(),
});

/**
 * For statements across a shard's organizations (the cron, the outbox): leaves out those a move
 * fences, whose rows would fail the whole statement.
 */
export const notMoving = (organizationId: SQL) =>
  sql`${organizationId} NOT IN (SELECT organization_id FROM ${move_fences})`;

/** The organization's last event sequence number (never reused, even when an event is withdrawn). */
export const webhook_sequences = sqliteTable('webhook_sequences', {
  organization_id: text('organization_id').primaryKey(),
  last: integer('last').notNull(),
});

/** The outbox: one row per event, written by the trigger; dispatched once turned into deliveries. */
export const webhook_events = sqliteTable(
  'webhook_events',
  {
    /** The audit row's id: the event is built from it. */
    id: text('id')
      .primaryKey()
      .references(() => activity_logs.id, { onDelete: 'cascade' }),
    organization_id: organizationId(),
    sequence: integer('sequence').notNull(),
    type: text('type').notNull(),
    created_at: createdAt(),
    dispatched_at: text('dispatched_at'),
  },
  (t) => [
    uniqueIndex('webhook_events_org_sequence_unique').on(t.organization_id, t.sequence),
    index('webhook_events_undispatched_idx').on(t.dispatched_at, t.organization_id),
  ],
);

/** One delivery of one event (or ping) to one endpoint, with its last attempt's outcome. */
export const webhook_deliveries = sqliteTable(
  'webhook_deliveries',
  {
    id: id(),
    organization_id: organizationId(),
    endpoint_id: text('endpoint_id').notNull(),
    /** The event's id (the `webhook-id` header); a ping's own id. */
    event_id: text('event_id').notNull(),
    event_type: text('event_type').notNull(),
    /** The event's sequence number; null for a ping. */
    sequence: integer('sequence'),
    trigger: text('trigger', { enum: WEBHOOK_DELIVERY_TRIGGERS }).notNull(),
    status: text('status', { enum: WEBHOOK_DELIVERY_STATUSES }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    /** A consumer sending it holds it until then; a crashed one's claim lapses. */
    claimed_until: text('claimed_until'),
    /** The consumer run holding it: its later deliveries to the endpoint wait for no one else's. */
    claim_id: text('claim_id'),
    next_attempt_at: text('next_attempt_at').notNull(),
    first_attempt_at: text('first_attempt_at'),
    last_attempt_at: text('last_attempt_at'),
    response_status: integer('response_status'),
    /** The first 1 KB of the receiver's answer, or why no answer came. */
    response_body: text('response_body'),
    latency_ms: integer('latency_ms'),
    created_at: createdAt(),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_event_unique')
      .on(t.endpoint_id, t.event_id)
      .where(sql`"trigger" = 'event'`),
    index('webhook_deliveries_endpoint_idx').on(t.organization_id, t.endpoint_id, t.id),
    index('webhook_deliveries_sending_idx').on(t.endpoint_id, t.status),
    index('webhook_deliveries_stale_idx').on(t.status, t.next_attempt_at),
    foreignKey({
      columns: [t.organization_id, t.endpoint_id],
      foreignColumns: [webhook_endpoints.organization_id, webhook_endpoints.id],
    }).onDelete('cascade'),
    check('webhook_deliveries_status_check', oneOf('status', WEBHOOK_DELIVERY_STATUSES)),
    check('webhook_deliveries_trigger_check', oneOf('trigger', WEBHOOK_DELIVERY_TRIGGERS)),
  ],
);
