// Organizations: creation places the organization on the least-loaded shard; the creator
// becomes its owner.
import { and, eq, notInArray, sql } from 'drizzle-orm';
import {
  organization_members,
  organization_moves,
  organizations,
  shards,
  subscriptions,
  usage_dead_letters,
} from '../../db/catalog';
import { ENDED_MOVE_PHASES, type DataRegion } from '../../db/enums';
import { isNotNullViolation, isUniqueViolation } from '../../db/errors';
import { assetsBucket, regionsFor } from '../../db/places';
import { latest, leastLoadedShard, regionsOnOffer, type CatalogDb } from '../../db/shards';
import { insertWhere } from '../../db/tenant-store';
import * as tenant from '../../db/tenant';
import type { AppEnv, Bindings, RequestScope, SessionUser, TenantContext } from '../../env';
import { ROLE_PERMISSIONS } from '../../auth/permissions';
import { forgetAccess } from '../../auth/access-cache';
import { requirePermission, tenantContext } from '../../auth/tenant';
import { uuidv7 } from '../../lib/ids';
import { ApiError, conflict, invalid, notFound } from '../../lib/problem';
import { auditedCatalogChange, auditRow, changes } from '../activity/audit';
import { slugify } from '../../lib/text';
import { deleteOrganizationObjects } from '../assets/service';
import { purgePublicContent } from '../content/public-cache';
import { publishedSlugs } from '../content/public-service';
import { isLive } from '../billing/tiers';
import { SLUG_PATTERN, type OrganizationCreate, type OrganizationPatch } from './schemas';

export type OrganizationRow = typeof organizations.$inferSelect;
const slugTaken = (slug: string) => conflict(`The slug '${slug}' is taken.`);

/**
 * The organization as the API shows it: named fields only, so internal columns (its shard, the
 * Stripe customer and checkout session, the creator) never reach a reader; its shard's region does.
 */
export function present(row: OrganizationRow, role: TenantContext['role'], data_region: DataRegion | null) {
  const {
    id,
    slug,
    name,
    description,
    logo_url,
    website,
    settings,
    subscription_status,
    billing_email,
    created_at,
    updated_at,
  } = row;
  return {
    id,
    slug,
    name,
    description,
    logo_url,
    website,
    settings,
    subscription_status,
    billing_email,
    data_region,
    created_at,
    updated_at,
    role,
  };
}

/** MAX_OWNED_ORGANIZATIONS: each organization brings its own free quotas, so one user's are capped. */
const maxOwnedOrganizations = (env: AppEnv['Bindings']) => {
  const max = Number(env.MAX_OWNED_ORGANIZATIONS);
  return Number.isInteger(max) && max > 0 ? max : 10;
};

