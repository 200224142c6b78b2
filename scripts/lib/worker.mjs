// What `npm run bench`, `npm run fuzz` (through local-worker.mjs) and `npm run bench:global` share:
// the worker bundled as `wrangler deploy` would upload it, run by Miniflare's API with the bindings
// `wrangler dev` would give it, on a throwaway copy of the dev databases.
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Log, LogLevel } from 'miniflare';
import { unstable_readConfig } from 'wrangler';
import { DEV_PRIVATE_KEY_PATH, DEV_VARS_PATH, ROOT } from '../dev-identity.mjs';
import { parseDotenv } from '../dev-setup.mjs';
import { wrangler } from '../migrate.mjs';
import { signDevToken } from '../token.mjs';

let config;
/** wrangler.toml as wrangler reads it (once: it warns about `unsafe` on every read). */
export const readConfig = () => (config ??= unstable_readConfig({ config: path.join(ROOT, 'wrangler.toml') }));

/** A temporary directory for a bench run, and its removal. */
export function scratch(prefix) {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The worker as `wrangler deploy` would upload it: same bundler, same nodejs_compat polyfills. */
export function buildBundle(outdir) {
  wrangler(['deploy', '--dry-run', '--outdir', outdir], { capture: true });
  return path.join(outdir, 'index.js');
}

/**
 * A copy of wrangler's local D1 state (.wrangler/state/v3/d1, one <hash>.sqlite per database id)
 * for Miniflare's `d1Persist`: the run's writes never reach the dev state, and every run starts
 * from the same data.
 */
export function copyDevDatabases(dir, name) {
  const persist = path.join(dir, `d1-${name}`);
  cpSync(path.join(ROOT, '.wrangler', 'state', 'v3', 'd1'), persist, { recursive: true });
  return persist;
}

/** wrangler's local D1 commands use the preview id when there is one, else the database id. */
export const d1DatabaseIds = () =>
  Object.fromEntries(readConfig().d1_databases.map((d) => [d.binding, d.preview_database_id ?? d.database_id]));

/** Options every Miniflare of a bench takes: where D1 lives, a free port on 127.0.0.1, quiet logs. */
export const miniflareOptions = (d1Persist) => ({
  d1Persist,
  host: '127.0.0.1',
  port: 0, // any free port
  log: new Log(LogLevel.WARN), // shows the worker's logged failures, not every request
  cf: false, // a placeholder request.cf: by default Miniflare downloads one from workers.cloudflare.com
});

/**
 * One worker's options: the bindings `wrangler dev` would give it. `consumers: false` leaves out
 * the queue consumers (only one worker of a Miniflare may consume a queue); `cache: false` makes
 * the Cache API do nothing (every public request a miss).
 */
export function workerOptions(scriptPath, { vars = {}, cache = true, consumers = true } = {}) {
  const config = readConfig();
  return {
    modules: true,
    scriptPath,
    modulesRoot: path.dirname(scriptPath), // module names are paths relative to this; the bundle is in a temp dir
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags,
    d1Databases: d1DatabaseIds(),
    r2Buckets: (config.r2_buckets ?? []).map((b) => b.binding), // in memory: the bench uploads what it reads
    cache,
    // Durable Objects live in memory here: they hold no state the bench reads back.
    durableObjects: Object.fromEntries(
      (config.durable_objects?.bindings ?? []).map((d) => [
        d.name,
        {
          className: d.class_name,
          useSQLite: config.migrations.some((m) => m.new_sqlite_classes?.includes(d.class_name)),
        },
      ]),
    ),
    // The usage queue and its consumers as wrangler.toml declares them, so metered requests pay
    // what they pay in dev: the send, and the consumer's batches in the same workerd.
    queueProducers: Object.fromEntries((config.queues.producers ?? []).map((q) => [q.binding, { queueName: q.queue }])),
    ...(consumers
      ? {
          queueConsumers: Object.fromEntries(
            (config.queues.consumers ?? []).map((q) => [
              q.queue,
              {
                maxBatchSize: q.max_batch_size,
                maxBatchTimeout: q.max_batch_timeout,
                maxRetries: q.max_retries,
                deadLetterQueue: q.dead_letter_queue,
              },
            ]),
          ),
        }
      : {}),
    // The rate limiter is present (its cost is measured) but with a limit no run reaches: one
    // user sends every request of the bench.
    ratelimits: Object.fromEntries(
      (config.unsafe?.bindings ?? [])
        .filter((b) => b.type === 'ratelimit')
        .map((b) => [b.name, { simple: { limit: 1_000_000_000, period: b.simple.period } }]),
    ),
    bindings: {
      ...config.vars,
      ...parseDotenv(readFileSync(DEV_VARS_PATH, 'utf8')),
      EXPOSE_D1_ROUND_TRIPS: 'true', // the benches read round trips from every response
      ...vars,
    },
  };
}

/** A dev session token for `email` (provisioned on first use), valid `ttl` seconds. */
export const devToken = (email, ttl) =>
  signDevToken({ privateKeyPem: readFileSync(DEV_PRIVATE_KEY_PATH, 'utf8'), email, ttl });

/**
 * Puts an organization of the copy on the enterprise tier, so that no quota (api_calls, seats,
 * storage) ends a run in 402s and every request measures the work. `workerName`: the worker of
 * `mf` whose CATALOG binding to use (the first one by default).
 */
export async function liftQuotas(mf, slug, workerName) {
  const catalog = await mf.getD1Database('CATALOG', workerName);
  await catalog
    .prepare(
      `UPDATE subscriptions SET tier = 'enterprise', status = 'active'
    WHERE organization_id = (SELECT id FROM organizations WHERE slug = ?)`,
    )
    .bind(slug)
    .run();
}

export const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

/**
 * Runs a bench's (or the fuzzer's) `main`, bounded: if the worker or a run hangs past `timeoutMs`,
 * it gives up rather than wait forever (Miniflare's exit hook still stops workerd). A failure is
 * printed as `<name> failed: …` and exits 1.
 */
export async function runBounded(name, main, timeoutMs) {
  const deadline = setTimeout(() => {
    console.error(`\n${name}: timed out`);
    process.exit(1);
  }, timeoutMs);
  deadline.unref();
  try {
    await main();
  } catch (error) {
    console.error(`\n${name} failed: ${error.stack ?? error.message}`, error.cause ?? '');
    process.exitCode = 1;
  }
}
