// Members: admins manage everyone below owner; only owners touch owners; the last owner can be
// neither removed nor demoted (checked inside the writing statement, so two concurrent requests
// cannot both remove "the other" owner).
import { and, eq, sql, type SQL } from 'drizzle-orm';
import { organization_members, users, type MemberPermissions } from '../../db/catalog';
import type { MemberRole } from '../../db/enums';
import { isUniqueViolation } from '../../db/errors';
import { latest } from '../../db/shards';
import { insertWhere } from '../../db/tenant-store';
import type { TenantContext } from '../../env';
import { ROLE_PERMISSIONS, type Permission } from '../../auth/permissions';
import { forgetAccess } from '../../auth/access-cache';
import { actingUserId, requirePermission } from '../../auth/tenant';
import { uuidv7 } from '../../lib/ids';
import { newestFirst } from '../../lib/pagination';
import { ApiError, conflict, forbidden, invalid, notFound } from '../../lib/problem';
import { usersTierUpdate } from '../billing/service';
import { TIER_LIMITS } from '../billing/tiers';
import { auditedCatalogChange, changes } from '../activity/audit';
import { userColumns } from '../../auth/users';
import { liveKeyIds, revocation, revokeKeys } from '../api-keys/service';
import type { MemberCreate, MemberPatch } from './schemas';

const memberColumns = {
  id: organization_members.id,
  organization_id: organization_members.organization_id,
  user_id: organization_members.user_id,
  role: organization_members.role,
  permissions: organization_members.permissions,
  invited_by: organization_members.invited_by,
  joined_at: organization_members.joined_at,
  created_at: organization_members.created_at,
  updated_at: organization_members.updated_at,
  user: userColumns,
};

const ofOrganization = (ctx: TenantContext) => eq(organization_members.organization_id, ctx.organization.id);
const lastOwnerConflict = () => conflict('An organization keeps at least one owner: make someone else owner first.');
/** Holds unless the statement would leave the organization without an owner. */
const keepsAnOwner = (ctx: TenantContext) =>
  sql`(SELECT count(*) FROM ${organization_members} WHERE ${ofOrganization(ctx)} AND ${organization_members.role} = 'owner') > 1`;

/** Nobody hands out a permission they do not hold themselves. */
function assertGrantable(ctx: TenantContext, permissions: MemberPermissions | undefined) {
  for (const permission of permissions?.grant ?? []) {
    if (!ctx.permissions.has(permission as Permission)) throw forbidden(permission);
  }
}

/**
 * Giving, changing or taking away a role takes every permission of that role, so a member
 * granted `members:manage` cannot make (or unmake) an admin: the role check, not just the grant
 * check, is what stops them handing out more than they hold. Owners also take `owners:manage`.
 */
function assertManageable(ctx: TenantContext, role: MemberRole) {
  if (role === 'owner') requirePermission(ctx, 'owners:manage');
  for (const permission of ROLE_PERMISSIONS[role]) {
    if (!ctx.permissions.has(permission)) throw forbidden(permission);
  }
}

/**
 * The member as the primary has them: their role decides who may change them, and is the audit
 * row's old state.
 */
async function findMember<F extends Record<string, SQL.Aliased | SQL>>(ctx: TenantContext, userId: string, extra?: F) {
  const member = await latest(ctx.catalog)
    .select({ ...memberColumns, ...extra } as typeof memberColumns & F)
    .from(organization_members)
    .innerJoin(users, eq(users.id, organization_members.user_id))
    .where(and(ofOrganization(ctx), eq(organization_members.user_id, userId)))
    .get();
  if (!member) throw notFound('member');
  return member;
}

export async function listMembers({ ctx, input }: { ctx: TenantContext; input: { limit: number; cursor?: string } }) {
  requirePermission(ctx, 'members:read');
  return newestFirst(organization_members.id, input, (after) =>
    ctx.catalog
      .select(memberColumns)
      .from(organization_members)
      .innerJoin(users, eq(users.id, organization_members.user_id))
      .where(and(ofOrganization(ctx), after)),
  );
}

/**
 * Inserts the member only while the tier has a seat free: the count and the insert are one
 * statement, so two concurrent additions cannot both take the last seat. No row back when full.
 */
function insertWithinSeats(ctx: TenantContext, member: typeof organization_members.$inferInsert) {
  const seats = TIER_LIMITS[ctx.organization.tier].seats;
  if (seats === null)
    return ctx.catalog.insert(organization_members).values(member).returning({ id: organization_members.id });
  return insertWhere(
    ctx.catalog,
    organization_members,
    member,
    sql`(SELECT count(*) FROM ${organization_members} WHERE ${ofOrganization(ctx)}) < ${seats}`,
  ).returning({ id: organization_members.id });
}

/** A member's users.subscription_tier follows the organizations they are in (billing/service.ts). */
const memberTier = (ctx: TenantContext, userId: string) => usersTierUpdate(ctx.catalog, eq(users.id, userId));

const seatsExceeded = (ctx: TenantContext) =>
  new ApiError(
    'quota_exceeded',
    `The ${ctx.organization.tier} tier allows ${TIER_LIMITS[ctx.organization.tier].seats} members. Upgrade the subscription to add more.`,
  );

