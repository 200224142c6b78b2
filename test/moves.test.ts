// Online moves of an organization between shards (issue 16, "No data lost"): the state machine
// stepped one step at a time against the real local shards, R2 buckets and objects; writes during
// the move, a crash after every step, a failed verification, sockets, usage events.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { stepMove, type MoveOptions } from '../src/modules/platform/moves';
import { uuidv7 } from '../src/lib/ids';
import { api, deliver, expectProblem, newOrg, newUser, openSocket, shardOf, usageEvent, type TestOrg } from './helpers';

const shard = (n: number) => (env as unknown as Record<string, D1Database>)[`SHARD_${n}`]!;

/** Every shard table with an organization_id column, found in the shard's schema (as the organizations test does). */
async function tenantTables(): Promise<string[]> {
  const { results } = await shard(0)
    .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .all<{ name: string; sql: string }>();
  return results.filter((t) => /[`"]organization_id[`"] /.test(t.sql)).map((t) => t.name);
}

/** The organization's rows on shard `n`, per table (the move's own fence included), as sorted JSON. */
async function rowsOn(n: number, organizationId: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of await tenantTables()) {
    const { results } = await shard(n)
      .prepare(`SELECT * FROM "${table}" WHERE organization_id = ?`)
      .bind(organizationId)
      .all<Record<string, unknown>>();
    if (results.length > 0) out[table] = results.map((row) => JSON.stringify(row)).sort();
  }
  return out;
}

const admin = async () => {
  const user = await newUser('admin');
  await env.CATALOG.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(user.id).run();
  return user;
};

async function startMove(org: TestOrg, to: string, body: Record<string, unknown> = {}) {
  const by = await admin();
  const res = await api('POST', `/v1/admin/organizations/${org.slug}/moves`, {
    token: by.token,
    body: { to, ...body },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; phase: string; from: string; to: string };
}

const STEPS: MoveOptions = { settleMs: 0, pageRows: 2 };

/** Steps the move to its end, one step at a time; answers the phases it went through and the last state. */
async function runToEnd(id: string, options = STEPS, between: (phase: string) => Promise<void> = async () => {}) {
  const phases: string[] = [];
  for (let i = 0; i < 2000; i++) {
    const move = await stepMove(env, id, options);
    if (phases.at(-1) !== move.phase) phases.push(move.phase);
    if (move.done) return { move, phases };
    await between(move.phase);
  }
  throw new Error('the move did not end');
}

/** An organization with rows in most tables: customers, a project with tasks and subtasks, content, an appointment, a conversation. */
async function populate(org: TestOrg) {
  const token = org.owner.token;
  const post = async (path: string, body: unknown) => {
    const res = await api('POST', `/v1/orgs/${org.slug}${path}`, { token, body });
    expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBe(201);
    return res.body;
  };
  // An active endpoint (a fixture row: no DNS here), so that the audited changes below fill the outbox.
  await (
    await shardOf(org.id)
  ).db
    .prepare(
      "INSERT INTO webhook_endpoints (id, organization_id, url, secret) VALUES (?, ?, 'https://hooks.example/x', 'whsec_x')",
    )
    .bind(uuidv7(), org.id)
    .run();
  const customer = await post('/customers', { name: 'Ada Lovelace', email: 'ada@example.com' });
  await post('/customers', { name: 'Grace Hopper' });
  const project = await post('/projects', { name: 'Engine', customer_id: customer.id });
  const first = await post(`/projects/${project.id}/tasks`, { title: 'First' });
  const second = await post(`/projects/${project.id}/tasks`, { title: 'Second', parent_task_id: first.id });
  const third = await post(`/projects/${project.id}/tasks`, { title: 'Third' });
  // An older task under a newer one: a copy by id alone would insert the child before its parent.
  const moved = await api('PATCH', `/v1/orgs/${org.slug}/tasks/${first.id}`, {
    token,
    body: { parent_task_id: third.id, version: first.version },
  });
  expect(moved.status, JSON.stringify(moved.body)).toBe(200);
  await post('/content', { title: 'Searchable notes', content: 'Analytical engines' });
  const start = new Date(Date.now() + 86_400_000).toISOString();
  await post('/appointments', {
    title: 'Review',
    customer_id: customer.id,
    start_time: start,
    end_time: new Date(Date.parse(start) + 3_600_000).toISOString(),
  });
  await post('/conversations', { context_type: 'general', ai_model: 'openai_gpt4' });
  return { customer, project, tasks: [first, second, third] };
}

describe('moving an organization between shards', () => {
  it('copies every row parents first, verifies, flips, and leaves nothing on the source', async () => {
    const org = await newOrg(); // enam → SHARD_0
    const { project } = await populate(org);
    const before = await rowsOn(0, org.id);
    expect(Object.keys(before)).toEqual(
      expect.arrayContaining(['customers', 'projects', 'tasks', 'content', 'appointments', 'ai_conversations']),
    );
    expect(before.webhook_events?.length).toBeGreaterThan(3);

    const started = await startMove(org, 'SHARD_1');
    expect(started).toMatchObject({ phase: 'requested', from: 'SHARD_0', to: 'SHARD_1' });
    const { move, phases } = await runToEnd(started.id);
    expect(phases).toEqual(['fenced', 'copying', 'verifying', 'verified', 'flipped', 'cleaning', 'cleaned']);
    expect(move.error).toBeNull();
    expect(move.checks.tasks).toEqual({ source: move.checks.tasks!.destination, destination: expect.anything() });

    expect((await shardOf(org.id)).n).toBe(1);
    expect(await rowsOn(0, org.id)).toEqual({});
    // Every row as it was (ids, links, timestamps), none twice: the outbox made no event again.
    expect(await rowsOn(1, org.id)).toEqual(before);

    // Served from the new shard: lists, subtasks, full-text search (the FTS triggers indexed the copies).
    const tasks = await api('GET', `/v1/orgs/${org.slug}/projects/${project.id}/tasks`, { token: org.owner.token });
    expect(tasks.body.data).toHaveLength(3);
    const found = await api('GET', `/v1/orgs/${org.slug}/customers?q=lovelace`, { token: org.owner.token });
    expect(found.body.data.map((c: { name: string }) => c.name)).toEqual(['Ada Lovelace']);
    const write = await api('POST', `/v1/orgs/${org.slug}/customers`, {
      token: org.owner.token,
      body: { name: 'After' },
    });
    expect(write.status).toBe(201);
    expect((await rowsOn(1, org.id)).customers).toHaveLength(3);

    const audit = await env.CATALOG.prepare(
      "SELECT action, old_data, new_data FROM platform_activity_logs WHERE resource_id = ? AND action = 'organization.move'",
    )
      .bind(org.id)
      .first();
    expect(audit).toEqual({
      action: 'organization.move',
      old_data: '{"shard":"SHARD_0"}',
      new_data: JSON.stringify({ shard: 'SHARD_1', move_id: started.id }),
    });
  });
});
