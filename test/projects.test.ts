import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { api, expectProblem, joinAs, newOrg, type TestOrg, shardOf } from './helpers';

/** Tasks written straight into the organization's shard (the tasks API is another module's). */
async function insertTasks(org: TestOrg, projectId: string, statuses: string[]) {
  const shard = (await shardOf(org.id)).db;
  await shard.batch(
    statuses.map((status, position) =>
      shard
        .prepare(
          'INSERT INTO tasks (id, organization_id, project_id, title, status, position, version) VALUES (?, ?, ?, ?, ?, ?, 1)',
        )
        .bind(crypto.randomUUID(), org.id, projectId, `Task ${position}`, status, position * 1024),
    ),
  );
}

const today = () => new Date().toISOString().slice(0, 10);
const fieldsOf = (res: { body: { errors?: { path: string }[] } }) => (res.body.errors ?? []).map((e) => e.path);

async function createProject(org: TestOrg, body: Record<string, unknown>) {
  const res = await api('POST', `/v1/orgs/${org.slug}/projects`, { token: org.owner.token, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

describe('projects', () => {
  it('creates, updates and deletes a project, each in one batch with its audit row', async () => {
    const org = await newOrg();
    const t = org.owner.token;
    await api('GET', `/v1/orgs/${org.slug}`, { token: t }); // warms the access cache
    const created = await api('POST', `/v1/orgs/${org.slug}/projects`, {
      token: t,
      body: {
        name: ' Apollo ',
        start_date: '2026-01-10',
        due_date: '2026-03-31',
        budget: 12345.67,
        tags: [' Launch', 'launch'],
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({
      name: 'Apollo',
      status: 'planning',
      priority: 'medium',
      start_date: '2026-01-10',
      due_date: '2026-03-31',
      budget: 12345.67,
      progress_percentage: 0,
      tags: ['launch'],
      completion_date: null,
      customer_id: null,
      created_by: org.owner.id,
    });
    expect(created.roundTrips).toBe(1);
    const id = created.body.id;

    const got = await api('GET', `/v1/orgs/${org.slug}/projects/${id}`, { token: t });
    expect(got.body).toEqual(created.body);
    expect(got.roundTrips).toBe(1);

    const updated = await api('PATCH', `/v1/orgs/${org.slug}/projects/${id}`, {
      token: t,
      body: { priority: 'high', budget: 0.1 + 0.2, progress_percentage: 40 },
    });
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    expect(updated.body).toMatchObject({ priority: 'high', budget: 0.3, progress_percentage: 40, name: 'Apollo' });
    expect(updated.roundTrips).toBe(1);

    const list = await api('GET', `/v1/orgs/${org.slug}/projects`, { token: t });
    expect(list.body).toEqual({ data: [updated.body], next_cursor: null });
    expect(list.roundTrips).toBe(1);

    const log = await api('GET', `/v1/orgs/${org.slug}/activity?resource_id=${id}`, { token: t });
    expect(log.body.data.map((r: { action: string }) => r.action)).toEqual(['project.update', 'project.create']);
    expect(log.body.data[0]).toMatchObject({
      old_data: { priority: 'medium', budget: 12345.67, progress_percentage: 0 },
      new_data: { priority: 'high', budget: 0.3, progress_percentage: 40 },
    });
    expect(log.body.data[1].new_data).toMatchObject({ name: 'Apollo', budget: 12345.67, tags: ['launch'] });

    const deleted = await api('DELETE', `/v1/orgs/${org.slug}/projects/${id}`, { token: t });
    expect(deleted.status).toBe(204);
    expect(deleted.roundTrips).toBe(1);
    expectProblem(await api('GET', `/v1/orgs/${org.slug}/projects/${id}`, { token: t }), 404, 'not_found');
    const after = await api('GET', `/v1/orgs/${org.slug}/activity?resource_id=${id}&action=project.delete`, {
      token: t,
    });
    expect(after.body.data[0].old_data).toMatchObject({
      name: 'Apollo',
      priority: 'high',
      budget: 0.3,
      due_date: '2026-03-31',
      tags: ['launch'],
    });
    expectProblem(await api('DELETE', `/v1/orgs/${org.slug}/projects/${id}`, { token: t }), 404, 'not_found');
  });

  it('stores budgets exactly to the cent and refuses a third decimal', async () => {
    const org = await newOrg();
    for (const budget of [12345.67, 0.3, 0.1 + 0.2, 1e12, 0, 19.99, 1.1]) {
      const p = await createProject(org, { name: 'B', budget });
      const expected = Math.round(budget * 100) / 100;
      expect(p.budget).toBe(expected);
      expect((await api('GET', `/v1/orgs/${org.slug}/projects/${p.id}`, { token: org.owner.token })).body.budget).toBe(
        expected,
      );
    }
    // Stored as integer cents, so sums never drift.
    const shard = (await shardOf(org.id)).db;
    const cents = await shard
      .prepare('SELECT budget FROM projects WHERE organization_id = ? AND budget = 30')
      .bind(org.id)
      .all();
    expect(cents.results.length).toBe(2);
    // Cleared is NULL, not 0.
    const cleared = await api(
      'PATCH',
      `/v1/orgs/${org.slug}/projects/${(await createProject(org, { name: 'N', budget: 5 })).id}`,
      { token: org.owner.token, body: { budget: null } },
    );
    expect(cleared.body.budget).toBeNull();
    expect(
      (await shard
        .prepare('SELECT count(*) AS n FROM projects WHERE organization_id = ? AND budget IS NULL')
        .bind(org.id)
        .first<{ n: number }>())!.n,
    ).toBe(1);
    for (const budget of [1.234, -1, 1e12 + 0.01, '12']) {
      const res = await api('POST', `/v1/orgs/${org.slug}/projects`, {
        token: org.owner.token,
        body: { name: 'B', budget },
      });
      expectProblem(res, 400, 'invalid_request');
      expect(fieldsOf(res)).toEqual(['budget']);
    }
  });

  it('refuses a due date before the start date, on create and on a PATCH of one date', async () => {
    const org = await newOrg();
    const t = org.owner.token;
    const bad = await api('POST', `/v1/orgs/${org.slug}/projects`, {
      token: t,
      body: { name: 'D', start_date: '2026-05-02', due_date: '2026-05-01', progress_percentage: 101 },
    });
    expectProblem(bad, 400, 'invalid_request');
    // Every problem at once: the date order is checked even though another field is invalid.
    expect(fieldsOf(bad).sort()).toEqual(['due_date', 'progress_percentage']);
    const sameDay = await createProject(org, { name: 'D', start_date: '2026-05-01', due_date: '2026-05-01' });

    // Only one date in the body: the database's CHECK refuses it, answered as the same 400.
    const early = await api('PATCH', `/v1/orgs/${org.slug}/projects/${sameDay.id}`, {
      token: t,
      body: { due_date: '2026-04-30' },
    });
    expectProblem(early, 400, 'invalid_request');
    expect(fieldsOf(early)).toEqual(['due_date']);
    const late = await api('PATCH', `/v1/orgs/${org.slug}/projects/${sameDay.id}`, {
      token: t,
      body: { start_date: '2026-05-02' },
    });
    expectProblem(late, 400, 'invalid_request');
    expect(fieldsOf(late)).toEqual(['due_date']);
    // Both in the body, in the wrong order: refused before the database.
    const both = await api('PATCH', `/v1/orgs/${org.slug}/projects/${sameDay.id}`, {
      token: t,
      body: { start_date: '2026-06-02', due_date: '2026-06-01' },
    });
    expect(fieldsOf(both)).toEqual(['due_date']);
    // Nothing changed, and no audit row was written for the refusals.
    const now = await api('GET', `/v1/orgs/${org.slug}/projects/${sameDay.id}`, { token: t });
    expect(now.body).toMatchObject({ start_date: '2026-05-01', due_date: '2026-05-01' });
    const log = await api('GET', `/v1/orgs/${org.slug}/activity?resource_id=${sameDay.id}`, { token: t });
    expect(log.body.data.map((r: { action: string }) => r.action)).toEqual(['project.create']);
    // Clearing the start date lifts the constraint; not-a-date is refused.
    const cleared = await api('PATCH', `/v1/orgs/${org.slug}/projects/${sameDay.id}`, {
      token: t,
      body: { start_date: null, due_date: '2026-01-01' },
    });
    expect(cleared.status, JSON.stringify(cleared.body)).toBe(200);
    const notDate = await api('PATCH', `/v1/orgs/${org.slug}/projects/${sameDay.id}`, {
      token: t,
      body: { due_date: '2026-02-30' },
    });
    expect(fieldsOf(notDate)).toEqual(['due_date']);
  });

  it('refuses progress outside 0–100, unknown fields and the derived completion_date, saying how it is set', async () => {
    const org = await newOrg();
    const p = await createProject(org, { name: 'P' });
    for (const progress_percentage of [101, -1, 50.5]) {
      const res = await api('PATCH', `/v1/orgs/${org.slug}/projects/${p.id}`, {
        token: org.owner.token,
        body: { progress_percentage },
      });
      expectProblem(res, 400, 'invalid_request');
      expect(fieldsOf(res)).toEqual(['progress_percentage']);
    }
    const extra = await api('PATCH', `/v1/orgs/${org.slug}/projects/${p.id}`, {
      token: org.owner.token,
      body: { completion_date: '2026-01-01', colour: 'red' },
    });
    expect(extra.body.errors).toEqual([
      {
        path: 'completion_date',
        message: expect.stringMatching(/^Read-only: set to today \(UTC\) when `status` becomes `completed`/),
      },
      { path: 'colour', message: 'Unknown field.' },
    ]);
  });

  it('sets completion_date when the status becomes completed and clears it when it leaves', async () => {
    const org = await newOrg();
    const t = org.owner.token;
    const born = await createProject(org, { name: 'Done already', status: 'completed' });
    expect(born.completion_date).toBe(today());

    const p = await createProject(org, { name: 'C', status: 'active' });
    expect(p.completion_date).toBeNull();
    const done = await api('PATCH', `/v1/orgs/${org.slug}/projects/${p.id}`, {
      token: t,
      body: { status: 'completed' },
    });
    expect(done.body).toMatchObject({ status: 'completed', completion_date: today() });
    // Other edits keep it while the project stays completed.
    const shard = (await shardOf(org.id)).db;
    await shard.prepare("UPDATE projects SET completion_date = '2020-01-01' WHERE id = ?").bind(p.id).run();
    const renamed = await api('PATCH', `/v1/orgs/${org.slug}/projects/${p.id}`, {
      token: t,
      body: { name: 'C2', status: 'completed' },
    });
    expect(renamed.body).toMatchObject({ name: 'C2', completion_date: '2020-01-01' });
    const reopened = await api('PATCH', `/v1/orgs/${org.slug}/projects/${p.id}`, {
      token: t,
      body: { status: 'on_hold' },
    });
    expect(reopened.body).toMatchObject({ status: 'on_hold', completion_date: null });
    const again = await api('PATCH', `/v1/orgs/${org.slug}/projects/${p.id}`, {
      token: t,
      body: { status: 'completed' },
    });
    expect(again.body.completion_date).toBe(today());
    expect(again.roundTrips).toBe(1);
  });

  it("refuses another organization's customer and a manager who is not a member, naming the field", async () => {
    const org = await newOrg();
    const other = await newOrg(org.owner);
    const t = org.owner.token;
    const theirs = await api('POST', `/v1/orgs/${other.slug}/customers`, { token: t, body: { name: 'Theirs' } });
    const mine = await api('POST', `/v1/orgs/${org.slug}/customers`, { token: t, body: { name: 'Mine' } });
    for (const customer_id of [theirs.body.id, crypto.randomUUID()]) {
      const res = await api('POST', `/v1/orgs/${org.slug}/projects`, { token: t, body: { name: 'X', customer_id } });
      expectProblem(res, 400, 'invalid_request');
      expect(fieldsOf(res)).toEqual(['customer_id']);
    }
    const p = await createProject(org, { name: 'X', customer_id: mine.body.id });
    expect(p.customer_id).toBe(mine.body.id);
    const moved = await api('PATCH', `/v1/orgs/${org.slug}/projects/${p.id}`, {
      token: t,
      body: { customer_id: theirs.body.id },
    });
    expectProblem(moved, 400, 'invalid_request');
    expect(fieldsOf(moved)).toEqual(['customer_id']);

    const outsider = await newOrg();
    const badManager = await api('POST', `/v1/orgs/${org.slug}/projects`, {
      token: t,
      body: { name: 'X', project_manager_id: outsider.owner.id },
    });
    expectProblem(badManager, 400, 'invalid_request');
    expect(fieldsOf(badManager)).toEqual(['project_manager_id']);
    const bob = await joinAs(org, 'member');
    await api('GET', `/v1/orgs/${org.slug}`, { token: t });
    // Naming a manager costs one catalog query on top of the batch.
    const managed = await api('PATCH', `/v1/orgs/${org.slug}/projects/${p.id}`, {
      token: t,
      body: { project_manager_id: bob.id },
    });
    expect(managed.body.project_manager_id).toBe(bob.id);
    expect(managed.roundTrips).toBe(2);
    const unmanaged = await api('PATCH', `/v1/orgs/${org.slug}/projects/${p.id}`, {
      token: t,
      body: { project_manager_id: outsider.owner.id },
    });
    expect(fieldsOf(unmanaged)).toEqual(['project_manager_id']);
  });

  it('filters by status, priority, customer, manager and due date, each and combined, newest first', async () => {
    const org = await newOrg();
    const t = org.owner.token;
    const bob = await joinAs(org, 'member');
    const acme = (await api('POST', `/v1/orgs/${org.slug}/customers`, { token: t, body: { name: 'Acme' } })).body.id;
    const a = await createProject(org, {
      name: 'A',
      status: 'active',
      priority: 'high',
      customer_id: acme,
      project_manager_id: bob.id,
      due_date: '2026-02-01',
    });
    const b = await createProject(org, {
      name: 'B',
      status: 'active',
      priority: 'low',
      customer_id: acme,
      due_date: '2026-04-01',
    });
    const c = await createProject(org, { name: 'C', status: 'planning', priority: 'high', project_manager_id: bob.id });
    const d = await createProject(org, { name: 'D', status: 'active', priority: 'high', due_date: '2026-01-15' });
    await api('GET', `/v1/orgs/${org.slug}`, { token: t });
    const names = async (query: string) => {
      const res = await api('GET', `/v1/orgs/${org.slug}/projects?${query}`, { token: t });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.roundTrips).toBe(1);
      return res.body.data.map((p: { name: string }) => p.name);
    };
    expect(await names('')).toEqual(['D', 'C', 'B', 'A']);
    expect(await names('status=active')).toEqual(['D', 'B', 'A']);
    expect(await names('priority=high')).toEqual(['D', 'C', 'A']);
    expect(await names(`customer_id=${acme}`)).toEqual(['B', 'A']);
    expect(await names(`project_manager_id=${bob.id}`)).toEqual(['C', 'A']);
    expect(await names('due_before=2026-04-01')).toEqual(['D', 'A']);
    expect(await names(`status=active&priority=high&due_before=2026-03-01`)).toEqual(['D', 'A']);
    expect(await names(`status=active&priority=high&customer_id=${acme}&project_manager_id=${bob.id}`)).toEqual(['A']);
    expect(await names('status=completed')).toEqual([]);
    // Pages, newest first.
    const page1 = await api('GET', `/v1/orgs/${org.slug}/projects?limit=3`, { token: t });
    expect(page1.body.data.map((p: { id: string }) => p.id)).toEqual([d.id, c.id, b.id]);
    const page2 = await api('GET', `/v1/orgs/${org.slug}/projects?limit=3&cursor=${page1.body.next_cursor}`, {
      token: t,
    });
    expect(page2.body).toEqual({ data: [expect.objectContaining({ id: a.id })], next_cursor: null });
    for (const bad of ['status=done', 'priority=urgent', 'due_before=tomorrow', 'customer_id=x', 'derive=everything']) {
      expectProblem(await api('GET', `/v1/orgs/${org.slug}/projects?${bad}`, { token: t }), 400, 'invalid_request');
    }
  });

  it('derives progress from done tasks, leaving cancelled ones out, in the same query', async () => {
    const org = await newOrg();
    const t = org.owner.token;
    const p = await createProject(org, { name: 'Tasks', progress_percentage: 90 });
    const empty = await createProject(org, { name: 'Empty', progress_percentage: 10 });
    const onlyCancelled = await createProject(org, { name: 'Cancelled', progress_percentage: 20 });
    // 2 done of 3 counted (todo, done, done) = 67 %; cancelled ones are not counted.
    await insertTasks(org, p.id, ['todo', 'done', 'done', 'cancelled', 'cancelled']);
    await insertTasks(org, onlyCancelled.id, ['cancelled']);
    // Another organization's tasks never count.
    const other = await newOrg();
    const theirs = await createProject(other, { name: 'Theirs' });
    await insertTasks(other, theirs.id, ['todo', 'todo']);

    await api('GET', `/v1/orgs/${org.slug}`, { token: t });
    const derived = await api('GET', `/v1/orgs/${org.slug}/projects/${p.id}?derive=progress`, { token: t });
    expect(derived.body.progress_percentage).toBe(67);
    expect(derived.roundTrips).toBe(1);
    const stored = await api('GET', `/v1/orgs/${org.slug}/projects/${p.id}`, { token: t });
    expect(stored.body.progress_percentage).toBe(90);

    const list = await api('GET', `/v1/orgs/${org.slug}/projects?derive=progress`, { token: t });
    expect(list.roundTrips).toBe(1);
    expect(
      Object.fromEntries(
        list.body.data.map((x: { name: string; progress_percentage: number }) => [x.name, x.progress_percentage]),
      ),
    ).toEqual({ Tasks: 67, Empty: 0, Cancelled: 0 });
    expect(empty.progress_percentage).toBe(10);

    // One more done task: 3 of 4.
    await insertTasks(org, p.id, ['done']);
    expect(
      (await api('GET', `/v1/orgs/${org.slug}/projects/${p.id}?derive=progress`, { token: t })).body
        .progress_percentage,
    ).toBe(75);
  });

  it('deletes a project with its tasks', async () => {
    const org = await newOrg();
    const p = await createProject(org, { name: 'Gone' });
    const keep = await createProject(org, { name: 'Kept' });
    await insertTasks(org, p.id, ['todo', 'done']);
    await insertTasks(org, keep.id, ['todo']);
    expect((await api('DELETE', `/v1/orgs/${org.slug}/projects/${p.id}`, { token: org.owner.token })).status).toBe(204);
    const shard = (await shardOf(org.id)).db;
    const left = await shard
      .prepare('SELECT project_id FROM tasks WHERE organization_id = ?')
      .bind(org.id)
      .all<{ project_id: string }>();
    expect(left.results.map((r) => r.project_id)).toEqual([keep.id]);
  });

  it("shows a client user only their customer's projects, read-only", async () => {
    const org = await newOrg();
    const t = org.owner.token;
    const client = await joinAs(org, 'member');
    // Before the client's first request to the organization, so no access is cached yet.
    await env.CATALOG.prepare("UPDATE users SET role = 'client' WHERE id = ?").bind(client.id).run();
    const theirs = (
      await api('POST', `/v1/orgs/${org.slug}/customers`, {
        token: t,
        body: { name: 'Client Co', email: client.email.toUpperCase() },
      })
    ).body.id;
    const someoneElse = (
      await api('POST', `/v1/orgs/${org.slug}/customers`, {
        token: t,
        body: { name: 'Other Co', email: 'other@strive.test' },
      })
    ).body.id;
    const visible = await createProject(org, { name: 'Theirs', customer_id: theirs });
    const hidden = await createProject(org, { name: 'Not theirs', customer_id: someoneElse });
    const unlinked = await createProject(org, { name: 'No customer' });
    // A customer with the same email in another organization gives no access here.
    const other = await newOrg(org.owner);
    const elsewhere = (
      await api('POST', `/v1/orgs/${other.slug}/customers`, {
        token: t,
        body: { name: 'Client Co', email: client.email },
      })
    ).body.id;
    await createProject(other, { name: 'Elsewhere', customer_id: elsewhere });

    const list = await api('GET', `/v1/orgs/${org.slug}/projects`, { token: client.token });
    expect(list.status, JSON.stringify(list.body)).toBe(200);
    expect(list.body.data.map((p: { id: string }) => p.id)).toEqual([visible.id]);
    expect(
      (await api('GET', `/v1/orgs/${org.slug}/projects?status=planning&derive=progress`, { token: client.token })).body
        .data.length,
    ).toBe(1);
    expect((await api('GET', `/v1/orgs/${org.slug}/projects/${visible.id}`, { token: client.token })).body.name).toBe(
      'Theirs',
    );
    for (const id of [hidden.id, unlinked.id]) {
      expectProblem(await api('GET', `/v1/orgs/${org.slug}/projects/${id}`, { token: client.token }), 404, 'not_found');
    }
    expectProblem(
      await api('POST', `/v1/orgs/${org.slug}/projects`, { token: client.token, body: { name: 'Mine now' } }),
      403,
      'forbidden',
    );
    expectProblem(
      await api('PATCH', `/v1/orgs/${org.slug}/projects/${visible.id}`, {
        token: client.token,
        body: { name: 'Renamed' },
      }),
      403,
      'forbidden',
    );
    expectProblem(
      await api('DELETE', `/v1/orgs/${org.slug}/projects/${visible.id}`, { token: client.token }),
      403,
      'forbidden',
    );
    // The owner, an employee, still sees everything.
    expect((await api('GET', `/v1/orgs/${org.slug}/projects`, { token: t })).body.data.length).toBe(3);
  });

  it("answers 404 for another organization's project, and lets a viewer read but not write", async () => {
    const a = await newOrg();
    const b = await newOrg(a.owner);
    const created = await createProject(a, { name: 'Mine' });
    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', { name: 'Stolen' }],
      ['DELETE', undefined],
    ] as const) {
      expectProblem(
        await api(method, `/v1/orgs/${b.slug}/projects/${created.id}`, { token: a.owner.token, body }),
        404,
        'not_found',
      );
    }
    expect((await api('GET', `/v1/orgs/${b.slug}/projects`, { token: a.owner.token })).body.data).toEqual([]);
    expect((await api('GET', `/v1/orgs/${a.slug}/projects/${created.id}`, { token: a.owner.token })).body.name).toBe(
      'Mine',
    );

    const viewer = await joinAs(a, 'viewer');
    expect((await api('GET', `/v1/orgs/${a.slug}/projects/${created.id}`, { token: viewer.token })).status).toBe(200);
    expectProblem(
      await api('PATCH', `/v1/orgs/${a.slug}/projects/${created.id}`, { token: viewer.token, body: { name: 'x' } }),
      403,
      'forbidden',
    );
    const member = await joinAs(a, 'member');
    expectProblem(
      await api('DELETE', `/v1/orgs/${a.slug}/projects/${created.id}`, { token: member.token }),
      403,
      'forbidden',
    );
  });
});
