// Shard routing: an organization's shard is recorded in `organizations.shard` when it is created,
// so finding it is part of the membership look-up, never a scan.
import { and, eq, lt, sql } from 'drizzle-orm';
import { drizzle, type DrizzleD1Database } from 'drizzle-orm/d1';
import * as catalogSchema from './catalog';
import * as tenantSchema from './tenant';
import type { D1Sessions } from './sessions';
import { shards } from './catalog';
import type { DataRegion } from './enums';

export type CatalogDb = DrizzleD1Database<typeof catalogSchema>;
export type ShardDb = DrizzleD1Database<typeof tenantSchema>;

/** The D1 part of the bindings: CATALOG and SHARD_0 … SHARD_{n-1}. */
type D1Bindings = { CATALOG: D1Database };

/** How many SHARD_n bindings this deployment has; adding one is a wrangler.toml change. */
export function shardCount(env: D1Bindings): number {
  let count = 0;
  while (`SHARD_${count}` in env) count++;
  if (count === 0) throw new Error('No SHARD_0 binding: at least one tenant shard is required.');
  return count;
}

// drizzle's D1 driver calls prepare() and batch() only, which a session has too; its types ask
// for a D1Database (drizzle-orm#4522), which is what D1Sessions.database() is typed as.
export function catalogDb(env: D1Bindings, d1: D1Sessions): CatalogDb {
  return made(drizzle(d1.database('CATALOG', env.CATALOG), { schema: catalogSchema }), d1, 'CATALOG');
}

/** The shard's D1 binding itself (through the unit of work's session), for the rare statement drizzle cannot batch. */
export function shardBinding(env: D1Bindings, shard: number, d1: D1Sessions): D1Database {
  const binding = (env as unknown as Record<string, D1Database | undefined>)[`SHARD_${shard}`];
  if (!binding) throw new Error(`Organization placed on SHARD_${shard}, which this deployment does not bind.`);
  return d1.database(`SHARD_${shard}`, binding);
}

export function shardDb(env: D1Bindings, shard: number, d1: D1Sessions): ShardDb {
  return made(drizzle(shardBinding(env, shard, d1), { schema: tenantSchema }), d1, `SHARD_${shard}`);
}

/** Each database handle made here → how its unit of work reads that database's latest state. */
const toLatest = new WeakMap<object, () => void>();

function made<D extends object>(db: D, d1: D1Sessions, binding: string): D {
  toLatest.set(db, () => d1.latest(binding));
  return db;
}

/**
 * `db` with its next queries on the database's latest state (its session starts again on the
 * primary): for a read that decides a write and must not see a replica's past.
 */
export function latest<D extends CatalogDb | ShardDb>(db: D): D {
  const upgrade = toLatest.get(db);
  if (!upgrade) throw new Error('latest() takes a database handle made by catalogDb or shardDb.');
  upgrade();
  return db;
}

/**
 * The open shard this deployment binds in the first of `regions` that has one, with the fewest
 * organizations there (ties → the lowest number), as a SQL expression, so that the choice and the
 * INSERT that records it are one statement. NULL when none of the regions has an open shard.
 */
export function leastLoadedShard(env: D1Bindings, regions: readonly DataRegion[]) {
  const rank = sql`instr(${`,${regions.join(',')},`}, ',' || s.region || ',')`;
  return sql`(SELECT s.shard FROM shards AS s WHERE s.open AND s.shard < ${shardCount(env)} AND ${rank} > 0
    ORDER BY ${rank}, (SELECT count(*) FROM organizations o WHERE o.shard = s.shard), s.shard LIMIT 1)`;
}

/** The regions with an open shard this deployment binds: what a new organization may ask for. */
export async function regionsOnOffer(env: D1Bindings, catalog: CatalogDb): Promise<DataRegion[]> {
  const rows = await catalog
    .selectDistinct({ region: shards.region })
    .from(shards)
    .where(and(eq(shards.open, true), lt(shards.shard, shardCount(env))))
    .orderBy(shards.region);
  return rows.map((row) => row.region);
}
