// The catalog migrations move existing data (issue 12): a scratch catalog (CATALOG_MIGRATION_SCRATCH,
// never the Worker's) is migrated up to the migration before 0004, filled with rows of the old
// shapes, migrated to the end, and checked row by row. 0004 rebuilds organizations, a parent whose
// children (members, API keys, subscriptions) would be emptied by ON DELETE CASCADE if it were
// dropped the way drizzle-kit writes it: this test is what catches that.
import { applyD1Migrations, env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';

const db = env.CATALOG_MIGRATION_SCRATCH;
const FIRST_NEW = '0004';

type Row = Record<string, unknown>;
const all = async (sql: string) => (await db.prepare(sql).all<Row>()).results;
const indexNames = async () =>
  (await all("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name")).map(
    (r) => r.name as string,
  );

/** Empties the scratch database (it lives as long as the test run's storage). */
async function reset() {
  const tables = await all(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
  );
  if (tables.length === 0) return;
  await db.batch([
    db.prepare('PRAGMA defer_foreign_keys = on'),
    ...tables.map((t) => db.prepare(`DROP TABLE "${t.name}"`)),
  ]);
}

const id = (n: number) => `019a0000-0000-7000-8000-${String(n).padStart(12, '0')}`;
const at = '2026-11-01T09:00:00.000Z';

/** Organizations by the status of their subscription row before 0004 (`none`: no row), and what 0004 derives. */
const ORGS = [
  { n: 101, status: 'active', derived: 'active' },
  { n: 102, status: 'trialing', derived: 'trial' },
  { n: 103, status: 'past_due', derived: 'active' },
  { n: 104, status: 'canceled', derived: 'inactive' },
  { n: 105, status: 'unpaid', derived: 'inactive' },
  { n: 106, status: 'none', derived: 'inactive' },
] as const;

const SEARCH_PARAMETERS = { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] };

/** Rows as 0000–0003 shaped them: the old subscription statuses, ai_tools' category and parameters. */
async function fillOldShapes() {
  const statements = [
    db
      .prepare(
        "INSERT INTO users (id, clerk_user_id, email, name, role, subscription_tier) VALUES (?, 'user_a', " +
          "'a@old.test', 'A', 'admin', 'pro'), (?, NULL, 'b@old.test', NULL, 'employee', 'free')",
      )
      .bind(id(1), id(2)),
  ];
  for (const org of ORGS) {
    const orgId = id(org.n);
    statements.push(
      db
        .prepare(
          `INSERT INTO organizations (id, name, slug, description, logo_url, website, settings, subscription_status,
            shard, stripe_customer_id, stripe_checkout_session_id, created_by, created_at, updated_at)
        VALUES (?, ?, ?, 'd', NULL, 'https://old.test', '{"timezone":"UTC"}', ?, ?, ?, ?, ?, ?, ?)`,
        )
        .bind(
          orgId,
          `Org ${org.n}`,
          `org-${org.n}`,
          org.status === 'none' ? 'active' : org.status,
          org.n % 2,
          `cus_${org.n}`,
          `cs_${org.n}`,
          id(1),
          at,
          at,
        ),
      db
        .prepare(
          `INSERT INTO organization_members (id, organization_id, user_id, role, permissions, invited_by, joined_at,
            calendar_token_hash, created_at, updated_at)
        VALUES (?, ?, ?, 'owner', '{"grant":["billing:manage"],"deny":[]}', NULL, ?, ?, ?, ?)`,
        )
        .bind(id(200 + org.n), orgId, id(1), at, `hash_${org.n}`, at, at),
      db
        .prepare(
          `INSERT INTO organization_members (id, organization_id, user_id, role, invited_by, joined_at) VALUES (?, ?, ?, 'viewer', ?, ?)`,
        )
        .bind(id(300 + org.n), orgId, id(2), id(1), at),
      db
        .prepare(
          `INSERT INTO api_keys (id, organization_id, created_by, name, prefix, key_hash, scopes, expires_at, ` +
            `created_at) VALUES (?, ?, ?, 'ci', 'sk_live_ab', ?, '["customers:read"]', '2027-01-01T00:00:00.000Z', ?)`,
        )
        .bind(id(400 + org.n), orgId, id(1), `key_${org.n}`, at),
    );
    if (org.status !== 'none') {
      statements.push(
        db
          .prepare(
            `INSERT INTO subscriptions (id, organization_id, stripe_subscription_id, stripe_customer_id,
              stripe_price_id, tier, status, current_period_start, current_period_end, cancel_at_period_end,
              canceled_at, trial_end, stripe_event_created, stripe_invoice_created, created_at, updated_at)
        VALUES (?, ?, ?, ?, 'price_pro', 'pro', ?, ?, ?, 1, ?, NULL, 1790000000, 1790000001, ?, ?)`,
          )
          .bind(
            id(500 + org.n),
            orgId,
            `sub_${org.n}`,
            `cus_${org.n}`,
            org.status,
            at,
            at,
            org.status === 'canceled' ? at : null,
            at,
            at,
          ),
      );
    }
  }
  statements.push(
    db
      .prepare(
        `INSERT INTO ai_tools (id, name, description, category, required_tier, parameters, is_active, created_at, updated_at) VALUES
      (?, 'search_customers', 'Search customers.', 'crm', 'free', ?, 1, ?, ?),
      (?, 'Lookup-Thing', 'Looks a thing up.', 'analysis', 'pro', '{"type":"object","properties":{}}', 0, ?, ?),
      (?, 'plain', 'No arguments.', 'general', 'basic', '{}', 1, ?, ?)`,
      )
      .bind(id(601), JSON.stringify(SEARCH_PARAMETERS), at, at, id(602), at, at, id(603), at, at),
  );
  await db.batch(statements);
}

