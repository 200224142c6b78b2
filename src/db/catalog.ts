// The control plane (binding CATALOG): who exists, which organizations exist, where each one lives.
import { sql } from 'drizzle-orm';
import { check, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { auditColumns, bool, createdAt, id, json, oneOf, updatedAt } from './columns';
import {
  ACTOR_TYPES,
  AI_TOOL_TYPES,
  DATA_REGIONS,
  MEMBER_ROLES,
  MOVE_PHASES,
  ORG_SUBSCRIPTION_STATUSES,
  SUBSCRIPTION_STATUSES,
  TIERS,
  USER_ROLES,
  WEBHOOK_SOURCES,
} from './enums';

export type MemberPermissions = { grant: string[]; deny: string[] };

export const users = sqliteTable(
  'users',
  {
    id: id(),
    clerk_user_id: text('clerk_user_id'),
    email: text('email').notNull(),
    first_name: text('first_name'),
    last_name: text('last_name'),
    name: text('name'),
    avatar_url: text('avatar_url'),
    role: text('role', { enum: USER_ROLES }).notNull().default('employee'),
    subscription_tier: text('subscription_tier', { enum: TIERS }).notNull().default('free'),
    is_active: bool('is_active').notNull().default(true),
    last_login_at: text('last_login_at'),
    /** Clerk's own `updated_at` (ms) of the newest user event applied: older events never win. */
    clerk_updated_at: integer('clerk_updated_at'),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    uniqueIndex('users_clerk_user_id_unique').on(t.clerk_user_id),
    uniqueIndex('users_email_unique').on(t.email),
    check('users_role_check', oneOf('role', USER_ROLES)),
    check('users_subscription_tier_check', oneOf('subscription_tier', TIERS)),
  ],
);

export const organizations = sqliteTable(
  'organizations',
  {
    id: id(),
    name: text('name').notNull(),
    slug: text('slug').notNull(),
    description: text('description'),
    logo_url: text('logo_url'),
    website: text('website'),
    settings: json<Record<string, unknown>>('settings').notNull().default({}),
    /** Derived from the subscription row by the batch that changes it (billing/tiers.ts orgSubscriptionStatus). */
    subscription_status: text('subscription_status', { enum: ORG_SUBSCRIPTION_STATUSES }).notNull().default('active'),
    /** The Stripe customer's email: sent when checkout creates or reuses the customer. */
    billing_email: text('billing_email'),
    /** The tenant shard (SHARD_n) that holds every row of this organization. */
    shard: integer('shard').notNull(),
    stripe_customer_id: text('stripe_customer_id'),
    /** The last Checkout Session opened: the next checkout expires it if still open (two paid sessions would make two subscriptions). */
    stripe_checkout_session_id: text('stripe_checkout_session_id'),
    created_by: text('created_by').references(() => users.id),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    uniqueIndex('organizations_slug_unique').on(t.slug),
    index('organizations_shard_idx').on(t.shard),
    uniqueIndex('organizations_stripe_customer_id_unique').on(t.stripe_customer_id),
    check('organizations_subscription_status_check', oneOf('subscription_status', ORG_SUBSCRIPTION_STATUSES)),
    check('organizations_slug_check', sql`slug GLOB '[a-z0-9]*' AND slug NOT GLOB '*[^a-z0-9-]*'`),
    check('organizations_shard_check', sql`shard >= 0`),
  ],
);

export const organization_members = sqliteTable(
  'organization_members',
  {
    id: id(),
    organization_id: text('organization_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    user_id: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: text('role', { enum: MEMBER_ROLES }).notNull().default('member'),
    /** Per-member adjustments to the role's permissions; deny wins. */
    permissions: json<MemberPermissions>('permissions').notNull().default({ grant: [], deny: [] }),
    invited_by: text('invited_by').references(() => users.id),
    joined_at: text('joined_at'),
    /** SHA-256 of the member's calendar feed token (`?token=` on appointments.ics); rotating replaces it. */
    calendar_token_hash: text('calendar_token_hash'),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    uniqueIndex('organization_members_org_user_unique').on(t.organization_id, t.user_id),
    uniqueIndex('organization_members_calendar_token_unique').on(t.calendar_token_hash),
    index('organization_members_user_idx').on(t.user_id),
    index('organization_members_org_id_idx').on(t.organization_id, t.id),
    check('organization_members_role_check', oneOf('role', MEMBER_ROLES)),
    check('organization_members_permissions_check', sql`json_valid(permissions)`),
  ],
);

export const subscriptions = sqliteTable(
  'subscriptions',
  {
    id: id(),
    organization_id: text('organization_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    stripe_subscription_id: text('stripe_subscription_id'),
    stripe_customer_id: text('stripe_customer_id'),
    stripe_price_id: text('stripe_price_id'),
    tier: text('tier', { enum: TIERS }).notNull().default('free'),
    status: text('status', { enum: SUBSCRIPTION_STATUSES }).notNull().default('active'),
    current_period_start: text('current_period_start'),
    current_period_end: text('current_period_end'),
    cancel_at_period_end: bool('cancel_at_period_end').notNull().default(false),
    canceled_at: text('canceled_at'),
    trial_end: text('trial_end'),
    /** `created` of the newest Stripe event applied: an older event never rolls state back. */
    stripe_event_created: integer('stripe_event_created'),
    /** `created` of the newest invoice event applied: a late failed payment never undoes a newer paid one. */
    stripe_invoice_created: integer('stripe_invoice_created'),
    /** The Stripe subscription's metadata, as its newest applied event carried it. */
    metadata: json<Record<string, string>>('metadata').notNull().default({}),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    uniqueIndex('subscriptions_organization_unique').on(t.organization_id),
    uniqueIndex('subscriptions_stripe_subscription_id_unique').on(t.stripe_subscription_id),
    check('subscriptions_tier_check', oneOf('tier', TIERS)),
    check('subscriptions_status_check', oneOf('status', SUBSCRIPTION_STATUSES)),
    check('subscriptions_metadata_check', sql`json_valid(metadata)`),
  ],
);

/** `configuration` keys the product reads; any others are kept as sent. */
export type AiToolConfiguration = { parameters?: Record<string, unknown> } & Record<string, unknown>;

export const ai_tools = sqliteTable(
  'ai_tools',
  {
    id: id(),
    /** Free text, shown to people. */
    name: text('name').notNull(),
    /** Derived from `name` (snake_case): the function name the model calls; unique. */
    function_name: text('function_name').notNull(),
    description: text('description'),
    tool_type: text('tool_type', { enum: AI_TOOL_TYPES }).notNull(),
    /** The lowest tier that may use the tool. */
    required_tier: text('required_tier', { enum: TIERS }).notNull().default('free'),
    /** Tool-specific settings; `parameters` (a JSON Schema) is what the model is offered as the function's arguments. */
    configuration: json<AiToolConfiguration>('configuration').notNull().default({}),
    is_active: bool('is_active').notNull().default(true),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    uniqueIndex('ai_tools_function_name_unique').on(t.function_name),
    check('ai_tools_tool_type_check', oneOf('tool_type', AI_TOOL_TYPES)),
    check('ai_tools_required_tier_check', oneOf('required_tier', TIERS)),
    check('ai_tools_configuration_check', sql`json_valid(configuration)`),
  ],
);

export const api_keys = sqliteTable(
  'api_keys',
  {
    id: id(),
    organization_id: text('organization_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    created_by: text('created_by')
      .notNull()
      .references(() => users.id),
    name: text('name').notNull(),
    /** The first characters of the secret, shown in lists so a key can be recognised. */
    prefix: text('prefix').notNull(),
    /** SHA-256 of the whole secret (hex); the secret itself is never stored. */
    key_hash: text('key_hash').notNull(),
    scopes: json<string[]>('scopes').notNull(),
    expires_at: text('expires_at'),
    last_used_at: text('last_used_at'),
    revoked_at: text('revoked_at'),
    created_at: createdAt(),
  },
  (t) => [
    uniqueIndex('api_keys_key_hash_unique').on(t.key_hash),
    index('api_keys_org_id_idx').on(t.organization_id, t.id),
    check('api_keys_scopes_check', sql`json_valid(scopes)`),
  ],
);

/**
 * The audit log of platform-wide changes (a user's global role), which belong to no organization
 * and so to no shard's activity_logs: the same columns without organization_id.
 */
export const platform_activity_logs = sqliteTable(
  'platform_activity_logs',
  {
    id: id(),
    ...auditColumns(ACTOR_TYPES),
  },
  (t) => [
    index('platform_activity_logs_resource_idx').on(t.resource_type, t.resource_id),
    check('platform_activity_logs_actor_type_check', oneOf('actor_type', ACTOR_TYPES)),
  ],
);

/** Webhook deliveries already applied, recorded in the same batch as their effect. */
export const processed_events = sqliteTable(
  'processed_events',
  {
    source: text('source', { enum: WEBHOOK_SOURCES }).notNull(),
    event_id: text('event_id').notNull(),
    type: text('type').notNull(),
    processed_at: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.source, t.event_id] }),
    check('processed_events_source_check', oneOf('source', WEBHOOK_SOURCES)),
  ],
);

/**
 * Usage events the consumer could not count (retries exhausted on the usage queue), recorded by
 * the dead-letter queue's consumer so that none is lost silently: the event as sent, and why.
 */
export const usage_dead_letters = sqliteTable('usage_dead_letters', {
  /** The usage event's id, or the queue message's id when the body is not an event. */
  id: text('id').primaryKey(),
  organization_id: text('organization_id'),
  event: text('event').notNull(),
  reason: text('reason').notNull(),
  attempts: integer('attempts').notNull(),
  created_at: createdAt(),
});

/** First answers of POSTs sent with an Idempotency-Key, replayed for 24 h. */
export const idempotency_keys = sqliteTable(
  'idempotency_keys',
  {
    /** Whose key it is: `user:{id}` or `api_key:{id}`; keys of different actors never meet. */
    owner: text('owner').notNull(),
    key: text('key').notNull(),
    /** SHA-256 of method, path and body: the same key with another request is refused. */
    request_hash: text('request_hash').notNull(),
    /** NULL while the first request runs. */
    status: integer('status'),
    /** NULL with a status: the answer issued a secret and is not kept (never replayed). */
    response_body: text('response_body'),
    content_type: text('content_type'),
    created_at: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.owner, t.key] }), index('idempotency_keys_created_idx').on(t.created_at)],
);

