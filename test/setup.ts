import { applyD1Migrations, env } from 'cloudflare:test';
import { shardCount } from '../src/db/shards';

// Idempotent: applyD1Migrations records what it applied, so every file may call it.
await applyD1Migrations(env.CATALOG, env.CATALOG_MIGRATIONS);
for (let n = 0; n < shardCount(env); n++) {
  await applyD1Migrations((env as unknown as Record<string, D1Database>)[`SHARD_${n}`]!, env.TENANT_MIGRATIONS);
}
// The local shards' regions, as the dev seed records them.
const statements = env.LOCAL_SHARDS_SQL.replace(/^--.*$/gm, '')
  .split(';')
  .map((statement) => statement.trim())
  .filter(Boolean);
await env.CATALOG.batch(statements.map((statement) => env.CATALOG.prepare(statement)));
