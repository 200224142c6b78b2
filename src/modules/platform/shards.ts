// Shard capacity, seen by platform admins: each shard's place, whether it takes new organizations,
// and what it holds against D1's per-database limit. Closing a shard stops placement there (the
// organizations it holds stay); the change and its platform audit row are one catalog batch.
import { and, eq, getTableName, ne, sql } from 'drizzle-orm';
import { platform_activity_logs, shards } from '../../db/catalog';
import { shardBinding, shardCount, type CatalogDb } from '../../db/shards';
import type { D1Sessions } from '../../db/sessions';
import type { Bindings, RequestInfo, SessionUser } from '../../env';
import { requirePlatformAdmin } from '../../auth/users';
import { notFound } from '../../lib/problem';
import { TENANT_TABLES } from '../organizations/service';
import { platformAuditFields } from './service';

/** D1's most bytes per database (Workers Paid): a shard near it must be closed to new organizations. */
export const D1_DATABASE_LIMIT_BYTES = 10_000_000_000;

type ShardsAction = { env: Bindings; catalog: CatalogDb; d1: D1Sessions; actor: SessionUser };

const bindingOf = (shard: number) => `SHARD_${shard}`;

/** Every tenant table's rows, summed in one statement; its meta says the database's size. */
const ROWS = `SELECT ${TENANT_TABLES.map((table) => `(SELECT count(*) FROM "${getTableName(table)}")`).join(' + ')} AS rows`;

async function usage(env: Bindings, d1: D1Sessions, shard: number) {
  const result = await shardBinding(env, shard, d1).prepare(ROWS).all<{ rows: number }>();
  return { rows: result.results[0]!.rows, bytes: result.meta.size_after };
}

const shardRows = (catalog: CatalogDb) =>
  catalog
    .select({
      shard: shards.shard,
      region: shards.region,
      open: shards.open,
      organizations: sql<number>`(SELECT count(*) FROM organizations AS o WHERE o.shard = "shards"."shard")`,
    })
    .from(shards)
    .orderBy(shards.shard);

/**
 * Each bound shard (a `shards` row without its binding is left out; a binding without a row shows
 * with region null and closed): 1 catalog query, then one statement per shard, side by side.
 */
export async function listShards({ env, catalog, d1, actor }: ShardsAction) {
  requirePlatformAdmin(actor);
  const rows = await shardRows(catalog);
  return Promise.all(
    Array.from({ length: shardCount(env) }, async (_, shard) => {
      const row = rows.find((r) => r.shard === shard);
      const { rows: tenantRows, bytes } = await usage(env, d1, shard);
      return {
        binding: bindingOf(shard),
        region: row?.region ?? null,
        open: row?.open ?? false,
        organizations: row?.organizations ?? 0,
        rows: tenantRows,
        bytes,
        limit_bytes: D1_DATABASE_LIMIT_BYTES,
        used: bytes / D1_DATABASE_LIMIT_BYTES,
      };
    }),
  );
}

/** `SHARD_n` → n, for a binding this deployment has; anything else is no such shard. */
function shardNumber(env: Bindings, binding: string): number {
  const match = /^SHARD_(0|[1-9][0-9]*)$/.exec(binding);
  const shard = match ? Number(match[1]) : -1;
  if (shard < 0 || shard >= shardCount(env)) throw notFound('shard');
  return shard;
}

/** Opens or closes a shard to new organizations, audited (`shard.open` / `shard.close`) only where it changes. */
export async function setShardOpen(action: ShardsAction & { request: RequestInfo }, binding: string, open: boolean) {
  const { env, catalog, actor } = action;
  requirePlatformAdmin(actor);
  const shard = shardNumber(env, binding);
  const changing = and(eq(shards.shard, shard), ne(shards.open, open));
  const now = new Date().toISOString();
  const auditRow = catalog
    .select(
      platformAuditFields(action, now, {
        action: open ? 'shard.open' : 'shard.close',
        resource_type: 'shard',
        resource_id: sql`${binding}`,
        old_data: sql`json_object('open', json(iif(${shards.open}, 'true', 'false')))`,
        new_data: sql`json_object('open', json(${open ? 'true' : 'false'}))`,
      }),
    )
    .from(shards)
    .where(changing);
  await catalog.batch([
    catalog.insert(platform_activity_logs).select(auditRow as never),
    catalog.update(shards).set({ open, updated_at: now }).where(changing),
  ]);
  const shown = (await listShards(action)).find((s) => s.binding === binding)!;
  if (shown.region === null) throw notFound('shard'); // bound, but without a `shards` row to open
  return shown;
}
