// The Worker as `wrangler deploy` would upload it, started through Miniflare's API on a throwaway
// copy of the dev databases (.wrangler/state/v3/d1), with the bindings of wrangler.toml: what
// `npm run bench` measures and `npm run fuzz` attacks. All traffic stays on 127.0.0.1.
//
// Miniflare's API rather than `wrangler dev`: wrangler dev's proxy in front of workerd caps
// throughput around 2.3k req/s, which would hide the difference between /health and a D1 read.
import { cpSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Log, LogLevel, Miniflare } from 'miniflare';
import { unstable_readConfig } from 'wrangler';
import { DEV_VARS_PATH, ROOT } from './dev-identity.mjs';
import { parseDotenv } from './dev-setup.mjs';
import { wrangler } from './migrate.mjs';

export const readConfig = () => unstable_readConfig({ config: path.join(ROOT, 'wrangler.toml') });

/** The worker as `wrangler deploy` would upload it: same bundler, same nodejs_compat polyfills. */
export function buildBundle(outdir) {
  wrangler(['deploy', '--dry-run', '--outdir', outdir], { capture: true });
  return path.join(outdir, 'index.js');
}

/**
 * A workerd with the bindings `wrangler dev` would give the worker, on `d1Persist`: a copy of
 * wrangler's local state (.wrangler/state/v3/d1, one <hash>.sqlite per database id).
 */
function startWorker(scriptPath, d1Persist, { vars = {}, cache = true, outbound } = {}) {
  const config = readConfig();
  return new Miniflare({
    modules: true,
    scriptPath,
    modulesRoot: path.dirname(scriptPath), // module names are paths relative to this; the bundle is in a temp dir
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags,
    // wrangler's local D1 commands use the preview id when there is one, else the database id.
    d1Databases: Object.fromEntries(
      config.d1_databases.map((d) => [d.binding, d.preview_database_id ?? d.database_id]),
    ),
    d1Persist,
    r2Buckets: (config.r2_buckets ?? []).map((b) => b.binding), // in memory: a run uploads what it reads
    cache, // false: the Cache API does nothing, so every public request is a miss
    // Durable Objects live in memory here: they hold no state a run reads back.
    durableObjects: Object.fromEntries(
      (config.durable_objects?.bindings ?? []).map((d) => [d.name, {
        className: d.class_name,
        useSQLite: config.migrations.some((m) => m.new_sqlite_classes?.includes(d.class_name)),
      }]),
    ),
    // The usage queue and its consumers as wrangler.toml declares them, so metered requests pay
    // what they pay in dev: the send, and the consumer's batches in the same workerd.
    queueProducers: Object.fromEntries((config.queues.producers ?? []).map((q) => [q.binding, { queueName: q.queue }])),
    queueConsumers: Object.fromEntries((config.queues.consumers ?? []).map((q) => [q.queue, {
      maxBatchSize: q.max_batch_size, maxBatchTimeout: q.max_batch_timeout, maxRetries: q.max_retries, deadLetterQueue: q.dead_letter_queue,
    }])),
    // The rate limiters are present (their cost is measured) but with a limit no run reaches: one
    // user, from one address, sends every request of a run.
    ratelimits: Object.fromEntries((config.unsafe?.bindings ?? []).filter((b) => b.type === 'ratelimit')
      .map((b) => [b.name, { simple: { limit: 1_000_000_000, period: b.simple.period } }])),
    bindings: {
      ...config.vars,
      ...parseDotenv(readFileSync(DEV_VARS_PATH, 'utf8')),
      EXPOSE_D1_ROUND_TRIPS: 'true', // x-d1-round-trips on every response
      ...vars,
    },
    host: '127.0.0.1',
    port: 0, // any free port
    log: new Log(LogLevel.WARN), // shows the worker's logged failures, not every request
    cf: false, // a placeholder request.cf: by default Miniflare downloads one from workers.cloudflare.com
    // `outbound(request)` answers every fetch the worker makes to another host instead of the network.
    ...(outbound ? { outboundService: outbound } : {}),
  });
}

/**
 * Starts the bundle on its own copy of the dev databases (under `outdir`, named `name`), so that
 * what a run writes never reaches the dev state and every run starts from the same data. The
 * caller disposes of the answer's `mf`; it is pushed to `started` before it is ready, so a
 * `finally` over that list stops a failed start too.
 */
export async function startOnCopy(scriptPath, outdir, name, started, options = {}) {
  const persist = path.join(outdir, `d1-${name}`);
  cpSync(path.join(ROOT, '.wrangler', 'state', 'v3', 'd1'), persist, { recursive: true });
  const mf = startWorker(scriptPath, persist, options);
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
  if (!org) throw new Error(`organization '${slug}' is not in the CATALOG Miniflare opened: D1 state layout differs from wrangler's.`);
  const shard = await mf.getD1Database(`SHARD_${org.shard}`);
  const { n } = await shard.prepare('SELECT count(*) AS n FROM customers WHERE organization_id = ?').bind(org.id).first();
  if (n === 0) throw new Error(`SHARD_${org.shard} holds no '${slug}' customers: D1 state layout differs from wrangler's.`);
  return { id: org.id, shard, description: `CATALOG has '${slug}', SHARD_${org.shard} its ${n} customers` };
}

/** The organization `slug` of the copy on the enterprise tier, so that no quota ends a run in 402s. */
export async function liftQuotas(mf, slug) {
  const catalog = await mf.getD1Database('CATALOG');
  await catalog.prepare(`UPDATE subscriptions SET tier = 'enterprise', status = 'active'
    WHERE organization_id = (SELECT id FROM organizations WHERE slug = ?)`).bind(slug).run();
}
