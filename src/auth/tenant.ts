// Tenant context: for every /v1/orgs/{org}/… request, resolve the actor's access to {org} once,
// in ONE catalog query (user + organization + membership, or API key + organization + creator),
// and keep the answer 30 s, in the isolate and the location (access-cache.ts). No access → 404,
// as if the org did not exist.
import { and, eq, inArray, or, type SQL } from 'drizzle-orm';
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { api_keys, organization_members, organizations, shards, subscriptions, users } from '../db/catalog';
import { effectiveTier, type DataRegion, type MemberRole, type SubscriptionStatus, type Tier } from '../db/enums';
import { organizationShard } from '../db/places';
import { D1Sessions } from '../db/sessions';
import { catalogDb, shardDb, type CatalogDb } from '../db/shards';
import { TenantStore } from '../db/tenant-store';
import type { Actor, AppEnv, Bindings, Credentials, RequestInfo, RequestScope, TenantContext, TenantEnv } from '../env';
import { ApiError, forbidden, notFound } from '../lib/problem';
import { UsageMeter } from '../lib/usage-meter';
import { assertNotGuessing } from '../middleware/client-limits';
import { keepAccess, keptAccess } from './access-cache';
import { hashApiKey } from './api-keys';
import { sha256Hex } from '../lib/crypto';
import {
  apiKeyPermissions,
  memberPermissions,
  PLATFORM_ADMIN,
  PLATFORM_MODERATOR,
  type Permission,
} from './permissions';
import { assertActive, provisionUser, toSessionUser } from './users';

export type Access = {
  organization: TenantContext['organization'];
  actor: Actor;
  role: MemberRole | null;
  permissions: ReadonlySet<Permission>;
  clientEmail: string | null;
  /** The human behind the access (the key's creator for an API key). */
  userId: string;
  keyId: string | null;
  keyExpiresAt: string | null;
};

const organizationFields = {
  id: organizations.id,
  slug: organizations.slug,
  name: organizations.name,
  shard: organizations.shard,
};
/** Its shard's region, joined in the same query (a group of its own: drizzle nulls a left join's group whole). */
const placeFields = { data_region: shards.region };
/**
 * The organization's tier comes from its subscription, joined in the same query: free without
 * one, or while its status does not keep the tier (db/enums.ts, TIER_STATUSES).
 */
const withTier = <O extends object>(
  organization: O,
  subscription: { tier: Tier; status: SubscriptionStatus } | null,
  place: { data_region: DataRegion } | null,
) => ({
  ...organization,
  tier: subscription ? effectiveTier(subscription.tier, subscription.status) : ('free' as const),
  data_region: place?.data_region ?? null,
});

/** A user's access to an organization: who, where, their membership. */
const userAccessFields = {
  user: users,
  organization: organizationFields,
  place: placeFields,
  subscription: { tier: subscriptions.tier, status: subscriptions.status },
  member: { role: organization_members.role, permissions: organization_members.permissions },
};

const orgMatches = (ref: string) => or(eq(organizations.id, ref), eq(organizations.slug, ref));

/** Users' rows with their access to the organizations matching `organization` (null organization: none). */
const userAccessQuery = (catalog: CatalogDb, user: SQL, organization: SQL | undefined) =>
  catalog
    .select(userAccessFields)
    .from(users)
    .leftJoin(organizations, organization)
    .leftJoin(shards, organizationShard)
    .leftJoin(subscriptions, eq(subscriptions.organization_id, organizations.id))
    .leftJoin(
      organization_members,
      and(eq(organization_members.organization_id, organizations.id), eq(organization_members.user_id, users.id)),
    )
    .where(user);
/** A user's row with their access to the organization `orgRef` (null organization: no such one). */
const userAccessRow = (catalog: CatalogDb, user: SQL, orgRef: string) =>
  userAccessQuery(catalog, user, orgMatches(orgRef)).get();

async function sessionAccess(
  catalog: CatalogDb,
  credentials: Extract<Credentials, { type: 'session' }>,
  orgRef: string,
): Promise<Access | undefined> {
  const byClerkId = eq(users.clerk_user_id, credentials.clerkUserId);
  let row = await userAccessRow(catalog, byClerkId, orgRef);
  if (!row) {
    await provisionUser(catalog, credentials);
    row = await userAccessRow(catalog, byClerkId, orgRef);
    if (!row) throw new Error('A provisioned user could not be read back.');
  }
  return userAccess(row);
}

