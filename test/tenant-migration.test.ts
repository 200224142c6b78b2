// Tenant migrations move data, not only shapes: an empty shard (TENANT_MIGRATION_SCRATCH) is taken to the
// schema before issue 12 (0000–0004), given rows in the old shapes, then migrated the rest of the
// way, as `npm run db:migrate` does to a live shard. Every row must come through with its values
// under the new names and formats, and its references intact.
import { applyD1Migrations, env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';

const db = env.TENANT_MIGRATION_SCRATCH;
const FIRST_NEW = '0005_schema_fidelity.sql';

type Row = Record<string, unknown>;
const rows = async (table: string) => (await db.prepare(`SELECT * FROM ${table} ORDER BY id`).all<Row>()).results;
const without = (row: Row, ...columns: string[]) =>
  Object.fromEntries(Object.entries(row).filter(([c]) => !columns.includes(c)));

/** The scratch database emptied: a rerun in the same storage starts from nothing again. */
async function reset() {
  const { results } = await db
    .prepare(
      // An FTS5 table's shadow tables (<name>_data, …) go with it.
      `SELECT name FROM sqlite_master WHERE type = 'table'
       AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT GLOB '*_fts_*'`,
    )
    .all<{ name: string }>();
  if (results.length === 0) return;
  await db.batch([
    db.prepare('PRAGMA defer_foreign_keys = on'),
    ...results.map(({ name }) => db.prepare(`DROP TABLE "${name}"`)),
  ]);
}

const ORG = 'org-a';
const S1 = '2026-12-03T15:00:00.000Z';

async function insertOldShapes() {
  const statements = [
    `INSERT INTO customers (id, organization_id, name, email, source, status, tags, custom_fields, notes, created_by,
      created_at, updated_at) VALUES
      ('c1', '${ORG}', 'Ada', 'ada@example.com', 'social_media', 'active', '["vip"]', '{"tier":"gold"}',
        'met at a fair', 'u1', '2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z'),
      ('c2', '${ORG}', 'Bob', NULL, 'referral', 'lead', '[]', '{}', NULL, NULL, '2026-01-03T00:00:00.000Z', '2026-01-03T00:00:00.000Z'),
      ('c3', '${ORG}', 'Cy', NULL, NULL, 'inactive', '[]', '{}', NULL, NULL, '2026-01-04T00:00:00.000Z', '2026-01-04T00:00:00.000Z')`,
    `INSERT INTO projects (id, organization_id, customer_id, name, budget, progress_percentage) VALUES
      ('p1', '${ORG}', 'c1', 'Relaunch', 1250050, 40), ('p2', '${ORG}', 'c2', 'Audit', NULL, 0), ('p3', '${ORG}',
        NULL, 'Internal', NULL, 0)`,
    `INSERT INTO tasks (id, organization_id, project_id, parent_task_id, title, due_date, position, created_by) VALUES
      ('t1', '${ORG}', 'p1', NULL, 'Copy', '2026-12-04', 1024, 'u1'),
      ('t2', '${ORG}', 'p1', 't1', 'Headlines', NULL, 2048, 'u1'),
      ('t3', '${ORG}', 'p2', NULL, 'Review', '2026-11-30', 1024, NULL)`,
    `INSERT INTO appointments (id, organization_id, customer_id, assigned_to, title, start_time, end_time, status, reminder_sent) VALUES
      ('a1', '${ORG}', 'c1', 'u1', 'Kick-off', '${S1}', '2026-12-03T16:00:00.000Z', 'confirmed', 1),
      ('a2', '${ORG}', 'c2', 'u1', 'Review', '2026-12-05T09:00:00.000Z', '2026-12-05T10:00:00.000Z', 'scheduled', 0)`,
    // a1: its 24 h reminder went out, its 1 h one is claimed and not queued yet, and a 1 h reminder
    // went out for the time it had before it was moved.
    `INSERT INTO reminders_sent (id, organization_id, appointment_id, reminder_window, start_time, claim_id, claimed_at, queued_at) VALUES
      ('r1', '${ORG}', 'a1', '24h', '${S1}', 'k1', '2026-12-02T15:00:00.000Z', '2026-12-02T15:00:01.000Z'),
      ('r2', '${ORG}', 'a1', '1h', '${S1}', 'k2', '2026-12-03T14:00:00.000Z', NULL),
      ('r3', '${ORG}', 'a1', '1h', '2026-12-01T10:00:00.000Z', 'k0', '2026-12-01T09:00:00.000Z', '2026-12-01T09:00:02.000Z')`,
    `INSERT INTO usage_events (id, organization_id, user_id, resource_type, resource_name, quantity, billing_period,
      occurred_at, counted_in) VALUES
      ('e1', '${ORG}', 'u1', 'ai_tokens', 'gpt-4o', 1000, '2026-03', '2026-03-02T10:00:00.000Z', 'b1'),
      ('e2', '${ORG}', 'u1', 'ai_tokens', 'gpt-4o', 500, '2026-03', '2026-03-09T10:00:00.000Z', 'b2'),
      ('e3', '${ORG}', NULL, 'api_calls', 'GET /v1/orgs/:org/customers', 7, '2026-04', '2026-04-01T00:00:00.000Z', 'b3')`,
    `INSERT INTO usage_tracking (id, organization_id, user_id, resource_type, resource_name, quantity, billing_period,
      metadata, created_at, updated_at) VALUES
      ('ut1', '${ORG}', 'u1', 'ai_tokens', 'gpt-4o', 1500, '2026-03', '{}', '2026-03-02T10:00:01.000Z', '2026-03-09T10:00:01.000Z'),
      ('ut2', '${ORG}', NULL, 'api_calls', 'GET /v1/orgs/:org/customers', 7, '2026-04', '{}',
        '2026-04-01T00:00:01.000Z', '2026-04-01T00:00:01.000Z'),
      ('ut3', '${ORG}', NULL, 'storage', 'asset-1', 4096, '2025-12', '{"note":"kept"}', '2025-12-24T00:00:00.000Z',
        '2025-12-24T00:00:00.000Z')`,
  ];
  await db.batch(statements.map((statement) => db.prepare(statement)));
}

describe('tenant migrations on a shard holding the old shapes', () => {
  const before: Record<string, Row[]> = {};

  beforeAll(async () => {
    await reset();
    await applyD1Migrations(
      db,
      env.TENANT_MIGRATIONS.filter((m) => m.name < FIRST_NEW),
    );
    await insertOldShapes();
    for (const table of [
      'customers',
      'projects',
      'tasks',
      'appointments',
      'reminders_sent',
      'usage_tracking',
      'usage_events',
    ])
      before[table] = await rows(table);
    await applyD1Migrations(db, env.TENANT_MIGRATIONS);
  });

  it('renames social_media to social and keeps every customer otherwise as it was', async () => {
    expect(await rows('customers')).toEqual(
      before.customers!.map((c) => ({ ...c, source: c.source === 'social_media' ? 'social' : c.source })),
    );
  });

  it('keeps the rows that reference customers, and the references still hold and are enforced', async () => {
    expect(await rows('projects')).toEqual(before.projects);
    expect(await rows('appointments').then((r) => r.map((a) => without(a, 'reminders_sent')))).toEqual(
      before.appointments!.map((a) => without(a, 'reminder_sent')),
    );
    expect((await db.prepare('PRAGMA foreign_key_check').all()).results).toEqual([]);
    await expect(
      db
        .prepare(`INSERT INTO projects (id, organization_id, customer_id, name) VALUES ('p4', '${ORG}', 'nobody', 'x')`)
        .run(),
    ).rejects.toThrow(/FOREIGN KEY/);
    await expect(
      db
        .prepare(`INSERT INTO projects (id, organization_id, customer_id, name) VALUES ('p4', 'org-b', 'c1', 'x')`)
        .run(),
    ).rejects.toThrow(/FOREIGN KEY/);
  });

  it('turns the reminder flag into which reminder went out when, for the current start time', async () => {
    const sent = Object.fromEntries(
      (await rows('appointments')).map((a) => [a.id, JSON.parse(a.reminders_sent as string)]),
    );
    expect(sent).toEqual({ a1: { '24h': '2026-12-02T15:00:01.000Z', '1h': null }, a2: { '24h': null, '1h': null } });
    expect(await rows('reminders_sent')).toEqual(before.reminders_sent);
  });

  it('makes task due dates instants at midnight UTC', async () => {
    expect(await rows('tasks')).toEqual(
      before.tasks!.map((t) => ({ ...t, due_date: t.due_date === null ? null : `${t.due_date}T00:00:00.000Z` })),
    );
  });

  it('moves quantity to usage_amount, the month to its first day, and fills metadata from the events', async () => {
    const expected = {
      ut1: {
        usage_amount: 1500,
        billing_period: '2026-03-01',
        metadata: { events: 2, first_event_at: '2026-03-02T10:00:00.000Z', last_event_at: '2026-03-09T10:00:00.000Z' },
      },
      ut2: {
        usage_amount: 7,
        billing_period: '2026-04-01',
        metadata: { events: 1, first_event_at: '2026-04-01T00:00:00.000Z', last_event_at: '2026-04-01T00:00:00.000Z' },
      },
      ut3: { usage_amount: 4096, billing_period: '2025-12-01', metadata: { note: 'kept' } },
    } as Record<string, Row>;
    expect((await rows('usage_tracking')).map((u) => ({ ...u, metadata: JSON.parse(u.metadata as string) }))).toEqual(
      before.usage_tracking!.map((u) => ({ ...without(u, 'quantity'), ...expected[u.id as string] })),
    );
    expect(await rows('usage_events')).toEqual(before.usage_events);
  });

  it("has the index plan: the rebuilt tables' indexes and the foreign-key indexes", async () => {
    const { results } = await db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'")
      .all<{ name: string }>();
    expect(results.map((r) => r.name)).toEqual(
      expect.arrayContaining([
        'customers_org_id_unique',
        'customers_email_idx',
        'customers_org_status_idx',
        'customers_assigned_to_idx',
        'usage_tracking_org_period_idx',
        'usage_tracking_user_idx',
        'usage_tracking_aggregate_unique',
        'tasks_created_by_idx',
        'content_author_idx',
      ]),
    );
  });

  it('indexes the rows it finds for full-text search, and keeps the index in step after', async () => {
    const found = async (table: string, q: string) =>
      (
        await db
          .prepare(
            `SELECT ${table}.id FROM ${table}_fts JOIN ${table} ON ${table}.rowid = ${table}_fts.rowid
             WHERE ${table}_fts MATCH ? ORDER BY 1`,
          )
          .bind(q)
          .all<Row>()
      ).results.map((r) => r.id);
    expect(await found('customers', 'ada')).toEqual(['c1']);
    expect(await found('tasks', 'head*')).toEqual(['t2']);
    await db.prepare("UPDATE tasks SET title = 'Taglines' WHERE id = 't2'").run();
    expect(await found('tasks', 'head*')).toEqual([]);
    expect(await found('tasks', 'tagl*')).toEqual(['t2']);
  });
});
