declare module 'cloudflare:test' {
  interface ProvidedEnv extends Env {
    CATALOG_MIGRATIONS: D1Migration[];
    TENANT_MIGRATIONS: D1Migration[];
    TENANT_MIGRATION_SCRATCH: D1Database;
    CATALOG_MIGRATION_SCRATCH: D1Database;
    CLERK_JWT_KEY: string;
    TEST_SIGNING_KEY: string;
    CLERK_WEBHOOK_SECRET: string;
    STRIPE_WEBHOOK_SECRET: string;
    LOCAL_SHARDS_SQL: string;
  }
}
