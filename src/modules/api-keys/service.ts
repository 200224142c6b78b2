// Organization API keys: the secret is shown once, at creation; only its hash is kept. A key's
// scopes can only narrow what its creator may do.
import { and, eq, isNull, sql, type SQL } from 'drizzle-orm';
import { api_keys } from '../../db/catalog';
import { latest } from '../../db/shards';
import { inList } from '../../db/columns';
import type { TenantContext } from '../../env';
import { newApiKeySecret } from '../../auth/api-keys';
import { forgetAccess } from '../../auth/access-cache';
import { actingUserId, requirePermission } from '../../auth/tenant';
import { uuidv7 } from '../../lib/ids';
import { newestFirst } from '../../lib/pagination';
import { ApiError, forbidden, notFound } from '../../lib/problem';
import { auditedCatalogChange, type AuditEntry } from '../activity/audit';
import type { ApiKeyCreate } from './schemas';

const visibleColumns = {
  id: api_keys.id,
  name: api_keys.name,
  prefix: api_keys.prefix,
  scopes: api_keys.scopes,
  created_by: api_keys.created_by,
  expires_at: api_keys.expires_at,
  last_used_at: api_keys.last_used_at,
  revoked_at: api_keys.revoked_at,
  created_at: api_keys.created_at,
};

const ofOrganization = (ctx: TenantContext) => eq(api_keys.organization_id, ctx.organization.id);

export async function listApiKeys({ ctx, input }: { ctx: TenantContext; input: { limit: number; cursor?: string } }) {
  requirePermission(ctx, 'api_keys:read');
  return newestFirst(api_keys.id, input, (after) =>
    ctx.catalog
      .select(visibleColumns)
      .from(api_keys)
      .where(and(ofOrganization(ctx), after)),
  );
}

export async function createApiKey({ ctx, input }: { ctx: TenantContext; input: ApiKeyCreate }) {
  requirePermission(ctx, 'api_keys:manage');
  for (const scope of input.scopes) if (!ctx.permissions.has(scope)) throw forbidden(scope);
  const createdBy = actingUserId(ctx.actor);
  if (!createdBy) throw new ApiError('forbidden', 'Only a user or their key can create API keys.');
  const { secret, prefix, hash } = await newApiKeySecret();
  const row = {
    id: uuidv7(),
    organization_id: ctx.organization.id,
    created_by: createdBy,
    name: input.name,
    prefix,
    key_hash: hash,
    scopes: [...new Set(input.scopes)],
    expires_at: input.expires_at ?? null,
    last_used_at: null,
    revoked_at: null,
    created_at: new Date().toISOString(),
  };
  const { key_hash: _hash, organization_id: _org, ...visible } = row;
  await auditedCatalogChange(
    ctx,
    { action: 'api_key.create', resource_type: 'api_key', resource_id: row.id, new: visible },
    () => ctx.catalog.insert(api_keys).values(row).run(),
  );
  return { ...visible, key: secret };
}

export async function revokeApiKey({ ctx, id }: { ctx: TenantContext; id: string }) {
  requirePermission(ctx, 'api_keys:manage');
  // Whether it is revoked already decides the write and its audit row: the primary's answer.
  const key = await latest(ctx.catalog)
    .select(visibleColumns)
    .from(api_keys)
    .where(and(ofOrganization(ctx), eq(api_keys.id, id)))
    .get();
  if (!key) throw notFound('API key');
  if (key.revoked_at) return; // Revoking twice changes nothing.
  const revokedAt = new Date().toISOString();
  await auditedCatalogChange(ctx, revocation(id, revokedAt), () => revokeKeys(ctx, [id], revokedAt).run());
  await forgetAccess(ctx.d1, { organizationId: ctx.organization.id, keyId: id });
}

/** The audit entry of a key's revocation (`why`: when it is not a request to revoke that key). */
export const revocation = (id: string, revokedAt: string, why?: string): AuditEntry => ({
  action: 'api_key.revoke',
  resource_type: 'api_key',
  resource_id: id,
  old: { revoked_at: null },
  new: { revoked_at: revokedAt, ...(why && { reason: why }) },
});

/** Revokes the organization's keys `ids` (any number) that are still live, if `condition` holds (a statement, to batch). */
export const revokeKeys = (ctx: TenantContext, ids: string[], revokedAt: string, condition?: SQL) =>
  ctx.catalog
    .update(api_keys)
    .set({ revoked_at: revokedAt })
    .where(and(ofOrganization(ctx), inList(api_keys.id, ids), isNull(api_keys.revoked_at), condition));

/** The ids of a member's live keys in the organization, as a JSON array: a column for another query. */
export const liveKeyIds = (ctx: TenantContext, userId: string) =>
  sql<string>`(SELECT json_group_array(${api_keys.id}) FROM ${api_keys} WHERE
    ${and(ofOrganization(ctx), eq(api_keys.created_by, userId), isNull(api_keys.revoked_at))})`;
