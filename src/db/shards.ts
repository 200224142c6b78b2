// Shard routing: an organization's shard is recorded in `organizations.shard` when it is created,
// so finding it is part of the membership look-up, never a scan.
import { sql } from 'drizzle-orm';
import { drizzle, type DrizzleD1Database } from 'drizzle-orm/d1';
import * as catalogSchema from './catalog';
import * as tenantSchema from './tenant';
import type { D1Sessions } from './sessions';

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
 * The shard with the fewest organizations (ties → the lowest number), as a SQL expression, so
 * that the choice and the INSERT that records it are one statement.
 */
export function leastLoadedShard(env: D1Bindings) {
  const shards = sql.join(
    Array.from({ length: shardCount(env) }, (_, n) => sql`SELECT ${n} AS n`),
    sql` UNION ALL `,
  );
  return sql`(SELECT s.n FROM (${shards}) AS s
    ORDER BY (SELECT count(*) FROM organizations o WHERE o.shard = s.n), s.n LIMIT 1)`;
}
