// Bindings and per-request variables, typed end to end through Hono's context.
import type { D1Sessions } from './db/sessions';
import type { CatalogDb } from './db/shards';
import type { DataRegion, UserRole, MemberRole, Tier } from './db/enums';
import type { UsageEvent, UsageMeter } from './lib/usage-meter';
import type { NotificationMessage } from './modules/appointments/reminders';
import type { WebhookMessage } from './modules/outbound-webhooks/delivery';
import type { Permission } from './auth/permissions';
import type { TenantStore } from './db/tenant-store';
import type { KanbanBoard } from './realtime/kanban-board';
import type { ChatSession } from './realtime/chat-session';
import type { OrganizationWriter } from './realtime/organization-writer';

/** wrangler.toml's bindings (generated into worker-configuration.d.ts), typed RPC stubs, the secrets. */
export type Bindings = Omit<
  Env,
  'KANBAN_BOARD' | 'CHAT_SESSION' | 'ORGANIZATION_WRITER' | 'USAGE_QUEUE' | 'NOTIFICATIONS_QUEUE' | 'WEBHOOKS_QUEUE'
> & {
  KANBAN_BOARD: DurableObjectNamespace<KanbanBoard>;
  CHAT_SESSION: DurableObjectNamespace<ChatSession>;
  ORGANIZATION_WRITER: DurableObjectNamespace<OrganizationWriter>;
  USAGE_QUEUE: Queue<UsageEvent>;
  NOTIFICATIONS_QUEUE: Queue<NotificationMessage>;
  WEBHOOKS_QUEUE: Queue<WebhookMessage>;
  /**
   * Local dev only (.dev.vars): the origin of `npm run webhooks:listen` (http://127.0.0.1:…), which
   * endpoints may then use although it is no public https URL. Never deployed.
   */
  WEBHOOKS_DEV_RECEIVER?: string;
  /** How long (ms) a move waits after its flip before deleting the source rows; tests and benches set 0. */
  MOVE_SETTLE_MS?: string;
  /** PEM public key: verify Clerk session tokens without a network call. */
  CLERK_JWT_KEY?: string;
  /** Clerk Backend API key: verify against Clerk's JWKS when no CLERK_JWT_KEY is set. */
  CLERK_SECRET_KEY?: string;
  /**
   * Local dev only (.dev.vars, written by scripts/dev-setup.mjs): the private half of CLERK_JWT_KEY,
   * with which the console's dev sign-in mints session tokens on a loopback host. Never deployed.
   */
  DEV_SESSION_SIGNING_KEY?: string;
  /** `whsec_…`: Svix signing secret of the Clerk webhook endpoint. */
  CLERK_WEBHOOK_SECRET?: string;
  /** `whsec_…`: signing secret of the Stripe webhook endpoint. */
  STRIPE_WEBHOOK_SECRET?: string;
  /** `sk_…`: without it checkout and portal answer 503 not_configured, everything else works. */
  STRIPE_SECRET_KEY?: string;
  /** Model provider keys: without one, that model family is answered by the built-in local provider. */
  OPENAI_API_KEY?: string;
  ANTHROPIC_API_KEY?: string;
  GEMINI_API_KEY?: string;
};

export type SessionUser = {
  id: string;
  email: string;
  name: string | null;
  role: UserRole;
};

/** Who is acting: the tagged union every service and audit row works from. */
export type Actor =
  | { type: 'user'; user: SessionUser }
  | { type: 'api_key'; keyId: string; userId: string; organizationId: string }
  | { type: 'system' }
  | { type: 'webhook'; source: 'clerk' | 'stripe' }
  /** The AI assistant running a tool in a conversation, with the permissions of whoever it acts for. */
  | { type: 'ai'; conversationId: string; onBehalfOf: Exclude<Actor, { type: 'ai' }> };

/** Verified credentials, before any database look-up. */
export type Credentials =
  | { type: 'session'; clerkUserId: string; email?: string; name?: string; avatarUrl?: string }
  | { type: 'api_key'; secret: string }
  /** `?token=` on the calendar feed, and only there: read-only access to appointments. */
  | { type: 'calendar_feed'; secret: string };

export type RequestInfo = { requestId: string; ip: string | null; userAgent: string | null };

/** What a request hands a service that builds a tenant context itself: plain values, no Hono context. */
export type RequestScope = {
  env: Bindings;
  d1: D1Sessions;
  request: RequestInfo;
  waitUntil: (promise: Promise<unknown>) => void;
  /** Where the request came from (`request.cf`): absent outside Cloudflare (dev, tests). */
  cf?: IncomingRequestCfProperties;
};

/** Everything a tenant service needs: who, where, what they may do. Built once per request. */
export type TenantContext = {
  /** `data_region`: its shard's region (db/places.ts); null for a shard without a `shards` row. */
  organization: { id: string; slug: string; name: string; shard: number; tier: Tier; data_region: DataRegion | null };
  /** Usage events of this request, queued off the latency path. */
  meter: UsageMeter;
  actor: Actor;
  /** The member role; null for platform staff acting on an organization they are not in. */
  role: MemberRole | null;
  permissions: ReadonlySet<Permission>;
  /** Set for global `client` users: they see only the records of the customer with this email. */
  clientEmail: string | null;
  store: TenantStore;
  catalog: CatalogDb;
  /** The sessions `store` and `catalog` read through: their bookmarks, for what a write leaves behind. */
  d1: D1Sessions;
  request: RequestInfo;
};

/** Every request's variables: the root app's request id, its sub-app's D1 sessions and route flags. */
export type Variables = {
  requestId: string;
  /** The request's D1 sessions: its round trips, the instances they may use, its bookmarks. */
  d1: D1Sessions;
  /** Set by a route declared `issuesSecret`: its answer must not be kept for an Idempotency-Key replay. */
  issuesSecret: boolean;
  /** Set inside the organization's writer (realtime/beside.ts): the request runs there, beside its data. */
  beside: boolean;
};

/** The root, public and webhooks apps: nobody authenticated by bearer. */
export type AppEnv = { Bindings: Bindings; Variables: Variables };
/** The user app: `authenticate` ran, so the caller's verified credentials are present. */
export type UserEnv = { Bindings: Bindings; Variables: Variables & { credentials: Credentials } };
/** Platform-staff routes (outside an organization): the user their `platformAdmin` guard found. */
export type AdminEnv = { Bindings: Bindings; Variables: UserEnv['Variables'] & { platformUser: SessionUser } };
/** The tenant app (`/v1/orgs/{org}`): `resolveTenant` ran, so the tenant context is present. */
export type TenantEnv = { Bindings: Bindings; Variables: UserEnv['Variables'] & { tenant: TenantContext } };
