import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './src/db/catalog.ts',
  out: './migrations/catalog',
});
