// Online moves of an organization between shards (issue 16, "No data lost"): the state machine
// stepped one step at a time against the real local shards, R2 buckets and objects; writes during
// the move, a crash after every step, a failed verification, sockets, usage events.
import { createScheduledController, env, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { sendDueReminders } from '../src/modules/appointments/reminders';
import { MOVE_STALLED_MS, stepMove, type MoveOptions } from '../src/modules/platform/moves';
import worker from '../src/index';
import { uuidv7 } from '../src/lib/ids';
import {
  api,
  deliver,
  expectProblem,
  joinAs,
  newOrg,
  newUser,
  openSocket,
  shardOf,
  tenantTableNames,
  usageEvent,
  type TestOrg,
} from './helpers';

const shard = (n: number) => (env as unknown as Record<string, D1Database>)[`SHARD_${n}`]!;

/**
 * The organization's rows on shard `n`, per table, as sorted JSON; without the usage tables unless
 * asked (the queue counts requests' usage whenever it delivers) and without the move's own fence.
 * What the move copies is read once it is fenced: until then the outbox drain may still run.
 */
async function rowsOn(n: number, organizationId: string, withUsage = false): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of await tenantTableNames()) {
    if ((!withUsage && table.startsWith('usage_')) || table === 'move_fences') continue;
    const { results } = await shard(n)
      .prepare(`SELECT * FROM "${table}" WHERE organization_id = ?`)
      .bind(organizationId)
      .all<Record<string, unknown>>();
    if (results.length > 0) out[table] = results.map((row) => JSON.stringify(row)).sort();
  }
  return out;
}

