// Shard routing: an organization's shard is recorded in `organizations.shard` when it is created,
// so finding it is part of the membership look-up, never a scan.
import { sql } from 'drizzle-orm';
import { drizzle, type DrizzleD1Database } from 'drizzle-orm/d1';
import * as catalogSchema from './catalog';
import * as tenantSchema from './tenant';
import { countRoundTrips, type RoundTripCounter } from './round-trips';

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

export function catalogDb(env: D1Bindings, counter: RoundTripCounter): CatalogDb {
  return drizzle(countRoundTrips(env.CATALOG, counter), { schema: catalogSchema });
}

/** The shard's D1 binding itself (round trips counted), for the rare statement drizzle cannot batch. */
export function shardBinding(env: D1Bindings, shard: number, counter: RoundTripCounter): D1Database {
  const binding = (env as unknown as Record<string, D1Database | undefined>)[`SHARD_${shard}`];
  if (!binding) throw new Error(`Organization placed on SHARD_${shard}, which this deployment does not bind.`);
  return countRoundTrips(binding, counter);
}

export function shardDb(env: D1Bindings, shard: number, counter: RoundTripCounter): ShardDb {
  return drizzle(shardBinding(env, shard, counter), { schema: tenantSchema });
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