function userAccess(row: Awaited<ReturnType<typeof userAccessQuery>>[number]): Access | undefined {
  assertActive(row.user);
  const { user, member } = row;
  if (!row.organization) return undefined;
  const base = {
    organization: withTier(row.organization, row.subscription, row.place),
    actor: { type: 'user', user: toSessionUser(user) } as const,
    clientEmail: user.role === 'client' ? user.email : null,
    userId: user.id,
    keyId: null,
    keyExpiresAt: null,
  };
  if (member) {
    return {
      ...base,
      role: member.role,
      permissions: memberPermissions(member.role, member.permissions, user.role),
    };
  }
  // Platform staff outside the organization: a user with no role there (activity/platform-access.ts).
  if (user.role === 'admin') return { ...base, role: null, permissions: new Set(PLATFORM_ADMIN) };
  if (user.role === 'moderator') return { ...base, role: null, permissions: new Set(PLATFORM_MODERATOR) };
  return undefined;
}

/** An API key's row with its organization and its creator's membership there. */
const apiKeyAccessQuery = (catalog: CatalogDb, key: SQL) =>
  catalog
    .select({
      key: {
        id: api_keys.id,
        scopes: api_keys.scopes,
        expires_at: api_keys.expires_at,
        revoked_at: api_keys.revoked_at,
        created_by: api_keys.created_by,
        created_at: api_keys.created_at,
      },
      organization: organizationFields,
      place: placeFields,
      subscription: { tier: subscriptions.tier, status: subscriptions.status },
      member: {
        role: organization_members.role,
        permissions: organization_members.permissions,
        created_at: organization_members.created_at,
      },
      creator: { role: users.role, is_active: users.is_active },
    })
    .from(api_keys)
    .innerJoin(organizations, eq(organizations.id, api_keys.organization_id))
    .leftJoin(shards, organizationShard)
    .leftJoin(subscriptions, eq(subscriptions.organization_id, organizations.id))
    .innerJoin(users, eq(users.id, api_keys.created_by))
    .leftJoin(
      organization_members,
      and(
        eq(organization_members.organization_id, api_keys.organization_id),
        eq(organization_members.user_id, api_keys.created_by),
      ),
    )
    .where(key);

const apiKeyAccess = async (catalog: CatalogDb, key: SQL, orgRef: string) =>
  apiKeyAccessOf(await apiKeyAccessQuery(catalog, key).get(), orgRef);

function apiKeyAccessOf(
  row: Awaited<ReturnType<typeof apiKeyAccessQuery>>[number] | undefined,
  orgRef: string,
): Access | undefined {
  // A revoked key, or one whose creator has left or been deactivated, stops working; so does a
  // key made during an earlier membership of its creator (removal revokes keys, and this holds
  // too for one created while its creator was being removed).
  if (
    !row ||
    row.key.revoked_at ||
    !row.member ||
    !row.creator.is_active ||
    row.key.created_at < row.member.created_at
  ) {
    throw new ApiError('unauthenticated', 'This API key is invalid or has been revoked.');
  }
  // Expired credentials are a 401 wherever they are sent (like revoked ones), not a 404 elsewhere.
  if (row.key.expires_at && row.key.expires_at <= new Date().toISOString()) {
    throw new ApiError('unauthenticated', 'This API key has expired.');
  }
  if (row.organization.id !== orgRef && row.organization.slug !== orgRef) return undefined;
  const creator = memberPermissions(row.member.role, row.member.permissions, row.creator.role);
  return {
    organization: withTier(row.organization, row.subscription, row.place),
    actor: { type: 'api_key', keyId: row.key.id, userId: row.key.created_by, organizationId: row.organization.id },
    role: null,
    permissions: apiKeyPermissions(row.key.scopes, creator),
    clientEmail: null,
    userId: row.key.created_by,
    keyId: row.key.id,
    keyExpiresAt: row.key.expires_at,
  };
}

/**
 * A calendar feed token: its member's access to the organization, narrowed to reading
 * appointments. A removed member's token went with their membership row.
 */
