// The list of what Strive stores beyond the seed schema (src/db/schema-additions.ts) stays true:
// every column and enum value it names exists in a migrated shard, every table it adds too.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { TENANT_ADDITIONAL_TABLES, TENANT_ADDITIONS } from '../src/db/schema-additions';

const shard = env.SHARD_0;
const tableSql = async (table: string) =>
  (await shard.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").bind(table).first<{ sql: string }>())?.sql;

describe('the tenant additions list', () => {
  it.each(Object.entries(TENANT_ADDITIONS))('names columns and values that %s has', async (table, additions) => {
    const { results } = await shard.prepare(`SELECT name FROM pragma_table_info(?)`).bind(table).all<{ name: string }>();
    const columns = results.map((r) => r.name);
    const sql = await tableSql(table);
    for (const [addition, reason] of Object.entries(additions)) {
      expect(reason.length, addition).toBeGreaterThan(10);
      const [column, value] = addition.split('=');
      expect(columns, addition).toContain(column);
      // A value: the column's CHECK lists it.
      if (value !== undefined) expect(sql, addition).toMatch(new RegExp(`"${column}" IN \\([^)]*'${value}'`));
    }
  });

  it('names tables the shards have', async () => {
    for (const table of Object.keys(TENANT_ADDITIONAL_TABLES)) expect(await tableSql(table), table).toBeDefined();
  });
});
