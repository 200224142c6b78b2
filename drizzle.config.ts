import { defineConfig } from 'drizzle-kit';

// Tenant schema: applied to every SHARD_n. The catalog has its own config (drizzle.catalog.config.ts).
export default defineConfig({
  dialect: 'sqlite',
  schema: './src/db/tenant.ts',
  out: './migrations/tenant',
});
