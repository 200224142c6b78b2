// The Worker as `wrangler deploy` would upload it, started through Miniflare's API on a throwaway
// copy of the dev databases (.wrangler/state/v3/d1), with the bindings of wrangler.toml: what
// `npm run bench` measures and `npm run fuzz` attacks. All traffic stays on 127.0.0.1. Built from
// the pieces every bench shares (lib/worker.mjs).
//
// Miniflare's API rather than `wrangler dev`: wrangler dev's proxy in front of workerd caps
// throughput around 2.3k req/s, which would hide the difference between /health and a D1 read.
import { Miniflare } from 'miniflare';
import { copyDevDatabases, miniflareOptions, workerOptions } from './lib/worker.mjs';

export { buildBundle, liftQuotas, readConfig } from './lib/worker.mjs';

/**
 * Starts the bundle on its own copy of the dev databases (under `outdir`, named `name`), so that
 * what a run writes never reaches the dev state and every run starts from the same data. The
 * caller disposes of the answer's `mf`; it is pushed to `started` before it is ready, so a
 * `finally` over that list stops a failed start too. `options`: `vars`, `cache` (false: every
 * public request a miss), `outbound(request)` (answers every fetch the worker makes to another
 * host instead of the network).
 */
export async function startOnCopy(scriptPath, outdir, name, started, { vars, cache, outbound } = {}) {
  const mf = new Miniflare({
    ...workerOptions(scriptPath, { vars, cache }),
    ...miniflareOptions(copyDevDatabases(outdir, name)),
    ...(outbound ? { outboundService: outbound } : {}),
  });
  started.push(mf);
  return { mf, url: (await mf.ready).origin };
}

/**
 * The seeded organization `slug` in the copy: its id and its shard's database. Fails clearly when
 * Miniflare derived other file names than wrangler (it would have opened empty databases and
 * every tenant request would fail later, less clearly).
 */
export async function seededOrganization(mf, slug) {
  const catalog = await mf.getD1Database('CATALOG');
  const org = await catalog.prepare('SELECT id, shard FROM organizations WHERE slug = ?').bind(slug).first();
  if (!org)
    throw new Error(
      `organization '${slug}' is not in the CATALOG Miniflare opened: D1 state layout differs from wrangler's.`,
    );
  const shard = await mf.getD1Database(`SHARD_${org.shard}`);
  const { n } = await shard
    .prepare('SELECT count(*) AS n FROM customers WHERE organization_id = ?')
    .bind(org.id)
    .first();
  if (n === 0)
    throw new Error(`SHARD_${org.shard} holds no '${slug}' customers: D1 state layout differs from wrangler's.`);
  return { id: org.id, shard, description: `CATALOG has '${slug}', SHARD_${org.shard} its ${n} customers` };
}
