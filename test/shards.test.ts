import { env } from 'cloudflare:test';
import { eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { describe, expect, it } from 'vitest';
import { shardCount } from '../src/db/shards';
import { customers } from '../src/db/tenant';
import { TenantStore } from '../src/db/tenant-store';
import { uuidv7 } from '../src/lib/ids';
import { api, catalogOrg, newOrg, newUser, shardOf } from './helpers';

const shard = (n: number) => (env as unknown as Record<string, D1Database>)[`SHARD_${n}`]!;

async function organizationsPerShard(): Promise<number[]> {
  const counts = Array.from({ length: shardCount(env) }, () => 0);
  const { results } = await env.CATALOG.prepare('SELECT shard, count(*) AS n FROM organizations GROUP BY shard').all<{
    shard: number;
    n: number;
  }>();
  for (const row of results) counts[row.shard] = row.n;
  return counts;
}

/** Runs `body` with SHARD_1 in enam beside SHARD_0, so that placement has two shards to choose from. */
async function withTwoShardsInEnam(body: () => Promise<void>) {
  await env.CATALOG.prepare("UPDATE shards SET region = 'enam' WHERE shard = 1").run();
  try {
    await body();
  } finally {
    await env.CATALOG.prepare("UPDATE shards SET region = 'weur' WHERE shard = 1").run();
  }
}

describe('shard placement', () => {
  it('runs tests with three shards in three regions so that cross-shard and residency bugs show', async () => {
    expect(shardCount(env)).toBe(3);
    const { results } = await env.CATALOG.prepare('SELECT shard, region, open FROM shards ORDER BY shard').all();
    expect(results).toEqual([
      { shard: 0, region: 'enam', open: 1 },
      { shard: 1, region: 'weur', open: 1 },
      { shard: 2, region: 'eu', open: 1 },
    ]);
  });

  it("places a new organization on its region's shard with the fewest organizations", async () => {
    await withTwoShardsInEnam(async () => {
      for (let i = 0; i < 3; i++) {
        const counts = (await organizationsPerShard()).slice(0, 2);
        const expected = counts.indexOf(Math.min(...counts));
        const org = await newOrg();
        expect((await shardOf(org.id)).n).toBe(expected);
      }
    });
  });

  it('puts two organizations created in a row in one region on different shards', async () => {
    const owner = await newUser();
    await withTwoShardsInEnam(async () => {
      // Even out the shards first (catalog rows alone): other files create (and delete) organizations too.
      for (
        let counts = await organizationsPerShard();
        counts[0] !== counts[1];
        counts = await organizationsPerShard()
      ) {
        await catalogOrg(counts[0]! < counts[1]! ? 0 : 1);
      }
      const first = await newOrg(owner);
      const second = await newOrg(owner);
      expect(new Set([(await shardOf(first.id)).n, (await shardOf(second.id)).n])).toEqual(new Set([0, 1]));
    });
  });
});

describe('shard routing', () => {
  it("writes an organization's rows to its own shard only, and reads them back from there", async () => {
    const owner = await newUser();
    const a = await newOrg(owner);
    const b = await newOrg(owner, { data_region: 'weur' });
    expect((await shardOf(a.id)).n).not.toBe((await shardOf(b.id)).n);

    for (const org of [a, b]) {
      const home = (await shardOf(org.id)).n;
      const count = (n: number) =>
        shard(n)
          .prepare('SELECT count(*) AS n FROM activity_logs WHERE organization_id = ?')
          .bind(org.id)
          .first<{ n: number }>();
      for (let n = 0; n < shardCount(env); n++) {
        expect((await count(n))!.n).toBe(n === home ? 1 : 0); // its organization.create row, at home only
      }
      const log = await api('GET', `/v1/orgs/${org.slug}/activity`, { token: owner.token });
      expect(log.body.data.map((r: { action: string }) => r.action)).toEqual(['organization.create']);
    }
  });
});

describe('the tenant data layer', () => {
  const orgId = uuidv7();
  const otherId = uuidv7();
  const store = new TenantStore(drizzle(shard(0)), orgId);

  it('adds organization_id to every select, update and delete, around the caller’s condition', () => {
    const statements = [
      store.select(customers).toSQL(),
      store.select(customers, sql`1 = 1 OR 1 = 1`).toSQL(),
      store.update(customers, { name: 'x' }, eq(customers.id, 'c')).toSQL(),
      store.delete(customers).toSQL(),
    ];
    for (const statement of statements) {
      expect(statement.sql).toMatch(/where .*"customers"\."organization_id" = \?/i);
      expect(statement.params).toContain(orgId);
    }
    // A caller's OR stays inside the AND: it cannot widen the filter.
    expect(statements[1]!.sql).toMatch(/\("customers"\."organization_id" = \? and \(1 = 1 OR 1 = 1\)\)/i);
  });

  it('sets organization_id on insert, whatever the caller passes', () => {
    const values = { id: uuidv7(), name: 'Smuggled', organization_id: otherId } as unknown as Parameters<
      typeof store.insert<typeof customers>
    >[1];
    const statement = store.insert(customers, values).toSQL();
    expect(statement.params).toContain(orgId);
    expect(statement.params).not.toContain(otherId);
  });

  it('never returns another organization’s rows', async () => {
    const other = new TenantStore(drizzle(shard(0)), otherId);
    await store.insert(customers, { id: uuidv7(), name: 'Mine' }).run();
    await other.insert(customers, { id: uuidv7(), name: 'Theirs' }).run();
    const rows = await store.select(customers, sql`1 = 1 OR 1 = 1`);
    expect(rows.map((r) => r.name)).toEqual(['Mine']);
    await store.delete(customers);
    expect(await other.select(customers)).toHaveLength(1);
    await other.delete(customers);
  });
});
