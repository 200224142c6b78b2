// The list of what Strive stores beyond the seed schema (src/db/schema-additions.ts) stays true:
// every column, enum value and table it names exists in the migrated catalog or shard.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { CATALOG_ADDITIONS, TENANT_ADDITIONS } from '../src/db/schema-additions';

const tableSql = async (db: D1Database, table: string) =>
  (
    await db
      .prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?")
      .bind(table)
      .first<{ sql: string }>()
  )?.sql;

describe.each([
  ['catalog', env.CATALOG, CATALOG_ADDITIONS],
  ['tenant', env.SHARD_0, TENANT_ADDITIONS],
] as const)('the %s additions list', (_, db, list) => {
  it.each(Object.entries(list))('names columns, values and tables that %s has', async (table, additions) => {
    const sql = await tableSql(db, table);
    expect(sql, table).toBeDefined();
    const { results } = await db.prepare(`SELECT name FROM pragma_table_info(?)`).bind(table).all<{ name: string }>();
    const columns = results.map((r) => r.name);
    for (const [addition, reason] of Object.entries(additions)) {
      expect(reason.length, addition).toBeGreaterThan(10);
      if (addition === '*') continue;
      const [column, value] = addition.split('=');
      expect(columns, addition).toContain(column);
      // A value: the column's CHECK lists it.
      if (value !== undefined) expect(sql, addition).toMatch(new RegExp(`"${column}" IN \\([^)]*'${value}'`));
    }
  });
});
