// Every enum of the data model, in one place: zod schemas, CHECK constraints and the OpenAPI
// document are all built from these lists.
export const USER_ROLES = ['employee', 'admin', 'moderator', 'client'] as const;
export const TIERS = ['free', 'basic', 'pro', 'enterprise'] as const;
/** SCHEMA.md's four, then Stripe's other statuses (additions); Stripe's `canceled` is stored as `cancelled`. */
export const SUBSCRIPTION_STATUSES = [
  'active',
  'past_due',
  'cancelled',
  'unpaid',
  'trialing',
  'incomplete',
  'incomplete_expired',
  'paused',
] as const;
/** organizations.subscription_status, derived from the subscription's status (billing/tiers.ts). */
export const ORG_SUBSCRIPTION_STATUSES = ['active', 'inactive', 'trial'] as const;
export const AI_TOOL_TYPES = ['chatbot', 'analysis', 'automation', 'integration'] as const;
export const MEMBER_ROLES = ['viewer', 'member', 'admin', 'owner'] as const;
export const CUSTOMER_STATUSES = ['lead', 'prospect', 'active', 'inactive', 'churned'] as const;
export const CUSTOMER_SOURCES = [
  'website',
  'referral',
  'social',
  'email',
  'other',
  'phone',
  'event',
  'advertising',
] as const;
export const PROJECT_STATUSES = ['planning', 'active', 'on_hold', 'completed', 'cancelled'] as const;
export const PRIORITIES = ['low', 'medium', 'high', 'critical'] as const;
export const TASK_STATUSES = ['todo', 'in_progress', 'review', 'done', 'cancelled'] as const;
export const CONTEXT_TYPES = ['general', 'project', 'customer', 'task'] as const;
export const AI_MODELS = ['openai_gpt4', 'claude_sonnet', 'gemini'] as const;
export const APPOINTMENT_STATUSES = ['scheduled', 'confirmed', 'completed', 'cancelled', 'no_show'] as const;
/** Appointments that hold their assignee's time slot; the others free it. */
export const LIVE_APPOINTMENT_STATUSES = ['scheduled', 'confirmed'] as const;
/** Reminders go out within 24 h and within 1 h of an appointment's start. */
export const REMINDER_WINDOWS = ['24h', '1h'] as const;
export const CONTENT_TYPES = ['page', 'blog_post', 'documentation', 'template'] as const;
export const CONTENT_STATUSES = ['draft', 'published', 'archived'] as const;
export const USAGE_RESOURCE_TYPES = ['ai_tokens', 'api_calls', 'storage', 'seats'] as const;
export const ACTOR_TYPES = ['user', 'api_key', 'system', 'webhook', 'ai'] as const;
export const WEBHOOK_SOURCES = ['clerk', 'stripe'] as const;
/** Where a shard's data lives: a Cloudflare location hint, or `eu`, the EU jurisdiction (data stays in the EU). */
export const DATA_REGIONS = ['wnam', 'enam', 'weur', 'eeur', 'apac', 'oc', 'eu'] as const;
/**
 * An organization's move between shards, phase by phase (modules/platform/moves.ts); the last two
 * of each line are where a move ends.
 */
export const MOVE_PHASES = [
  'requested',
  'fenced',
  'copying',
  'verifying',
  'verified',
  'flipped',
  'cleaning',
  'cleaned',
  'rolling_back',
  'rolled_back',
] as const;
/** Where a move ends: any other phase is a move under way (at most one per organization). */
export const ENDED_MOVE_PHASES: readonly MovePhase[] = ['cleaned', 'rolled_back'];

export type MemberRole = (typeof MEMBER_ROLES)[number];
export type UserRole = (typeof USER_ROLES)[number];
export type Tier = (typeof TIERS)[number];
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];
export type OrgSubscriptionStatus = (typeof ORG_SUBSCRIPTION_STATUSES)[number];
export type TaskStatus = (typeof TASK_STATUSES)[number];
export type AppointmentStatus = (typeof APPOINTMENT_STATUSES)[number];
export type ReminderWindow = (typeof REMINDER_WINDOWS)[number];
export const WEBHOOK_ENDPOINT_STATUSES = ['active', 'paused'] as const;
export const WEBHOOK_DELIVERY_STATUSES = ['pending', 'sending', 'succeeded', 'failed'] as const;
/** Why a delivery exists: an event as it happened, a replay or retry asked for, a `ping` test. */
export const WEBHOOK_DELIVERY_TRIGGERS = ['event', 'replay', 'test'] as const;

/**
 * Statuses in which a subscription's tier applies. `past_due` keeps it: Stripe is still retrying
 * the payment (Smart Retries), and cutting a paying customer off at the first declined card is
 * harsher than the risk. `cancelled`, `unpaid`, `incomplete`, `incomplete_expired` and `paused`
 * count as free for every limit until a payment succeeds.
 */
export const TIER_STATUSES: readonly SubscriptionStatus[] = ['active', 'trialing', 'past_due'];

/** The tier whose limits apply: the subscription's, or free when its status does not keep it. */
export const effectiveTier = (tier: Tier, status: SubscriptionStatus): Tier =>
  TIER_STATUSES.includes(status) ? tier : 'free';
export type DataRegion = (typeof DATA_REGIONS)[number];
export type MovePhase = (typeof MOVE_PHASES)[number];