export async function createOrganization(
  scope: RequestScope,
  catalog: CatalogDb,
  user: SessionUser,
  { data_region, ...input }: OrganizationCreate,
) {
  const slug = input.slug ?? slugify(input.name, 48);
  if (!SLUG_PATTERN.test(slug)) throw invalid('slug', 'Give a slug of lower-case letters, digits and hyphens.');
  const id = uuidv7();
  const now = new Date().toISOString();
  let created: OrganizationRow | undefined;
  let region: DataRegion | undefined;
  const maxOwned = maxOwnedOrganizations(scope.env);
  // Only while the user owns fewer than the most one may (counted in the INSERT, like seats), so
  // that concurrent creations cannot pass it; the owner and the subscription go with the row.
  const ownsFewer = sql`(SELECT count(*) FROM ${organization_members} WHERE ${organization_members.user_id} =
    ${user.id} AND ${organization_members.role} = 'owner') < ${maxOwned}`;
  const orgInserted = sql`EXISTS (SELECT 1 FROM ${organizations} WHERE ${organizations.id} = ${id})`;
  const regions = regionsFor(data_region, scope.cf, scope.env.DEFAULT_DATA_REGION);
  try {
    // Choosing the shard and recording it is one statement; org, owner, subscription and the
    // chosen shard's region one batch.
    const [rows, , , place] = await catalog.batch([
      insertWhere(
        catalog,
        organizations,
        {
          ...input,
          id,
          slug,
          shard: sql`${leastLoadedShard(scope.env, regions)}`,
          created_by: user.id,
          created_at: now,
          updated_at: now,
        },
        ownsFewer,
      ).returning(),
      insertWhere(
        catalog,
        organization_members,
        { id: uuidv7(), organization_id: id, user_id: user.id, role: 'owner', joined_at: now },
        orgInserted,
      ),
      insertWhere(catalog, subscriptions, { id: uuidv7(), organization_id: id }, orgInserted),
      catalog
        .select({ region: shards.region })
        .from(shards)
        .where(
          eq(
            shards.shard,
            sql`(SELECT ${organizations.shard} FROM ${organizations} WHERE ${organizations.id} = ${id})`,
          ),
        ),
    ]);
    created = rows[0];
    region = place[0]?.region;
  } catch (error) {
    if (isUniqueViolation(error, 'slug')) throw slugTaken(slug);
    if (isNotNullViolation(error, 'organizations.shard')) throw await noShardIn(scope.env, catalog, regions);
    throw error;
  }
  if (!created) {
    throw new ApiError(
      'forbidden',
      `You own ${maxOwned} organizations, the most one user may own: delete one, or hand its ownership to someone else, to create another.`,
    );
  }
  const ctx = tenantContext(scope, {
    organization: { id, slug, name: created.name, shard: created.shard, tier: 'free', data_region: region ?? null },
    actor: { type: 'user', user },
    role: 'owner',
    permissions: new Set(ROLE_PERMISSIONS.owner),
    clientEmail: null,
  });
  try {
    await auditRow(ctx, {
      action: 'organization.create',
      resource_type: 'organization',
      resource_id: id,
      new: present(created, 'owner', ctx.organization.data_region),
    }).run();
  } catch (error) {
    // The audit log lives in the shard: no row there, no organization.
    await catalog.delete(organizations).where(eq(organizations.id, id)).run();
    throw error;
  }
  ctx.meter.record({ resource_type: 'seats', quantity: 1 });
  return present(created, 'owner', ctx.organization.data_region);
}

/** No open shard in the regions asked for (one region when `data_region` was sent): 422 with those on offer. */
async function noShardIn(env: Bindings, catalog: CatalogDb, regions: readonly DataRegion[]) {
  const offered = await regionsOnOffer(env, catalog);
  const message =
    `No shard in ${regions.join(', ')} takes new organizations; data_region may be one of: ` +
    `${offered.join(', ') || 'none (every shard is closed)'}.`;
  return new ApiError('region_unavailable', message, [{ path: 'data_region', message }]);
}

async function load(ctx: TenantContext): Promise<OrganizationRow> {
  const row = await ctx.catalog.select().from(organizations).where(eq(organizations.id, ctx.organization.id)).get();
  if (!row) throw notFound('organization');
  return row;
}

export async function getOrganization({ ctx }: { ctx: TenantContext }) {
  requirePermission(ctx, 'organization:read');
  return present(await load(ctx), ctx.role, ctx.organization.data_region);
}

/** What the public endpoint shows of the organization itself (the feed's title and link). */
const PUBLIC_FIELDS = ['slug', 'name', 'website'] as const;

export async function updateOrganization({ ctx, input }: { ctx: TenantContext; input: OrganizationPatch }) {
  requirePermission(ctx, 'organization:update');
  // The diff decides the write and is its audit row's old state: from the primary, not a replica.
  latest(ctx.catalog);
  const before = await load(ctx);
  const diff = changes(before, input);
  if (!diff) return present(before, ctx.role, ctx.organization.data_region);
  const after = await auditedCatalogChange(
    ctx,
    {
      action: 'organization.update',
      resource_type: 'organization',
      resource_id: before.id,
      old: diff.old,
      new: diff.new,
    },
    async () => {
      try {
        return await ctx.catalog
          .update(organizations)
          .set({ ...input, updated_at: new Date().toISOString() })
          .where(eq(organizations.id, before.id))
          .returning()
          .get();
      } catch (error) {
        if (input.slug && isUniqueViolation(error, 'slug')) throw slugTaken(input.slug);
        throw error;
      }
    },
  );
  if (!after) throw notFound('organization');
  // Cached access carries the slug and name: drop it so the new ones show at once.
  await forgetAccess(ctx.d1, { organizationId: before.id });
  // Cached public answers show the slug (their key), the name and the website (the feed): under
  // the old slug they must stop, under the new one no earlier organization's copy may show. Items
  // show only the slug: after a rename their copies under the old one go (read from the primary).
  if (PUBLIC_FIELDS.some((field) => field in diff.new)) {
    const renamed = before.slug !== after.slug;
    const items = renamed ? (await publishedSlugs(ctx.store.latest())).map((item) => item.slug) : [];
    await Promise.all([
      purgePublicContent(ctx, items, before.slug),
      renamed && purgePublicContent(ctx, [], after.slug),
    ]);
  }
  return present(after, ctx.role, ctx.organization.data_region);
}