async function calendarFeedAccess(catalog: CatalogDb, secret: string, orgRef: string): Promise<Access | undefined> {
  const row = await catalog
    .select(userAccessFields)
    .from(organization_members)
    .innerJoin(organizations, eq(organizations.id, organization_members.organization_id))
    .innerJoin(users, eq(users.id, organization_members.user_id))
    .leftJoin(shards, organizationShard)
    .leftJoin(subscriptions, eq(subscriptions.organization_id, organizations.id))
    .where(eq(organization_members.calendar_token_hash, await sha256Hex(secret)))
    .get();
  if (!row) throw new ApiError('unauthenticated', 'This calendar feed token is invalid or has been rotated.');
  assertActive(row.user);
  if (row.organization.id !== orgRef && row.organization.slug !== orgRef) return undefined;
  const member = memberPermissions(row.member.role, row.member.permissions, row.user.role);
  return {
    organization: withTier(row.organization, row.subscription, row.place),
    actor: { type: 'user', user: toSessionUser(row.user) },
    role: row.member.role,
    permissions: new Set(CALENDAR_FEED_PERMISSIONS.filter((p) => member.has(p))),
    clientEmail: row.user.role === 'client' ? row.user.email : null,
    userId: row.user.id,
    keyId: null,
    keyExpiresAt: null,
  };
}

const CALENDAR_FEED_PERMISSIONS: Permission[] = ['appointments:read'];

export function requestInfo<E extends AppEnv>(c: Context<E>): RequestInfo {
  return {
    requestId: c.get('requestId'),
    ip: c.req.header('cf-connecting-ip') ?? null,
    userAgent: c.req.header('user-agent') ?? null,
  };
}

/** What a request hands the services that build a tenant context themselves (a new organization, a webhook). */
export const requestScope = <E extends AppEnv>(c: Context<E>): RequestScope => ({
  env: c.env,
  d1: c.get('d1'),
  request: requestInfo(c),
  waitUntil: (promise) => c.executionCtx.waitUntil(promise),
  cf: c.req.raw.cf as IncomingRequestCfProperties | undefined,
});

type AccessFields = Pick<TenantContext, 'organization' | 'actor' | 'role' | 'permissions' | 'clientEmail'>;

/** The context services work from; also built directly for an organization just created. */
export function tenantContext({ env, d1, request, waitUntil }: RequestScope, access: AccessFields): TenantContext {
  return {
    organization: access.organization,
    actor: access.actor,
    role: access.role,
    permissions: access.permissions,
    clientEmail: access.clientEmail,
    store: new TenantStore(shardDb(env, access.organization.shard, d1), access.organization.id),
    catalog: catalogDb(env, d1),
    d1,
    request,
    meter: new UsageMeter(env.USAGE_QUEUE, waitUntil, access.organization, actingUserId(access.actor), env.CATALOG),
  };
}

/** A tenant context as plain data, to hand to a Durable Object that acts for the request. */
export type PortableContext = Omit<AccessFields, 'permissions'> & { permissions: Permission[]; request: RequestInfo };

export const toPortable = (ctx: AccessFields & Pick<TenantContext, 'request'>): PortableContext => ({
  organization: ctx.organization,
  actor: ctx.actor,
  role: ctx.role,
  permissions: [...ctx.permissions],
  clientEmail: ctx.clientEmail,
  request: ctx.request,
});

export const fromPortable = (
  env: Bindings,
  d1: D1Sessions,
  portable: PortableContext,
  waitUntil: (promise: Promise<unknown>) => void,
): TenantContext =>
  tenantContext(
    { env, d1, request: portable.request, waitUntil },
    { ...portable, permissions: new Set(portable.permissions) },
  );

/**
 * Long-lived connections' contexts read again from the catalog: the same actor's access to the
 * organization today (role, permissions, tier), or null once it has none (removed, deactivated,
 * its key revoked or expired, the organization gone). One query for all the users among them and
 * one for all the API keys, however many (sockets are opened by users and keys only).
 */