const fenceOn = (n: number, organizationId: string) =>
  shard(n).prepare('SELECT count(*) AS n FROM move_fences WHERE organization_id = ?').bind(organizationId).first('n');

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
  // An active endpoint (a fixture row), so that the audited changes below fill the outbox. Its
  // address is one delivery refuses before any look-up: its events' deliveries, which run in the
  // background, never reach the network or another test's mocks.
  await (
    await shardOf(org.id)
  ).db
    .prepare(
      "INSERT INTO webhook_endpoints (id, organization_id, url, secret) VALUES (?, ?, 'https://10.0.0.1/x', 'whsec_x')",
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
    const started = await startMove(org, 'SHARD_1');
    expect(started).toMatchObject({ phase: 'requested', from: 'SHARD_0', to: 'SHARD_1' });
    await stepMove(env, started.id, STEPS); // fenced
    const before = await rowsOn(0, org.id);
    expect(Object.keys(before)).toEqual(
      expect.arrayContaining(['customers', 'projects', 'tasks', 'content', 'appointments', 'ai_conversations']),
    );
    expect(before.webhook_events?.length).toBeGreaterThan(3);

    const { move, phases } = await runToEnd(started.id);
    expect(phases).toEqual(['copying', 'verifying', 'verified', 'flipped', 'cleaning', 'cleaned']);
    expect(move.error).toBeNull();
    expect(move.checks.tasks).toEqual({ source: move.checks.tasks!.destination, destination: expect.anything() });

    expect((await shardOf(org.id)).n).toBe(1);
    expect(await rowsOn(0, org.id)).toEqual({});
    expect(await fenceOn(0, org.id)).toBe(0);
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

describe('writes while an organization moves', () => {
  it('has a fence trigger for every write to every shard table holding organization rows (a new table needs its own)', async () => {
    const { results } = await shard(0)
      .prepare(
        "SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%\\_fence\\_%' ESCAPE '\\'",
      )
      .all<{ tbl_name: string; name: string }>();
    const fenced = new Set(results.map((t) => t.name));
    const missing = (await tenantTableNames())
      .filter((table) => table !== 'move_fences')
      .flatMap((table) => ['insert', 'update', 'delete'].map((write) => `${table}_fence_${write}`))
      .filter((trigger) => !fenced.has(trigger));
    expect(missing).toEqual([]);
  });

  it('refuses writes from the fence to the flip with 503 `moving` and Retry-After; serves reads; loses no acknowledged write', async () => {
    const org = await newOrg();
    const { project } = await populate(org);
    const { id } = await startMove(org, 'SHARD_1');
    const acknowledged: string[] = [];
    const refused: { phase: string; retryAfter: string | null; code: string }[] = [];
    let reads = 0;
    let n = 0;
    // Between every two steps: a write of each kind that reaches the shard, and a read.
    const writeAndRead = async (phase: string) => {
      const token = org.owner.token;
      const writes = await Promise.all([
        api('POST', `/v1/orgs/${org.slug}/customers`, { token, body: { name: `During ${phase} ${n++}` } }),
        api('POST', `/v1/orgs/${org.slug}/projects/${project.id}/tasks`, {
          token,
          body: { title: `T ${phase} ${n++}` },
        }),
      ]);
      for (const res of writes) {
        if (res.status === 201) acknowledged.push(res.body.id);
        else refused.push({ phase, retryAfter: res.headers.get('retry-after'), code: res.body.code });
      }
      const read = await api('GET', `/v1/orgs/${org.slug}/customers`, { token });
      expect(read.status).toBe(200);
      reads++;
    };
    await writeAndRead('requested');
    const { phases } = await runToEnd(id, STEPS, writeAndRead);
    expect(phases.at(-1)).toBe('cleaned');

    // Refused from the fence until the flip, and only then.
    expect(refused.length).toBeGreaterThan(0);
    expect(new Set(refused.map((r) => r.phase))).toEqual(new Set(['fenced', 'copying', 'verifying', 'verified']));
    for (const r of refused) expect(r).toMatchObject({ retryAfter: '5', code: 'moving' });
    expect(acknowledged.length).toBeGreaterThan(4); // before the fence and after the flip
    expect(reads).toBeGreaterThan(10);

    // Every acknowledged write is on the destination; nothing of the organization is left on the source.
    const onDestination = await rowsOn(1, org.id);
    const ids = [...onDestination.customers!, ...onDestination.tasks!].map((row) => JSON.parse(row).id);
    expect(ids).toEqual(expect.arrayContaining(acknowledged));
    expect(await rowsOn(0, org.id)).toEqual({});
  });

  it('refuses a catalog change whose audit row goes to the shard (a member, a Stripe event) whole: nothing half-written', async () => {
    const org = await newOrg();
    const member = await joinAs(org, 'member');
    const { id } = await startMove(org, 'SHARD_1');
    await stepMove(env, id, STEPS); // fenced
    const patch = await api('PATCH', `/v1/orgs/${org.slug}/members/${member.id}`, {
      token: org.owner.token,
      body: { role: 'admin' },
    });
    expectProblem(patch, 503, 'moving');
    const role = () =>
      env.CATALOG.prepare('SELECT role FROM organization_members WHERE organization_id = ? AND user_id = ?')
        .bind(org.id, member.id)
        .first('role');
    expect(await role()).toBe('member');
    await runToEnd(id);
    const again = await api('PATCH', `/v1/orgs/${org.slug}/members/${member.id}`, {
      token: org.owner.token,
      body: { role: 'admin' },
    });
    expect(again.status).toBe(200);
    expect(await role()).toBe('admin');
    const audit = await shard(1)
      .prepare("SELECT count(*) AS n FROM activity_logs WHERE organization_id = ? AND action = 'member.update'")
      .bind(org.id)
      .first('n');
    expect(audit).toBe(1);
  });

  it('fences writes that do not come through a request too: a direct statement on the source is refused', async () => {
    const org = await newOrg();
    const { id } = await startMove(org, 'SHARD_1');
    await stepMove(env, id, STEPS); // fenced
    const write = shard(0)
      .prepare("INSERT INTO customers (id, organization_id, name) VALUES (?, ?, 'Sneaky')")
      .bind(uuidv7(), org.id)
      .run();
    await expect(write).rejects.toThrow(/strive:organization moving/);
    const other = await newOrg(); // another organization of the same shard writes on
    expect(
      (await api('POST', `/v1/orgs/${other.slug}/customers`, { token: other.owner.token, body: { name: 'x' } })).status,
    ).toBe(201);
    await runToEnd(id);
  });
});

describe('a move that crashes', () => {
  it('resumes after a crash at every step (its work done, its record lost) and ends as a move that never crashed', async () => {
    const org = await newOrg();
    await populate(org);
    const { id } = await startMove(org, 'SHARD_1');
    await stepMove(env, id, STEPS); // fenced
    const before = await rowsOn(0, org.id);
    const record = () => env.CATALOG.prepare('SELECT * FROM organization_moves WHERE id = ?').bind(id).first();
    let crashes = 0;
    for (let i = 0; i < 2000; i++) {
      const kept = (await record())!;
      const move = await stepMove(env, id, STEPS);
      if (move.done) break;
      // The flip's catalog batch holds the phase and the shard together: no crash can split them.
      if (kept.phase === 'verified') continue;
      // Crash: the step's work stands, its record goes back to what it was; the next step redoes it.
      await env.CATALOG.prepare(
        'UPDATE organization_moves SET phase = ?, cursor = ?, checks = ?, steps = ? WHERE id = ?',
      )
        .bind(kept.phase, kept.cursor, kept.checks, kept.steps, id)
        .run();
      crashes++;
      if ((await stepMove(env, id, STEPS)).done) break;
    }
    expect(crashes).toBeGreaterThan(20);
    const final = (await record())!;
    expect(final.phase).toBe('cleaned');
    expect((await shardOf(org.id)).n).toBe(1);
    expect(await rowsOn(1, org.id)).toEqual(before);
    expect(await rowsOn(0, org.id)).toEqual({});
  });

  it('rolls back when verification finds the sides differ: destination emptied, fence lifted, the organization stays', async () => {
    const org = await newOrg();
    await populate(org);
    const { id } = await startMove(org, 'SHARD_1');
    await stepMove(env, id, STEPS); // fenced
    const before = await rowsOn(0, org.id);
    const { move, phases } = await runToEnd(id, STEPS, async (phase) => {
      if (phase !== 'verifying') return;
      // A row that went wrong on the way (here: changed behind the move's back).
      await shard(1).prepare("UPDATE customers SET name = 'Corrupted' WHERE organization_id = ?").bind(org.id).run();
    });
    expect(phases).toEqual(['copying', 'verifying', 'rolling_back', 'rolled_back']);
    expect(move.error).toMatch(
      /^verification failed on customers: 2 rows on SHARD_0, 2 on SHARD_1 \(contents differ\)/,
    );
    expect((await shardOf(org.id)).n).toBe(0);
    expect(await rowsOn(1, org.id)).toEqual({});
    expect(await fenceOn(0, org.id)).toBe(0);
    expect(await rowsOn(0, org.id)).toEqual(before);
    const write = await api('POST', `/v1/orgs/${org.slug}/customers`, {
      token: org.owner.token,
      body: { name: 'Again' },
    });
    expect(write.status).toBe(201);
  });

  it('is stepped on by the cron once its driver has stopped for MOVE_STALLED_MS, not before', async () => {
    const org = await newOrg();
    await populate(org);
    const { id } = await startMove(org, 'SHARD_1');
    await stepMove(env, id, STEPS); // fenced; then the driver is gone
    const phase = async () =>
      (await env.CATALOG.prepare('SELECT phase FROM organization_moves WHERE id = ?')
        .bind(id)
        .first<{ phase: string }>())!.phase;
    // The cron's other parts queue nothing here: no other test's reminder or webhook goes out from this one.
    const quiet = { send: async () => {}, sendBatch: async () => {} };
    const cronEnv = { ...env, NOTIFICATIONS_QUEUE: quiet, WEBHOOKS_QUEUE: quiet };
    const cron = (at: number) =>
      worker.scheduled!(createScheduledController({ scheduledTime: at, cron: '*/5 * * * *' }), cronEnv as never);
    await cron(Date.now());
    expect(await phase()).toBe('fenced'); // a driver may still be at work
    await cron(Date.now() + MOVE_STALLED_MS + 1_000);
    expect(await phase()).toBe('cleaned');
    expect((await shardOf(org.id)).n).toBe(1);
    const written = await api('POST', `/v1/orgs/${org.slug}/customers`, {
      token: org.owner.token,
      body: { name: 'After' },
    });
    expect(written.status).toBe(201);
  });

  it('can be cancelled before its flip (rolled back), not after (409)', async () => {
    const by = await admin();
    const org = await newOrg();
    await populate(org);
    const first = await api('POST', `/v1/admin/organizations/${org.slug}/moves`, {
      token: by.token,
      body: { to: 'SHARD_2', leave_eu: false },
    });
    await stepMove(env, first.body.id, STEPS); // fenced
    const before = await rowsOn(0, org.id);
    for (let i = 0; i < 11; i++) await stepMove(env, first.body.id, STEPS); // copying
    const cancelled = await api('POST', `/v1/admin/moves/${first.body.id}/cancel`, { token: by.token });
    expect(cancelled.body).toMatchObject({ phase: 'rolling_back', error: `cancelled by ${by.email}` });
    expect((await runToEnd(first.body.id)).move.phase).toBe('rolled_back');
    expect(await rowsOn(2, org.id)).toEqual({});
    expect(await rowsOn(0, org.id)).toEqual(before);

    const second = await api('POST', `/v1/admin/organizations/${org.slug}/moves`, {
      token: by.token,
      body: { to: 'SHARD_1' },
    });
    expect(second.status).toBe(201);
    let move = await stepMove(env, second.body.id, STEPS);
    while (move.phase !== 'flipped') move = await stepMove(env, second.body.id, STEPS);
    expectProblem(await api('POST', `/v1/admin/moves/${second.body.id}/cancel`, { token: by.token }), 409, 'conflict');
    // Flipped, not cleaned: deleting now would take the move's record and leave the source's rows fenced for ever.
    const deleted = await api('DELETE', `/v1/orgs/${org.slug}`, { token: org.owner.token });
    expectProblem(deleted, 409, 'conflict');
    expect(deleted.body.detail).toMatch(/moving/);
    await runToEnd(second.body.id);
    expect((await api('DELETE', `/v1/orgs/${org.slug}`, { token: org.owner.token })).status).toBe(204);
    const audit = await env.CATALOG.prepare(
      "SELECT action FROM platform_activity_logs WHERE resource_id = ? AND action LIKE 'organization.move%' ORDER BY id",
    )
      .bind(org.id)
      .all();
    expect(audit.results.map((r) => r.action)).toEqual([
      'organization.move',
      'organization.move_cancel',
      'organization.move',
    ]);
  });
});

describe('starting a move', () => {
  it('is for platform admins only, a second move of the same organization is 409, and bad destinations are 400', async () => {
    const by = await admin();
    const org = await newOrg();
    const eu = await newOrg(undefined, { data_region: 'eu' });
    const start = (slug: string, body: unknown, token = by.token) =>
      api('POST', `/v1/admin/organizations/${slug}/moves`, { token, body });
    expectProblem(await start(org.slug, { to: 'SHARD_1' }, org.owner.token), 403, 'forbidden');
    expectProblem(await start('no-such-org', { to: 'SHARD_1' }), 404, 'not_found');
    for (const to of ['SHARD_9', 'shard_1', 'SHARD_01']) {
      const res = await start(org.slug, { to });
      expectProblem(res, 400, 'invalid_request');
      expect(res.body.errors[0].path).toBe('to');
    }
    expectProblem(await start(org.slug, { to: 'SHARD_0' }), 400, 'invalid_request');
    expectProblem(await start(org.slug, { to: 'SHARD_1', extra: 1 }), 400, 'invalid_request');
    // Leaving the EU is asked for explicitly.
    const leaving = await start(eu.slug, { to: 'SHARD_0' });
    expectProblem(leaving, 400, 'invalid_request');
    expect(leaving.body.errors[0].path).toBe('leave_eu');
    // A shard closed to new organizations takes no moved one either.
    await env.CATALOG.prepare('UPDATE shards SET open = 0 WHERE shard = 1').run();
    try {
      expectProblem(await start(org.slug, { to: 'SHARD_1' }), 400, 'invalid_request');
    } finally {
      await env.CATALOG.prepare('UPDATE shards SET open = 1 WHERE shard = 1').run();
    }

    const first = await start(org.slug, { to: 'SHARD_1' });
    expect(first.status).toBe(201);
    expectProblem(await start(org.slug, { to: 'SHARD_2' }), 409, 'conflict');
    expectProblem(await api('GET', `/v1/admin/moves/${first.body.id}`, { token: org.owner.token }), 403, 'forbidden');
    expectProblem(
      await api('POST', `/v1/admin/moves/${first.body.id}/step`, { token: org.owner.token }),
      403,
      'forbidden',
    );
    expectProblem(await api('GET', `/v1/admin/moves/${uuidv7()}`, { token: by.token }), 404, 'not_found');
    // The driver's route runs it to its end (MOVE_SETTLE_MS is 0 here); then the organization may move again.
    const run = await api('POST', `/v1/admin/moves/${first.body.id}/step`, { token: by.token });
    expect(run.body).toMatchObject({ phase: 'cleaned', done: true, from: 'SHARD_0', to: 'SHARD_1' });
    // Its steps' trips (all on the primary) count as the request's: the far-hop rule's exception (helpers.ts).
    expect(run.farHops).toBeGreaterThan(20);
    expect((await api('GET', `/v1/admin/moves/${first.body.id}`, { token: by.token })).body.phase).toBe('cleaned');
    const again = await start(org.slug, { to: 'SHARD_0' });
    expect(again.status).toBe(201);
    await runToEnd(again.body.id); // no move left for another file's cron run to step on
  });
});

describe('what else a move carries', () => {
  it('counts usage events sent before, during and after the move once, on the shard the organization is on', async () => {
    const org = await newOrg();
    const early = usageEvent(org.id, 0, { resource_type: 'ai_tokens', resource_name: 'local', quantity: 7 });
    expect((await deliver('strive-usage', [early])).acked).toEqual([0]);
    const { id } = await startMove(org, 'SHARD_1');
    await stepMove(env, id, STEPS); // fenced
    // During the fence: retried, not counted anywhere.
    const during = usageEvent(org.id, 0, { resource_type: 'ai_tokens', resource_name: 'local', quantity: 5 });
    const refused = await deliver('strive-usage', [during], 1);
    expect(refused.retried).toEqual([{ index: 0 }]);
    await runToEnd(id);
    // Redelivered after the flip, naming the old shard as sent: counted once, on the new one; the early one not again.
    for (let i = 0; i < 2; i++) expect((await deliver('strive-usage', [during, early], 2)).acked).toEqual([0, 1]);
    const total = (n: number) =>
      shard(n)
        .prepare(
          "SELECT sum(usage_amount) AS total FROM usage_tracking WHERE organization_id = ? AND resource_type = 'ai_tokens'",
        )
        .bind(org.id)
        .first('total');
    expect(await total(1)).toBe(12);
    expect(await total(0)).toBeNull();
    const events = await shard(1)
      .prepare("SELECT count(*) AS n FROM usage_events WHERE organization_id = ? AND resource_type = 'ai_tokens'")
      .bind(org.id)
      .first('n');
    expect(events).toBe(2);
  });

  it('refuses a chat turn while the conversation is fenced, and takes it on the new shard after the flip', async () => {
    const org = await newOrg();
    const created = await api('POST', `/v1/orgs/${org.slug}/conversations`, {
      token: org.owner.token,
      body: { context_type: 'general', ai_model: 'openai_gpt4' },
    });
    const path = `/v1/orgs/${org.slug}/conversations/${created.body.id}/messages`;
    const { id } = await startMove(org, 'SHARD_1');
    await stepMove(env, id, STEPS); // fenced
    expectProblem(await api('POST', path, { token: org.owner.token, body: { content: 'During' } }), 503, 'moving');
    await runToEnd(id);
    const turn = await api('POST', path, { token: org.owner.token, body: { content: 'After' } });
    expect(turn.status).toBe(201);
    const stored = await shard(1)
      .prepare('SELECT conversation_data FROM ai_conversations WHERE id = ?')
      .bind(created.body.id)
      .first<{ conversation_data: string }>();
    const said = JSON.parse(stored!.conversation_data).filter((m: { role: string }) => m.role === 'user');
    expect(said.map((m: { content: string }) => m.content)).toEqual(['After']);
  });

  it('closes open board sockets at the flip; reconnected, they get a fresh snapshot from the new shard', async () => {
    const org = await newOrg();
    const { project } = await populate(org);
    const socket = await openSocket(`/v1/orgs/${org.slug}/projects/${project.id}/board/ws`, org.owner.token);
    await socket.until((m) => m.type === 'snapshot');
    const { id } = await startMove(org, 'SHARD_1');
    await runToEnd(id);
    expect(await socket.closed).toBe(1012);
    const again = await openSocket(`/v1/orgs/${org.slug}/projects/${project.id}/board/ws`, org.owner.token);
    const snapshot = await again.until((m) => m.type === 'snapshot');
    const titles = snapshot.board.columns.flatMap((c: { tasks: { title: string }[] }) => c.tasks.map((t) => t.title));
    expect(titles.sort()).toEqual(['First', 'Second', 'Third']);
    // A move over the socket writes to the new shard.
    const task = snapshot.board.columns.flatMap((c: { tasks: unknown[] }) => c.tasks)[0];
    again.send({ type: 'move', task_id: task.id, status: 'done', version: task.version });
    await again.until((m) => m.type === 'task.moved');
    const row = await shard(1).prepare('SELECT status FROM tasks WHERE id = ?').bind(task.id).first('status');
    expect(row).toBe('done');
    await again.close();
  });

  it('copies assets into the EU bucket and out of it (leave_eu), deleting them from the bucket they left', async () => {
    const org = await newOrg(); // enam: ASSETS
    const upload = await SELF.fetch(`https://strive.test/v1/orgs/${org.slug}/assets?name=logo.png`, {
      method: 'POST',
      headers: { authorization: `Bearer ${org.owner.token}`, 'content-type': 'image/png' },
      body: 'PNG bytes',
    });
    expect(upload.status).toBe(201);
    const asset = (await upload.json()) as { id: string };
    const key = `orgs/${org.id}/assets/${asset.id}/logo.png`;
    const download = async () => {
      const res = await SELF.fetch(`https://strive.test/v1/public/${org.slug}/assets/${asset.id}`);
      return [res.status, await res.text()];
    };

    const into = await startMove(org, 'SHARD_2');
    const { move } = await runToEnd(into.id);
    expect(move.checks['r2:objects']).toEqual({
      source: expect.objectContaining({ rows: 1 }),
      destination: expect.objectContaining({ rows: 1 }),
    });
    expect(await env.ASSETS.head(key)).toBeNull();
    expect(await (await env.ASSETS_EU.get(key))!.text()).toBe('PNG bytes');
    expect(await download()).toEqual([200, 'PNG bytes']);

    const by = await admin();
    const out = await api('POST', `/v1/admin/organizations/${org.slug}/moves`, {
      token: by.token,
      body: { to: 'SHARD_1', leave_eu: true },
    });
    expect(out.status).toBe(201);
    await runToEnd(out.body.id);
    expect(await env.ASSETS_EU.head(key)).toBeNull();
    expect(await (await env.ASSETS.get(key))!.text()).toBe('PNG bytes');
    expect(await download()).toEqual([200, 'PNG bytes']);
  });

  it("keeps the cron's reminders going for the shard's other organizations while one of them is fenced", async () => {
    const start = new Date(Date.now() + 30 * 60_000).toISOString();
    const end = new Date(Date.now() + 90 * 60_000).toISOString();
    const appointment = async (org: TestOrg) => {
      const res = await api('POST', `/v1/orgs/${org.slug}/appointments`, {
        token: org.owner.token,
        body: { title: 'Soon', start_time: start, end_time: end },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    };
    const moving = await newOrg();
    const staying = await newOrg();
    await appointment(moving);
    await appointment(staying);
    const { id } = await startMove(moving, 'SHARD_1');
    await stepMove(env, id, STEPS); // fenced
    await sendDueReminders(env, new Date());
    const reminded = (n: number, org: TestOrg) =>
      shard(n).prepare('SELECT count(*) AS n FROM reminders_sent WHERE organization_id = ?').bind(org.id).first('n');
    expect(await reminded(0, staying)).toBe(1);
    expect(await reminded(0, moving)).toBe(0);
    await runToEnd(id);
    await sendDueReminders(env, new Date());
    expect(await reminded(1, moving)).toBe(1);
  });
});