export async function addMember({ ctx, input }: { ctx: TenantContext; input: MemberCreate }) {
  requirePermission(ctx, 'members:manage');
  assertManageable(ctx, input.role);
  assertGrantable(ctx, input.permissions);
  const now = new Date().toISOString();
  // Someone not yet signed up gets a placeholder user; their first sign-in with this email claims it.
  const user = await ctx.catalog
    .insert(users)
    .values({ id: uuidv7(), email: input.email })
    .onConflictDoUpdate({ target: users.email, set: { email: sql`excluded.email` } })
    .returning(memberColumns.user)
    .get();
  const member = {
    id: uuidv7(),
    organization_id: ctx.organization.id,
    user_id: user!.id,
    role: input.role,
    permissions: input.permissions ?? { grant: [], deny: [] },
    invited_by: actingUserId(ctx.actor),
    joined_at: now,
    created_at: now,
    updated_at: now,
  };
  await auditedCatalogChange(
    ctx,
    {
      action: 'member.create',
      resource_type: 'member',
      resource_id: member.user_id,
      new: { email: input.email, role: member.role, permissions: member.permissions },
    },
    async () => {
      let added: unknown[];
      try {
        [added] = await ctx.catalog.batch([insertWithinSeats(ctx, member), memberTier(ctx, member.user_id)]);
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict(`${input.email} is already a member.`);
        throw error;
      }
      if (added.length === 0) throw seatsExceeded(ctx);
    },
  );
  ctx.meter.record({ resource_type: 'seats', quantity: 1, user_id: member.user_id });
  await forgetAccess(ctx.d1, { organizationId: ctx.organization.id, userId: member.user_id });
  return { ...member, user: user! };
}

export async function updateMember({ ctx, userId, input }: { ctx: TenantContext; userId: string; input: MemberPatch }) {
  requirePermission(ctx, 'members:manage');
  const before = await findMember(ctx, userId);
  assertManageable(ctx, before.role);
  if (input.role) assertManageable(ctx, input.role);
  assertGrantable(ctx, input.permissions);
  const diff = changes(before, input);
  if (!diff) return before;
  const demotesOwner = before.role === 'owner' && input.role !== undefined && input.role !== 'owner';
  const updatedAt = new Date().toISOString();
  await auditedCatalogChange(
    ctx,
    { action: 'member.update', resource_type: 'member', resource_id: userId, old: diff.old, new: diff.new },
    async () => {
      const updated = await ctx.catalog
        .update(organization_members)
        .set({ ...input, updated_at: updatedAt })
        .where(
          and(
            ofOrganization(ctx),
            eq(organization_members.user_id, userId),
            demotesOwner ? keepsAnOwner(ctx) : undefined,
          ),
        )
        .returning({ id: organization_members.id })
        .get();
      if (!updated) throw lastOwnerConflict();
    },
  );
  await forgetAccess(ctx.d1, { organizationId: ctx.organization.id, userId });
  return { ...before, ...input, updated_at: updatedAt };
}

export async function removeMember({ ctx, userId }: { ctx: TenantContext; userId: string }) {
  // Only the user themselves leaves: their API key acts within its scopes, like any other key.
  const leaving = ctx.actor.type === 'user' && ctx.actor.user.id === userId;
  // Anyone may leave; removing someone else takes members:manage and their role's permissions.
  if (!leaving) requirePermission(ctx, 'members:manage');
  // The member with their live API keys, in one query: the keys go with the membership (each
  // revocation audited), so none is listed as active or works again if the person comes back.
  // (Not a batch of two queries: D1's batch answers rows as objects, and the join's two `id`
  // columns would collapse into one.)
  const before = await findMember(ctx, userId, { key_ids: liveKeyIds(ctx, userId) });
  if (!leaving) assertManageable(ctx, before.role);
  const keyIds = JSON.parse(before.key_ids) as string[];
  const revokedAt = new Date().toISOString();
  await auditedCatalogChange(
    ctx,
    [
      {
        action: 'member.delete',
        resource_type: 'member',
        resource_id: userId,
        old: { email: before.user.email, role: before.role, permissions: before.permissions },
      },
      ...keyIds.map((id) => revocation(id, revokedAt, 'its creator left the organization')),
    ],
    async () => {
      const gone = sql`NOT EXISTS (SELECT 1 FROM ${organization_members} WHERE ${ofOrganization(ctx)} AND
        ${organization_members.user_id} = ${userId})`;
      const [removed] = await ctx.catalog.batch([
        ctx.catalog
          .delete(organization_members)
          .where(
            and(
              ofOrganization(ctx),
              eq(organization_members.user_id, userId),
              before.role === 'owner' ? keepsAnOwner(ctx) : undefined,
            ),
          )
          .returning({ id: organization_members.id }),
        memberTier(ctx, userId),
        // Only if the member is gone: a refused removal (the last owner) revokes nothing.
        ...(keyIds.length > 0 ? [revokeKeys(ctx, keyIds, revokedAt, gone)] : []),
      ]);
      if (removed.length === 0) throw lastOwnerConflict();
    },
  );
  ctx.meter.record({ resource_type: 'seats', quantity: -1, user_id: userId });
  await forgetAccess(ctx.d1, { organizationId: ctx.organization.id, userId });
}

/**
 * For fields that name a user (assigned_to, project_manager_id): they must be a member of this
 * organization. One catalog query, paid only when such a field is written.
 */
export async function assertMember(ctx: TenantContext, field: string, userId: string | null | undefined) {
  if (!userId) return;
  const member = await ctx.catalog
    .select({ id: organization_members.id })
    .from(organization_members)
    .where(and(ofOrganization(ctx), eq(organization_members.user_id, userId)))
    .get();
  if (!member) throw invalid(field, 'Not a member of this organization.');
}