const byId = (rows: Row[]) => Object.fromEntries(rows.map((row) => [row.id as string, row]));
const json = (value: unknown) => JSON.parse(value as string);

describe('catalog migration 0004 (SCHEMA.md names and values)', () => {
  let before: Record<string, Row[]>;
  let indexesBefore: string[];

  beforeAll(async () => {
    await reset();
    await applyD1Migrations(
      db,
      env.CATALOG_MIGRATIONS.filter((m) => m.name < FIRST_NEW),
    );
    await fillOldShapes();
    before = {};
    for (const table of ['users', 'organizations', 'organization_members', 'api_keys', 'subscriptions', 'ai_tools']) {
      before[table] = await all(`SELECT * FROM ${table} ORDER BY id`);
    }
    indexesBefore = await indexNames();
    await applyD1Migrations(db, env.CATALOG_MIGRATIONS);
  });

  it('applied every migration, the last included', async () => {
    const applied = (await all('SELECT name FROM d1_migrations ORDER BY id')).map((r) => r.name);
    expect(applied).toEqual(env.CATALOG_MIGRATIONS.map((m) => m.name));
    expect(applied.some((name) => (name as string).startsWith(FIRST_NEW))).toBe(true);
  });

  it('keeps every member, API key and user as it was (none emptied by a cascade)', async () => {
    for (const table of ['users', 'organization_members', 'api_keys']) {
      expect(await all(`SELECT * FROM ${table} ORDER BY id`), table).toEqual(before[table]);
    }
    expect(before.organization_members).toHaveLength(ORGS.length * 2);
  });

  it('derives organizations.subscription_status from the subscription (active, inactive, trial), everything else kept', async () => {
    const after = byId(await all('SELECT * FROM organizations'));
    expect(Object.keys(after)).toHaveLength(ORGS.length);
    for (const old of before.organizations!) {
      const org = ORGS.find((o) => id(o.n) === old.id)!;
      expect(after[old.id as string], org.status).toEqual({
        ...old,
        subscription_status: org.derived,
        billing_email: null,
      });
    }
  });

  it("stores Stripe's canceled as cancelled, with empty metadata, everything else kept", async () => {
    const after = byId(await all('SELECT * FROM subscriptions'));
    expect(Object.keys(after)).toHaveLength(before.subscriptions!.length);
    for (const old of before.subscriptions!) {
      const status = old.status === 'canceled' ? 'cancelled' : old.status;
      expect(after[old.id as string]).toEqual({ ...old, status, metadata: '{}' });
    }
    expect(
      Object.values(after)
        .map((s) => s.status)
        .sort(),
    ).toEqual(['active', 'cancelled', 'past_due', 'trialing', 'unpaid']);
  });

  it(
    'moves ai_tools: category → tool_type (kept in configuration), parameters → configuration.parameters, the old ' +
      'name as function_name',
    async () => {
      const after = byId(await all('SELECT * FROM ai_tools'));
      const expected: Record<string, { tool_type: string; category: string; parameters: unknown }> = {
        [id(601)]: { tool_type: 'automation', category: 'crm', parameters: SEARCH_PARAMETERS },
        [id(602)]: { tool_type: 'analysis', category: 'analysis', parameters: { type: 'object', properties: {} } },
        [id(603)]: { tool_type: 'automation', category: 'general', parameters: {} },
      };
      for (const old of before.ai_tools!) {
        const { category: _category, parameters: _parameters, ...kept } = old;
        const { configuration, ...row } = after[old.id as string]!;
        const want = expected[old.id as string]!;
        expect(row).toEqual({ ...kept, function_name: old.name, tool_type: want.tool_type });
        expect(json(configuration)).toEqual({ parameters: want.parameters, category: want.category });
      }
    },
  );

  it('keeps every index (ai_tools is unique by function_name now) and the foreign keys, cascades included', async () => {
    const expectedIndexes = [
      ...indexesBefore.filter((name) => name !== 'ai_tools_name_unique'),
      'ai_tools_function_name_unique',
      'platform_activity_logs_resource_idx',
      'organization_moves_active_unique', // 0006: one move under way per organization
    ].sort();
    expect(await indexNames()).toEqual(expectedIndexes);
    // Children still point at organizations: an unknown organization is refused…
    await expect(
      db
        .prepare(
          "INSERT INTO api_keys (id, organization_id, created_by, name, prefix, key_hash, scopes) VALUES ('k', " +
            "'nope', ?, 'x', 'x', 'x', '[]')",
        )
        .bind(id(1))
        .run(),
    ).rejects.toThrow(/FOREIGN KEY/);
    // …and deleting one still takes its members, keys and subscription with it.
    await db.prepare('DELETE FROM organizations WHERE id = ?').bind(id(101)).run();
    for (const table of ['organization_members', 'api_keys', 'subscriptions']) {
      expect(
        (await db
          .prepare(`SELECT count(*) AS n FROM ${table} WHERE organization_id = ?`)
          .bind(id(101))
          .first<{ n: number }>())!.n,
        table,
      ).toBe(0);
    }
    expect((await db.prepare('SELECT count(*) AS n FROM organization_members').first<{ n: number }>())!.n).toBe(
      (ORGS.length - 1) * 2,
    );
  });

  it('takes the new values and refuses the old ones', async () => {
    const orgUpdate = (status: string) =>
      db.prepare('UPDATE organizations SET subscription_status = ? WHERE id = ?').bind(status, id(102)).run();
    for (const status of ['active', 'inactive', 'trial']) await orgUpdate(status);
    await expect(orgUpdate('trialing')).rejects.toThrow(/CHECK/);
    const subUpdate = (status: string) =>
      db.prepare('UPDATE subscriptions SET status = ? WHERE organization_id = ?').bind(status, id(102)).run();
    await subUpdate('cancelled');
    await expect(subUpdate('canceled')).rejects.toThrow(/CHECK/);
  });
});
