import { defineWorkersConfig, readD1Migrations } from '@cloudflare/vitest-pool-workers/config';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

// Tests run inside workerd against real local D1 (catalog + 3 shards), with the same migration
// files that `npm run db:migrate` applies. A throwaway key pair stands in for Clerk's: the
// public half is CLERK_JWT_KEY, the private half signs test session tokens.
export default defineWorkersConfig(async () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    test: {
      setupFiles: ['./test/setup.ts'],
      // Generous: the suite shares two cores with whatever else runs (workerd, the consumers, CI);
      // a test's speed is measured by the benches, never asserted here.
      testTimeout: 30_000,
      hookTimeout: 30_000,
      poolOptions: {
        workers: {
          main: './src/index.ts',
          // Files run one after another in one shared storage: Durable Object WebSocket tests
          // need isolatedStorage off, and shard placement is only deterministic sequentially.
          singleWorker: true,
          isolatedStorage: false,
          wrangler: { configPath: './wrangler.toml' },
          miniflare: {
            // Empty databases the migration tests migrate step by step, with rows of the old shapes in
            // between (test/tenant-migration.test.ts, test/catalog-migration.test.ts): never CATALOG or a shard.
            d1Databases: {
              TENANT_MIGRATION_SCRATCH: { id: 'tenant-migration-scratch' },
              CATALOG_MIGRATION_SCRATCH: { id: 'catalog-migration-scratch' },
            },
            bindings: {
              CATALOG_MIGRATIONS: await readD1Migrations('./migrations/catalog'),
              TENANT_MIGRATIONS: await readD1Migrations('./migrations/tenant'),
              // The local shards' regions, as `npm run setup` records them (test/setup.ts applies it).
              LOCAL_SHARDS_SQL: readFileSync('./scripts/local-shards.sql', 'utf8'),
              // workerd throws on namespace.jurisdiction(): tests check which namespace a path picks.
              DO_JURISDICTIONS: 'off',
              // No real host from tests: a webhook delivery's DNS look-up that no test mocked (a cron or
              // consumer run reaching another test's endpoint) fails at once here and never leaves the machine.
              DOH_RESOLVER_URL: 'http://127.0.0.1:9/dns-query',
              // Moves delete the source rows at once after their flip (test/moves.test.ts steps the wait itself).
              MOVE_SETTLE_MS: '0',
              CLERK_JWT_KEY: publicKey,
              TEST_SIGNING_KEY: privateKey,
              CLERK_WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
              STRIPE_WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
              EXPOSE_D1_ROUND_TRIPS: 'true',
              // The local model's pace: slow enough that cancel and reconnect land mid-answer.
              AI_LOCAL_DELTA_MS: '10',
              // Never a real provider from tests, whatever .dev.vars holds: provider tests set keys
              // on their own bindings and answer with fetchMock.
              OPENAI_API_KEY: '',
              ANTHROPIC_API_KEY: '',
              GEMINI_API_KEY: '',
              // No dev sign-in, whatever .dev.vars holds: test/console.test.ts turns it on per request.
              DEV_SESSION_SIGNING_KEY: '',
            },
          },
        },
      },
    },
  };
});