export async function refreshPortables(
  env: Bindings,
  d1: D1Sessions,
  portables: readonly PortableContext[],
): Promise<(PortableContext | null)[]> {
  const catalog = catalogDb(env, d1);
  const distinct = (ids: (string | null)[]) => [...new Set(ids.filter((id) => id !== null))];
  const userIds = distinct(portables.map(({ actor }) => (actor.type === 'user' ? actor.user.id : null)));
  const keyIds = distinct(portables.map(({ actor }) => (actor.type === 'api_key' ? actor.keyId : null)));
  const organizationIds = distinct(portables.map(({ organization }) => organization.id));
  const [userRows, keyRows] = await Promise.all([
    userIds.length > 0
      ? userAccessQuery(catalog, inArray(users.id, userIds), inArray(organizations.id, organizationIds))
      : [],
    keyIds.length > 0 ? apiKeyAccessQuery(catalog, inArray(api_keys.id, keyIds)) : [],
  ]);
  return portables.map(({ actor, organization, request }) => {
    let access: Access | undefined;
    try {
      if (actor.type === 'user') {
        const row = userRows.find((r) => r.user.id === actor.user.id && r.organization?.id === organization.id);
        access = row && userAccess(row);
      } else if (actor.type === 'api_key') {
        access = apiKeyAccessOf(
          keyRows.find((r) => r.key.id === actor.keyId),
          organization.id,
        );
      }
    } catch (error) {
      if (error instanceof ApiError) return null; // deactivated, revoked, expired: a 401 on a new request
      throw error;
    }
    return access ? toPortable({ ...access, request }) : null;
  });
}

function cacheKey(credentials: Credentials, orgRef: string): string {
  switch (credentials.type) {
    case 'session':
      return `s:${credentials.clerkUserId}:${orgRef}`;
    case 'api_key':
      return `k:${credentials.secret}:${orgRef}`;
    case 'calendar_feed':
      return `f:${credentials.secret}:${orgRef}`;
  }
}

export const resolveTenant = createMiddleware<TenantEnv>(async (c, next) => {
  const orgRef = c.req.param('org');
  if (!orgRef) throw notFound('organization');
  const credentials = c.get('credentials');
  const catalog = catalogDb(c.env, c.get('d1'));
  const key = cacheKey(credentials, orgRef);

  const d1 = c.get('d1');
  let access = await keptAccess(key, d1);
  if (!access) {
    // A key or feed token this isolate does not know, from an address guessing them: not looked up.
    if (credentials.type !== 'session') assertNotGuessing(c);
    const readAt = Date.now();
    access =
      credentials.type === 'session'
        ? await sessionAccess(catalog, credentials, orgRef)
        : credentials.type === 'api_key'
          ? await apiKeyAccess(catalog, eq(api_keys.key_hash, await hashApiKey(credentials.secret)), orgRef)
          : await calendarFeedAccess(catalog, credentials.secret, orgRef);
    if (!access) throw notFound('organization');
    keepAccess(key, access, d1, readAt, (promise) => c.executionCtx.waitUntil(promise));
  }
  if (access.keyExpiresAt && access.keyExpiresAt <= new Date().toISOString()) {
    throw new ApiError('unauthenticated', 'This API key has expired.');
  }

  const tenant = tenantContext(requestScope(c), access);
  c.set('tenant', tenant);

  // Its own sessions: a write off the path is not the request's (its round trips, its far hops).
  if (access.keyId) touchApiKey(c, catalogDb(c.env, D1Sessions.primary(c.env)), access.keyId);
  await next();
});

const lastTouched = new Map<string, number>();
/** `last_used_at` at minute resolution: one write per key per minute per isolate, never inline. */
function touchApiKey(c: Context<TenantEnv>, catalog: CatalogDb, keyId: string) {
  const now = Date.now();
  if ((lastTouched.get(keyId) ?? 0) > now - 60_000) return;
  lastTouched.set(keyId, now);
  c.executionCtx.waitUntil(
    catalog
      .update(api_keys)
      .set({ last_used_at: new Date(now).toISOString() })
      .where(eq(api_keys.id, keyId))
      .run()
      .catch((error) => console.error('api key touch failed', error)),
  );
}

/** The human behind an actor: the user, or an API key's creator. */
export const actingUserId = (actor: Actor): string | null =>
  actor.type === 'user'
    ? actor.user.id
    : actor.type === 'api_key'
      ? actor.userId
      : actor.type === 'ai'
        ? actingUserId(actor.onBehalfOf)
        : null;

/** The services' permission check: their first line. */
export function requirePermission(ctx: TenantContext, permission: Permission): void {
  if (!ctx.permissions.has(permission)) throw forbidden(permission);
}