/**
 * The tenant shards and where each lives: placement reads it (the least-loaded open shard of the
 * requested region), and so do objects and buckets (db/places.ts). `shard` is n of the SHARD_n
 * binding, what organizations.shard holds.
 */
export const shards = sqliteTable(
  'shards',
  {
    shard: integer('shard').primaryKey(),
    /** The D1 database's location hint, or `eu`: created with `--jurisdiction eu`. */
    region: text('region', { enum: DATA_REGIONS }).notNull(),
    /** Takes new organizations; a closed shard keeps serving the ones it holds. */
    open: bool('open').notNull().default(true),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [check('shards_region_check', oneOf('region', DATA_REGIONS)), check('shards_shard_check', sql`shard >= 0`)],
);

/** Where a move has got to inside its phase: the copy plan's unit, the last key done, R2's cursor. */
export type MoveCursor = { unit: number; after: string | null; objects?: string | null };
/** Per table (and `r2:objects`), what verification counted on each side. */
export type MoveCheck = Record<
  string,
  { source: { rows: number; sum: number }; destination: { rows: number; sum: number } }
>;

/**
 * Moves of an organization between shards: a resumable state machine, one step at a time
 * (modules/platform/moves.ts). At most one move per organization is under way.
 */
export const organization_moves = sqliteTable(
  'organization_moves',
  {
    id: id(),
    organization_id: text('organization_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    from_shard: integer('from_shard').notNull(),
    to_shard: integer('to_shard').notNull(),
    phase: text('phase', { enum: MOVE_PHASES }).notNull().default('requested'),
    cursor: json<MoveCursor>('cursor').notNull().default({ unit: 0, after: null }),
    checks: json<MoveCheck>('checks').notNull().default({}),
    /** Bumped by every step: a step records its work only if no other step ran meanwhile. */
    steps: integer('steps').notNull().default(0),
    /** Why it was rolled back (a verification mismatch, a cancel), or the last step's failure. */
    error: text('error'),
    started_by: text('started_by').references(() => users.id),
    fenced_at: text('fenced_at'),
    flipped_at: text('flipped_at'),
    finished_at: text('finished_at'),
    created_at: createdAt(),
    updated_at: updatedAt(),
  },
  (t) => [
    uniqueIndex('organization_moves_active_unique')
      .on(t.organization_id)
      .where(sql`"phase" NOT IN ('cleaned', 'rolled_back')`),
    check('organization_moves_phase_check', oneOf('phase', MOVE_PHASES)),
    check('organization_moves_shards_check', sql`from_shard >= 0 AND to_shard >= 0 AND from_shard <> to_shard`),
  ],
);