/**
 * Every shard table holding organization rows, children before their parents (composite FKs).
 * test/organizations.test.ts checks this against the shard's schema: a table with an
 * organization_id column missing here fails it.
 */
export const TENANT_TABLES = [
  tenant.webhook_events,
  tenant.webhook_deliveries,
  tenant.webhook_endpoints,
  tenant.webhook_sequences,
  tenant.activity_logs,
  tenant.usage_events,
  tenant.usage_tracking,
  tenant.storage_reservations,
  tenant.assets,
  tenant.content,
  tenant.appointment_webhooks,
  tenant.reminders_sent,
  tenant.appointments,
  tenant.ai_conversations,
  tenant.tasks,
  tenant.projects,
  tenant.customers,
  // Last: while it holds a fence, the deletes before it are refused (a move is under way).
  tenant.move_fences,
] as const;

/**
 * What refuses a deletion, as the primary has it (1 catalog query): a live subscription would go
 * on billing with no organization; a move under way would leave the other shard's rows behind
 * (its record goes with the organization).
 */
async function deletionBlockers(ctx: TenantContext) {
  const row = await latest(ctx.catalog)
    .select({
      subscription: subscriptions.stripe_subscription_id,
      status: subscriptions.status,
      moving: sql<number>`EXISTS (SELECT 1 FROM ${organization_moves} WHERE ${and(
        eq(organization_moves.organization_id, organizations.id),
        notInArray(organization_moves.phase, [...ENDED_MOVE_PHASES]),
      )})`,
    })
    .from(organizations)
    .leftJoin(subscriptions, eq(subscriptions.organization_id, organizations.id))
    .where(eq(organizations.id, ctx.organization.id))
    .get();
  return { live: row && isLive(row.subscription, row.status) ? row.status : null, moving: row?.moving === 1 };
}

export async function deleteOrganization({ ctx, env }: { ctx: TenantContext; env: AppEnv['Bindings'] }) {
  requirePermission(ctx, 'organization:delete');
  const { live, moving } = await deletionBlockers(ctx);
  if (live) {
    throw conflict(
      `The organization's subscription is ${live}: cancel it through POST …/billing/portal first, then delete the organization.`,
    );
  }
  if (moving) throw conflict('The organization is moving to another shard: delete it once the move has ended.');
  // Its data first, the catalog row last: if a step fails the answer is a 500 and the
  // organization still exists, so the same DELETE can be sent again until nothing is left.
  // Tenant rows, children first, in one shard transaction; then its R2 objects (assets, and any
  // an asset delete could not remove), page by page.
  // Its published items' slugs are read first in the same batch: their cached copies go last.
  const [items] = await ctx.store.batch([
    publishedSlugs(ctx.store),
    ...TENANT_TABLES.map((table) => ctx.store.delete(table)),
  ]);
  await deleteOrganizationObjects(assetsBucket(env, ctx.organization), ctx.organization.id);
  // Members, API keys and the subscription go with it (ON DELETE CASCADE); its usage events that
  // could not be counted (no foreign key: they are kept whatever they name) in the same batch.
  await ctx.catalog.batch([
    ctx.catalog.delete(organizations).where(eq(organizations.id, ctx.organization.id)),
    ctx.catalog.delete(usage_dead_letters).where(eq(usage_dead_letters.organization_id, ctx.organization.id)),
  ]);
  await forgetAccess(ctx.d1, { organizationId: ctx.organization.id });
  await purgePublicContent(
    ctx,
    items.map((item) => item.slug),
  );
}
