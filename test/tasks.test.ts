// Tasks and the kanban board over REST (issue 3): ordering, versions, fields, subtasks, filters,
// client users, audit, organizations' isolation and D1 round-trip budgets. The board's socket
// side is in kanban-ws.test.ts.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { D1Sessions } from '../src/db/sessions';
import { fromPortable, type PortableContext } from '../src/auth/tenant';
import { ROLE_PERMISSIONS } from '../src/auth/permissions';
import type { Bindings } from '../src/env';
import { applyTaskMove } from '../src/modules/tasks/service';
import { api, expectProblem, joinAs, newOrg, type ApiResponse, type TestOrg, type TestUser, shardOf } from './helpers';

type Task = { id: string; title: string; status: string; position: number; version: number; [field: string]: any };
type Board = { columns: { status: string; tasks: Task[] }[] };

const STATUSES = ['todo', 'in_progress', 'review', 'done', 'cancelled'];

async function newProject(org: TestOrg, body: Record<string, unknown> = {}) {
  const res = await api('POST', `/v1/orgs/${org.slug}/projects`, {
    token: org.owner.token,
    body: { name: 'Board', ...body },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

async function newTask(org: TestOrg, projectId: string, body: Record<string, unknown>): Promise<Task> {
  const res = await api('POST', `/v1/orgs/${org.slug}/projects/${projectId}/tasks`, { token: org.owner.token, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

const getTask = (org: TestOrg, id: string, token = org.owner.token) =>
  api<Task>('GET', `/v1/orgs/${org.slug}/tasks/${id}`, { token });
const patch = (org: TestOrg, id: string, body: object, token = org.owner.token) =>
  api<Task>('PATCH', `/v1/orgs/${org.slug}/tasks/${id}`, { token, body });
const move = (org: TestOrg, id: string, body: object, token = org.owner.token) =>
  api<Task>('POST', `/v1/orgs/${org.slug}/tasks/${id}/move`, { token, body });
const remove = (org: TestOrg, id: string, token = org.owner.token) =>
  api('DELETE', `/v1/orgs/${org.slug}/tasks/${id}`, { token });
const titles = (res: ApiResponse) => (res.body.data as Task[]).map((t) => t.title);
const fieldsOf = (res: ApiResponse) => ((res.body.errors ?? []) as { path: string }[]).map((e) => e.path);

async function getBoard(org: TestOrg, projectId: string, token = org.owner.token): Promise<Board> {
  const res = await api<Board>('GET', `/v1/orgs/${org.slug}/projects/${projectId}/board`, { token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

/** Positions as stored, column by column. */
async function storedPositions(org: TestOrg, projectId: string): Promise<Record<string, number[]>> {
  const { results } = await (
    await shardOf(org.id)
  ).db
    .prepare('SELECT status, position FROM tasks WHERE project_id = ? ORDER BY position')
    .bind(projectId)
    .all<{ status: string; position: number }>();
  const columns: Record<string, number[]> = Object.fromEntries(STATUSES.map((s) => [s, []]));
  for (const row of results) columns[row.status]!.push(row.position);
  return columns;
}

/**
 * The board's titles column by column, after checking that every column is in strictly
 * increasing, unique positions, both as GET …/board serves it and as the shard stores it.
 */
async function order(org: TestOrg, projectId: string): Promise<Record<string, string[]>> {
  const board = await getBoard(org, projectId);
  expect(board.columns.map((c) => c.status)).toEqual(STATUSES);
  const stored = await storedPositions(org, projectId);
  for (const column of board.columns) {
    const served = column.tasks.map((t) => t.position);
    for (let i = 1; i < served.length; i++)
      expect(served[i], `${column.status}: ${served}`).toBeGreaterThan(served[i - 1]!);
    for (const task of column.tasks) expect(task.status).toBe(column.status);
    const positions = stored[column.status]!;
    expect(new Set(positions).size, `${column.status}: ${positions}`).toBe(positions.length);
    expect(positions).toEqual(served);
  }
  return Object.fromEntries(board.columns.map((c) => [c.status, c.tasks.map((t) => t.title)]));
}

/** Several tasks in `todo`, created one after another (so in this order). */
async function tasksNamed(org: TestOrg, projectId: string, names: string[]): Promise<Record<string, Task>> {
  const made: Record<string, Task> = {};
  for (const title of names) made[title] = await newTask(org, projectId, { title });
  return made;
}

async function moveOk(org: TestOrg, task: Task, body: object): Promise<Task> {
  const res = await move(org, task.id, body);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

describe('the board: ordering', () => {
  it('creates tasks at the end of their column and serves every column in one query', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    await tasksNamed(org, project, ['a', 'b', 'c']);
    await newTask(org, project, { title: 'x', status: 'done' });
    const board = await api('GET', `/v1/orgs/${org.slug}/projects/${project}/board`, { token: org.owner.token });
    expect(board.roundTrips).toBe(1);
    expect(await order(org, project)).toEqual({
      todo: ['a', 'b', 'c'],
      in_progress: [],
      review: [],
      done: ['x'],
      cancelled: [],
    });
  });

  it('serves an empty board with its five empty columns', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    expect(await order(org, project)).toEqual({ todo: [], in_progress: [], review: [], done: [], cancelled: [] });
  });

  it('keeps the order through a scripted sequence of moves', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    const { a, b, c, d } = await tasksNamed(org, project, ['a', 'b', 'c', 'd']);

    await moveOk(org, c!, { status: 'in_progress' }); // into an empty column
    expect(await order(org, project)).toMatchObject({ todo: ['a', 'b', 'd'], in_progress: ['c'] });
    await moveOk(org, d!, { status: 'todo', before_id: a!.id }); // to the top of its own column
    expect(await order(org, project)).toMatchObject({ todo: ['d', 'a', 'b'] });
    await moveOk(org, a!, { status: 'todo' }); // to the bottom of its own column (no neighbour: the end)
    expect(await order(org, project)).toMatchObject({ todo: ['d', 'b', 'a'] });
    await moveOk(org, d!, { status: 'todo', after_id: a!.id }); // to the bottom, after the last one
    expect(await order(org, project)).toMatchObject({ todo: ['b', 'a', 'd'] });
    await moveOk(org, b!, { status: 'in_progress', after_id: c!.id }); // after the last of another column
    await moveOk(org, a!, { status: 'in_progress', before_id: b!.id }); // between neighbours, by before_id
    expect(await order(org, project)).toMatchObject({ todo: ['d'], in_progress: ['c', 'a', 'b'] });
    await moveOk(org, d!, { status: 'in_progress', after_id: c!.id }); // between neighbours, by after_id
    expect(await order(org, project)).toMatchObject({ todo: [], in_progress: ['c', 'd', 'a', 'b'] });
    await moveOk(org, c!, { status: 'in_progress', after_id: a!.id }); // down within the same column
    expect(await order(org, project)).toMatchObject({ in_progress: ['d', 'a', 'c', 'b'] });
    await moveOk(org, b!, { status: 'in_progress', before_id: d!.id }); // to the top within the same column
    expect(await order(org, project)).toMatchObject({ in_progress: ['b', 'd', 'a', 'c'] });
    await moveOk(org, a!, { status: 'review', before_id: undefined }); // into another empty column
    await moveOk(org, c!, { status: 'review', before_id: a!.id }); // to the top of a one-task column
    expect(await order(org, project)).toEqual({
      todo: [],
      in_progress: ['b', 'd'],
      review: ['c', 'a'],
      done: [],
      cancelled: [],
    });
  });

  it('renumbers a column in one move when the gap between two neighbours closes, keeping the order', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    const { first, last } = await tasksNamed(org, project, ['first', 'last']);
    const positionOfLast = async () => (await getTask(org, last!.id)).body.position;
    const before = await positionOfLast();
    let renumbered = false;
    const expected = ['first', 'last'];
    // Each squeeze halves the gap after `first`: the tenth leaves no integer between them.
    for (let i = 0; i < 14; i++) {
      const t = await newTask(org, project, { title: `n${i}` });
      await moveOk(org, t, { status: 'todo', after_id: first!.id });
      expected.splice(1, 0, `n${i}`);
      expect((await order(org, project)).todo).toEqual(expected);
      // `last` itself is never moved: its position changes only when the column is renumbered.
      if ((await positionOfLast()) !== before) renumbered = true;
    }
    expect(renumbered).toBe(true);
  });

  it('renumbers when moves to the top run out of room, keeping the order', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    const tasks = Object.values(
      await tasksNamed(
        org,
        project,
        Array.from({ length: 14 }, (_, i) => `t${i}`),
      ),
    );
    const anchor = await newTask(org, project, { title: 'anchor', status: 'review' });
    const expected = ['anchor'];
    let top = anchor;
    for (const task of tasks) {
      await moveOk(org, task, { status: 'review', before_id: top.id });
      top = task;
      expected.unshift(task.title);
      expect((await order(org, project)).review).toEqual(expected);
    }
    expect(Math.min(...(await storedPositions(org, project)).review!)).toBeGreaterThan(0);
  });

  it('refuses invalid moves and changes nothing', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    const other = await newProject(org);
    const { a, b } = await tasksNamed(org, project, ['a', 'b']);
    const elsewhere = await newTask(org, project, { title: 'elsewhere', status: 'review' });
    const foreign = await newTask(org, other, { title: 'foreign' });
    const snapshot = await order(org, project);

    let res = await move(org, a!.id, { status: 'todo', before_id: elsewhere.id }); // a task in another column
    expectProblem(res, 400, 'invalid_request');
    expect(fieldsOf(res)).toEqual(['before_id']);
    res = await move(org, a!.id, { status: 'todo', after_id: foreign.id }); // a task of another project
    expectProblem(res, 400, 'invalid_request');
    expect(fieldsOf(res)).toEqual(['after_id']);
    res = await move(org, a!.id, { status: 'todo', before_id: foreign.id });
    expectProblem(res, 400, 'invalid_request');
    expect(fieldsOf(res)).toEqual(['before_id']);
    res = await move(org, a!.id, { status: 'todo', before_id: crypto.randomUUID() }); // no such neighbour
    expectProblem(res, 400, 'invalid_request');
    res = await move(org, a!.id, { status: 'todo', before_id: b!.id, after_id: b!.id }); // one task as both neighbours
    expectProblem(res, 400, 'invalid_request');
    expect(fieldsOf(res)).toEqual(['before_id']);
    res = await move(org, a!.id, { status: 'todo', before_id: a!.id }); // next to itself
    expectProblem(res, 400, 'invalid_request');
    expect(fieldsOf(res)).toEqual(['before_id']);
    res = await move(org, a!.id, { status: 'in_progress', after_id: a!.id });
    expectProblem(res, 400, 'invalid_request');
    expect(fieldsOf(res)).toEqual(['after_id']);
    res = await move(org, a!.id, { status: 'doing' }); // no such column
    expectProblem(res, 400, 'invalid_request');
    expect(fieldsOf(res)).toEqual(['status']);
    expectProblem(await move(org, crypto.randomUUID(), { status: 'todo' }), 404, 'not_found'); // no such task

    expect(await order(org, project)).toEqual(snapshot);
    expect((await getTask(org, a!.id)).body).toMatchObject({ version: 1, position: a!.position, status: 'todo' });
  });

  it('places a task between two adjacent neighbours given both, in its own column and another', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    const { a, b, c, d } = await tasksNamed(org, project, ['a', 'b', 'c', 'd']);
    const { x, y } = await tasksNamed(org, project, ['x', 'y']);
    await moveOk(org, x!, { status: 'in_progress' });
    await moveOk(org, y!, { status: 'in_progress' });

    let moved = await moveOk(org, d!, { status: 'todo', after_id: a!.id, before_id: b!.id }); // up within its column
    expect(moved).toMatchObject({ status: 'todo', version: 2 });
    expect(await order(org, project)).toMatchObject({ todo: ['a', 'd', 'b', 'c'], in_progress: ['x', 'y'] });
    // Already between them: the two are adjacent once the moved task is left out, so it stays.
    await moveOk(org, d!, { status: 'todo', after_id: a!.id, before_id: b!.id });
    expect(await order(org, project)).toMatchObject({ todo: ['a', 'd', 'b', 'c'] });
    moved = await moveOk(org, b!, { status: 'in_progress', after_id: x!.id, before_id: y!.id }); // into another column
    expect(moved.status).toBe('in_progress');
    expect(await order(org, project)).toMatchObject({ todo: ['a', 'd', 'c'], in_progress: ['x', 'b', 'y'] });
    await moveOk(org, a!, { status: 'todo', after_id: d!.id, before_id: c!.id }); // down within its column
    expect(await order(org, project)).toEqual({
      todo: ['d', 'a', 'c'],
      in_progress: ['x', 'b', 'y'],
      review: [],
      done: [],
      cancelled: [],
    });
  });

  it('renumbers a column when the gap between two given neighbours closes, keeping the order', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    const { first, last } = await tasksNamed(org, project, ['first', 'last']);
    const expected = ['first', 'last'];
    let next = last!;
    // Each squeeze goes between `first` and the task squeezed in before it, halving the gap.
    for (let i = 0; i < 14; i++) {
      const t = await newTask(org, project, { title: `n${i}` });
      await moveOk(org, t, { status: 'todo', after_id: first!.id, before_id: next.id });
      next = t;
      expected.splice(1, 0, `n${i}`);
      expect((await order(org, project)).todo).toEqual(expected);
    }
    expect((await getTask(org, last!.id)).body.position).not.toBe(last!.position); // the column was renumbered
  });

  it('refuses two neighbours that are not adjacent in the target column, naming the field, and changes nothing', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    const { a, b, c, d } = await tasksNamed(org, project, ['a', 'b', 'c', 'd']);
    const elsewhere = await newTask(org, project, { title: 'elsewhere', status: 'review' });
    const snapshot = await order(org, project);

    let res = await move(org, d!.id, { status: 'todo', after_id: a!.id, before_id: c!.id }); // b is between them
    expectProblem(res, 400, 'invalid_request');
    expect(fieldsOf(res)).toEqual(['before_id']);
    res = await move(org, d!.id, { status: 'todo', after_id: b!.id, before_id: a!.id }); // adjacent, the wrong way round
    expectProblem(res, 400, 'invalid_request');
    expect(fieldsOf(res)).toEqual(['before_id']);
    res = await move(org, d!.id, { status: 'todo', after_id: a!.id, before_id: elsewhere.id }); // before_id in another column
    expectProblem(res, 400, 'invalid_request');
    expect(fieldsOf(res)).toEqual(['before_id']);
    res = await move(org, d!.id, { status: 'todo', after_id: elsewhere.id, before_id: a!.id }); // after_id in another column
    expectProblem(res, 400, 'invalid_request');
    expect(fieldsOf(res)).toEqual(['after_id']);
    res = await move(org, d!.id, { status: 'review', after_id: a!.id, before_id: b!.id }); // both in another column than the target
    expectProblem(res, 400, 'invalid_request');
    expect(fieldsOf(res)).toEqual(['before_id']);
    res = await move(org, d!.id, { status: 'todo', after_id: c!.id, before_id: d!.id }); // itself as one of them
    expectProblem(res, 400, 'invalid_request');
    expect(fieldsOf(res)).toEqual(['before_id']);
    res = await move(org, d!.id, { status: 'todo', after_id: d!.id, before_id: a!.id });
    expectProblem(res, 400, 'invalid_request');
    expect(fieldsOf(res)).toEqual(['after_id']);

    expect(await order(org, project)).toEqual(snapshot);
    expect((await getTask(org, d!.id)).body).toMatchObject({ version: 1, position: d!.position, status: 'todo' });
  });

  it('lets one of two concurrent moves into the same pair of neighbours through and refuses the other, which no longer fits', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    const anchor = await newTask(org, project, { title: 'anchor', status: 'review' });
    const tail = await newTask(org, project, { title: 'tail', status: 'review' });
    const movers = Object.values(await tasksNamed(org, project, ['p', 'q']));
    const moves = await Promise.all(
      movers.map((t) => move(org, t.id, { status: 'review', after_id: anchor.id, before_id: tail.id })),
    );
    expect(moves.map((r) => r.status).sort()).toEqual([200, 400]);
    const refused = moves.find((r) => r.status === 400)!;
    expectProblem(refused, 400, 'invalid_request');
    expect(fieldsOf(refused)).toEqual(['before_id']);
    const winner = moves.find((r) => r.status === 200)!.body;
    expect((await order(org, project)).review).toEqual(['anchor', winner.title, 'tail']);
  });

  it('serialises concurrent REST moves into one order with unique positions', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    const anchor = await newTask(org, project, { title: 'anchor', status: 'in_progress' });
    await newTask(org, project, { title: 'tail', status: 'in_progress' }); // a neighbour after the gap
    const moving = Object.values(
      await tasksNamed(
        org,
        project,
        Array.from({ length: 12 }, (_, i) => `m${i}`),
      ),
    );
    // Twelve moves into the same gap at once: more than the gap holds, so one of them renumbers.
    const results = await Promise.all(
      moving.map((t) => move(org, t.id, { status: 'in_progress', after_id: anchor.id })),
    );
    for (const res of results) expect(res.status, JSON.stringify(res.body)).toBe(200);
    const column = (await order(org, project)).in_progress!;
    expect(column).toHaveLength(14);
    expect(column[0]).toBe('anchor');
    expect(column.at(-1)).toBe('tail');
    expect(new Set(column)).toEqual(new Set(['anchor', 'tail', ...moving.map((t) => t.title)]));
    expect((await order(org, project)).todo).toEqual([]);
  });

  it('lets exactly one of several concurrent moves carrying the same version through', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    const t = await newTask(org, project, { title: 't' });
    const results = await Promise.all(STATUSES.slice(1).map((status) => move(org, t.id, { status, version: 1 })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409, 409]);
    const winner = results.find((r) => r.status === 200)!.body;
    expect((await getTask(org, t.id)).body).toMatchObject({ version: 2, status: winner.status });
    for (const res of results.filter((r) => r.status === 409)) expectProblem(res, 409, 'conflict');
  });
});

describe('the board: a move racing an edit made outside the board object', () => {
  it('refuses the move with a conflict and writes nothing: no audit row, no half-applied renumbering', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    const { a, b, x } = await tasksNamed(org, project, ['a', 'b', 'x']);
    // Close the gap between a and b, so that moving x between them renumbers the column.
    await (
      await shardOf(org.id)
    ).db
      .prepare('UPDATE tasks SET position = ? WHERE id = ?')
      .bind(a!.position + 1, b!.id)
      .run();
    expect(await order(org, project)).toMatchObject({ todo: ['a', 'b', 'x'] });

    // The board object's own context, whose batch lets a REST PATCH (which does not go through the
    // board object) land between the move's read of the column and its write: the race made certain.
    const { shard } = (await env.CATALOG.prepare('SELECT shard FROM organizations WHERE id = ?')
      .bind(org.id)
      .first<{ shard: number }>())!;
    const portable: PortableContext = {
      organization: { id: org.id, slug: org.slug, name: `Org ${org.slug}`, shard, tier: 'free', data_region: null },
      actor: { type: 'user', user: { id: org.owner.id, email: org.owner.email, name: 'owner', role: 'employee' } },
      role: 'owner',
      permissions: [...ROLE_PERMISSIONS.owner],
      clientEmail: null,
      request: { requestId: crypto.randomUUID(), ip: null, userAgent: null },
    };
    const ctx = fromPortable(env as unknown as Bindings, D1Sessions.primary(env), portable, () => {});
    const batch = ctx.store.batch.bind(ctx.store);
    ctx.store.batch = (async (statements: Parameters<typeof batch>[0]) => {
      expect((await patch(org, x!.id, { title: 'edited meanwhile' })).status).toBe(200);
      return batch(statements);
    }) as typeof ctx.store.batch;

    await expect(
      applyTaskMove({ ctx, projectId: project, id: x!.id, input: { status: 'todo', before_id: b!.id } }),
    ).rejects.toMatchObject({ code: 'conflict' });
    expect(await order(org, project)).toMatchObject({ todo: ['a', 'b', 'edited meanwhile'] });
    expect((await getTask(org, x!.id)).body).toMatchObject({ version: 2, position: x!.position });
    const log = await api('GET', `/v1/orgs/${org.slug}/activity?resource_id=${x!.id}`, { token: org.owner.token });
    expect(log.body.data.map((r: { action: string }) => r.action)).toEqual(['task.update', 'task.create']);
  });
});

describe('tasks: versions and columns', () => {
  it('increments the version on every change, and not on a PATCH that changes nothing', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    const t = await newTask(org, project, { title: 't' });
    expect(t.version).toBe(1);
    expect((await patch(org, t.id, { title: 'u' })).body.version).toBe(2);
    expect((await patch(org, t.id, { priority: 'high', version: 2 })).body.version).toBe(3);
    expect((await move(org, t.id, { status: 'review' })).body.version).toBe(4);
    expect((await move(org, t.id, { status: 'review', version: 4 })).body.version).toBe(5); // within its column
    expect((await patch(org, t.id, { status: 'done' })).body.version).toBe(6);
    const same = await patch(org, t.id, { title: 'u', version: 6 });
    expect(same.status).toBe(200);
    expect(same.body.version).toBe(6);
  });

  it('refuses a stale version with 409 on PATCH and on move, and changes nothing', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    const t = await newTask(org, project, { title: 't' });
    const ok = await patch(org, t.id, { title: 'u', version: 1 });
    expect(ok.body).toMatchObject({ title: 'u', version: 2 });
    expectProblem(await patch(org, t.id, { title: 'v', version: 1 }), 409, 'conflict');
    expectProblem(await patch(org, t.id, { status: 'done', version: 1 }), 409, 'conflict');
    expectProblem(await patch(org, t.id, { title: 'u', version: 1 }), 409, 'conflict'); // stale even when nothing would change
    expectProblem(await patch(org, t.id, { title: 'v', version: 3 }), 409, 'conflict'); // a version from the future
    expectProblem(await move(org, t.id, { status: 'done', version: 1 }), 409, 'conflict');
    expect((await getTask(org, t.id)).body).toMatchObject({
      title: 'u',
      status: 'todo',
      version: 2,
      position: t.position,
    });
  });

  it('puts a task whose status a PATCH changes at the end of the new column, and tracks completed_at', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    const { a, b, c } = await tasksNamed(org, project, ['a', 'b', 'c']);
    expect(a!.completed_at).toBeNull();
    await moveOk(org, b!, { status: 'done' });
    await moveOk(org, c!, { status: 'done' });

    const done = await patch(org, a!.id, { status: 'done', title: 'a!' });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body.completed_at).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT/));
    expect(await order(org, project)).toMatchObject({ todo: [], done: ['b', 'c', 'a!'] });

    // Staying in done keeps the completion time; leaving done clears it.
    const stays = await patch(org, a!.id, { status: 'done', priority: 'high' });
    expect(stays.body.completed_at).toBe(done.body.completed_at);
    const back = await patch(org, a!.id, { status: 'todo' });
    expect(back.body.completed_at).toBeNull();
    expect(await order(org, project)).toMatchObject({ todo: ['a!'], done: ['b', 'c'] });
    // A PATCH to the column the task is in leaves its place alone.
    await moveOk(org, b!, { status: 'todo', before_id: a!.id });
    const same = await patch(org, b!.id, { status: 'todo', title: 'b!' });
    expect(same.body.completed_at).toBeNull();
    expect(await order(org, project)).toMatchObject({ todo: ['b!', 'a!'], done: ['c'] });
  });

  it('sets completed_at when a move reaches done and clears it when a move leaves', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    const t = await newTask(org, project, { title: 't' });
    const done = await moveOk(org, t, { status: 'done' });
    expect(done.completed_at).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT/));
    expect((await moveOk(org, t, { status: 'done' })).completed_at).toBe(done.completed_at);
    expect((await moveOk(org, t, { status: 'cancelled' })).completed_at).toBeNull();
    const created = await newTask(org, project, { title: 'born done', status: 'done' });
    expect(created.completed_at).not.toBeNull();
  });
});

describe('tasks: fields', () => {
  it('keeps hours exact to 2 decimals and refuses a third', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    const t = await newTask(org, project, { title: 'h', estimated_hours: 1.25, actual_hours: 0.1 + 0.2 });
    expect(t).toMatchObject({ estimated_hours: 1.25, actual_hours: 0.3 });
    expect((await getTask(org, t.id)).body).toMatchObject({ estimated_hours: 1.25, actual_hours: 0.3 });
    const stored = await (
      await shardOf(org.id)
    ).db
      .prepare('SELECT estimated_hours, actual_hours FROM tasks WHERE id = ?')
      .bind(t.id)
      .first();
    expect(stored).toEqual({ estimated_hours: 125, actual_hours: 30 });

    let res = await api('POST', `/v1/orgs/${org.slug}/projects/${project}/tasks`, {
      token: org.owner.token,
      body: { title: 'x', estimated_hours: 1.255 },
    });
    expectProblem(res, 400, 'invalid_request');
    expect(fieldsOf(res)).toEqual(['estimated_hours']);
    res = await patch(org, t.id, { actual_hours: 2.001 });
    expectProblem(res, 400, 'invalid_request');
    expect(fieldsOf(res)).toEqual(['actual_hours']);
    expectProblem(await patch(org, t.id, { actual_hours: -1 }), 400, 'invalid_request');
    const updated = await patch(org, t.id, { actual_hours: 99.99 });
    expect(updated.body).toMatchObject({ estimated_hours: 1.25, actual_hours: 99.99, version: 2 });
  });

  it('trims, lower-cases and de-duplicates tags', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    const t = await newTask(org, project, { title: 't', tags: [' Urgent ', 'urgent', 'Bug', 'bug '] });
    expect(t.tags).toEqual(['urgent', 'bug']);
    expect((await patch(org, t.id, { tags: ['UI', ' ui'] })).body.tags).toEqual(['ui']);
    expectProblem(await patch(org, t.id, { tags: ['x'.repeat(65)] }), 400, 'invalid_request');
    expectProblem(await patch(org, t.id, { tags: ['  '] }), 400, 'invalid_request');
  });

  it('takes due_date as an instant (any offset, answered in UTC), a date alone as its midnight UTC', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    const t = await newTask(org, project, { title: 't', due_date: '2026-12-04T17:30:00+02:00' });
    expect(t.due_date).toBe('2026-12-04T15:30:00.000Z');
    expect((await patch(org, t.id, { due_date: '2026-12-05' })).body.due_date).toBe('2026-12-05T00:00:00.000Z');
    expect((await getTask(org, t.id)).body.due_date).toBe('2026-12-05T00:00:00.000Z');
    expect((await patch(org, t.id, { due_date: null })).body.due_date).toBeNull();
    for (const bad of ['2026-12-04T17:30:00', '2026-02-30', 'tomorrow']) {
      const res = await patch(org, t.id, { due_date: bad });
      expectProblem(res, 400, 'invalid_request');
      expect(fieldsOf(res)).toEqual(['due_date']);
    }
  });

  it('refuses the columns the board and the server set, saying how each is set', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    const create = await api('POST', `/v1/orgs/${org.slug}/projects/${project}/tasks`, {
      token: org.owner.token,
      body: {
        title: 't',
        position: 1,
        created_by: org.owner.id,
        version: 3,
        completed_at: null,
        project_id: project,
        id: crypto.randomUUID(),
      },
    });
    expectProblem(create, 400, 'invalid_request');
    expect(fieldsOf(create).sort()).toEqual(['completed_at', 'created_by', 'id', 'position', 'project_id', 'version']);
    const position = create.body.errors.find((e: { path: string }) => e.path === 'position');
    expect(position.message).toMatch(/^Read-only: set by the board/);
    const t = await newTask(org, project, { title: 't' });
    const res = await patch(org, t.id, { position: 1, version: t.version });
    expectProblem(res, 400, 'invalid_request');
    expect(fieldsOf(res)).toEqual(['position']);
  });

  it('refuses an assignee who is not a member of the organization', async () => {
    const org = await newOrg();
    const other = await newOrg();
    const project = await newProject(org);
    const res = await api('POST', `/v1/orgs/${org.slug}/projects/${project}/tasks`, {
      token: org.owner.token,
      body: { title: 't', assigned_to: other.owner.id },
    });
    expectProblem(res, 400, 'invalid_request');
    expect(fieldsOf(res)).toEqual(['assigned_to']);
  });

  it('answers 404 for a task in a project that does not exist, and for the task list of one', async () => {
    const org = await newOrg();
    expectProblem(
      await api('POST', `/v1/orgs/${org.slug}/projects/${crypto.randomUUID()}/tasks`, {
        token: org.owner.token,
        body: { title: 't' },
      }),
      404,
      'not_found',
    );
    expectProblem(
      await api('GET', `/v1/orgs/${org.slug}/projects/${crypto.randomUUID()}/tasks`, { token: org.owner.token }),
      404,
      'not_found',
    );
    // An existing project without tasks is an empty page, in 2 queries (the second tells it from a missing one).
    const project = (
      await api('POST', `/v1/orgs/${org.slug}/projects`, { token: org.owner.token, body: { name: 'Empty' } })
    ).body.id;
    const empty = await api('GET', `/v1/orgs/${org.slug}/projects/${project}/tasks`, { token: org.owner.token });
    expect(empty.body).toEqual({ data: [], next_cursor: null });
    expect(empty.roundTrips).toBe(2);
  });
});

describe('tasks: subtasks', () => {
  it('refuses a parent from another project, naming parent_task_id', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    const other = await newProject(org);
    const foreign = await newTask(org, other, { title: 'foreign' });
    let res = await api('POST', `/v1/orgs/${org.slug}/projects/${project}/tasks`, {
      token: org.owner.token,
      body: { title: 'c', parent_task_id: foreign.id },
    });
    expectProblem(res, 400, 'invalid_request');
    expect(fieldsOf(res)).toEqual(['parent_task_id']);
    res = await api('POST', `/v1/orgs/${org.slug}/projects/${project}/tasks`, {
      token: org.owner.token,
      body: { title: 'c', parent_task_id: crypto.randomUUID() },
    });
    expectProblem(res, 400, 'invalid_request');
    expect(fieldsOf(res)).toEqual(['parent_task_id']);

    const t = await newTask(org, project, { title: 't' });
    res = await patch(org, t.id, { parent_task_id: foreign.id });
    expectProblem(res, 400, 'invalid_request');
    expect(fieldsOf(res)).toEqual(['parent_task_id']);
    expect((await getTask(org, t.id)).body).toMatchObject({ parent_task_id: null, version: 1 });
    expect(await order(org, project)).toMatchObject({ todo: ['t'] });
  });

  it('deletes a task with its subtasks and their subtasks, and nothing else', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    const parent = await newTask(org, project, { title: 'parent' });
    const child = await newTask(org, project, { title: 'child', parent_task_id: parent.id });
    const grandchild = await newTask(org, project, { title: 'grandchild', parent_task_id: child.id });
    const sibling = await newTask(org, project, { title: 'sibling' });
    const nephew = await newTask(org, project, { title: 'nephew', parent_task_id: sibling.id });
    expect((await remove(org, parent.id)).status).toBe(204);
    for (const gone of [parent, child, grandchild]) expectProblem(await getTask(org, gone.id), 404, 'not_found');
    expect((await getTask(org, nephew.id)).status).toBe(200);
    expect(await order(org, project)).toMatchObject({ todo: ['sibling', 'nephew'] });
    expectProblem(await remove(org, parent.id), 404, 'not_found');
  });

  it('refuses cycles, direct and indirect, and a task as its own parent', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    const a = await newTask(org, project, { title: 'a' });
    const b = await newTask(org, project, { title: 'b', parent_task_id: a.id });
    const c = await newTask(org, project, { title: 'c', parent_task_id: b.id });
    for (const [task, parent] of [
      [a, a],
      [a, b],
      [a, c],
      [b, c],
    ] as const) {
      const res = await patch(org, task.id, { parent_task_id: parent.id });
      expectProblem(res, 400, 'invalid_request');
      expect(fieldsOf(res)).toEqual(['parent_task_id']);
    }
    expect((await getTask(org, a.id)).body).toMatchObject({ parent_task_id: null, version: 1 });
    // Re-parenting that makes no cycle is fine, and so is detaching.
    expect((await patch(org, c.id, { parent_task_id: a.id })).body).toMatchObject({ parent_task_id: a.id, version: 2 });
    expect((await patch(org, b.id, { parent_task_id: null })).body).toMatchObject({ parent_task_id: null, version: 2 });
  });
});

describe('tasks: lists and filters', () => {
  it('lists my tasks across projects, newest first, in one query', async () => {
    const org = await newOrg();
    const bob = await joinAs(org, 'member');
    const p1 = await newProject(org);
    const p2 = await newProject(org);
    await newTask(org, p1, { title: 'mine 1', assigned_to: bob.id });
    await newTask(org, p2, { title: 'mine 2', assigned_to: bob.id });
    await newTask(org, p2, { title: 'not mine', assigned_to: org.owner.id });
    await newTask(org, p2, { title: 'nobody' });
    await api('GET', `/v1/orgs/${org.slug}`, { token: bob.token }); // warms the access cache
    const mine = await api('GET', `/v1/orgs/${org.slug}/tasks?assigned_to=me`, { token: bob.token });
    expect(titles(mine)).toEqual(['mine 2', 'mine 1']);
    expect(mine.roundTrips).toBe(1);
    expect(
      titles(await api('GET', `/v1/orgs/${org.slug}/tasks?assigned_to=${bob.id}`, { token: org.owner.token })),
    ).toEqual(['mine 2', 'mine 1']);
    expect(titles(await api('GET', `/v1/orgs/${org.slug}/tasks?assigned_to=me`, { token: org.owner.token }))).toEqual([
      'not mine',
    ]);
    expect(titles(await api('GET', `/v1/orgs/${org.slug}/tasks`, { token: org.owner.token }))).toEqual([
      'nobody',
      'not mine',
      'mine 2',
      'mine 1',
    ]);
    expect(
      titles(await api('GET', `/v1/orgs/${org.slug}/projects/${p2}/tasks?assigned_to=me`, { token: bob.token })),
    ).toEqual(['mine 2']);
  });

  it('filters by status, tag (every one must match) and parent, in a project and across projects', async () => {
    const org = await newOrg();
    const p1 = await newProject(org);
    const p2 = await newProject(org);
    const parent = await newTask(org, p1, { title: 'parent', tags: ['a'] });
    await newTask(org, p1, { title: 'ab', tags: ['a', 'b'], parent_task_id: parent.id });
    await newTask(org, p1, { title: 'b done', tags: ['b'], status: 'done', parent_task_id: parent.id });
    await newTask(org, p2, { title: 'abc', tags: ['a', 'b', 'c'], status: 'done' });
    await newTask(org, p2, { title: 'none' });
    const list = async (path: string) => {
      const res = await api('GET', `/v1/orgs/${org.slug}${path}`, { token: org.owner.token });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return titles(res);
    };

    expect(await list('/tasks?status=done')).toEqual(['abc', 'b done']);
    expect(await list(`/projects/${p1}/tasks?status=done`)).toEqual(['b done']);
    expect(await list('/tasks?tag=a')).toEqual(['abc', 'ab', 'parent']);
    expect(await list('/tasks?tag=a&tag=b')).toEqual(['abc', 'ab']);
    expect(await list('/tasks?tag=A&tag=%20b%20&tag=c')).toEqual(['abc']);
    expect(await list('/tasks?tag=a&tag=z')).toEqual([]);
    expect(await list(`/projects/${p1}/tasks?tag=b`)).toEqual(['b done', 'ab']);
    expect(await list(`/tasks?parent_task_id=${parent.id}`)).toEqual(['b done', 'ab']);
    expect(await list(`/projects/${p1}/tasks?parent_task_id=${parent.id}&status=todo&tag=a`)).toEqual(['ab']);
    expect(await list(`/projects/${p2}/tasks?parent_task_id=${parent.id}`)).toEqual([]);
    expect(await list(`/projects/${p2}/tasks`)).toEqual(['none', 'abc']);
    expectProblem(
      await api('GET', `/v1/orgs/${org.slug}/tasks?status=doing`, { token: org.owner.token }),
      400,
      'invalid_request',
    );
  });

  it('searches words of title and description (q), kept in step with edits and deletes, with the other filters', async () => {
    const org = await newOrg();
    const p1 = await newProject(org);
    const p2 = await newProject(org);
    const copy = await newTask(org, p1, { title: 'Write launch copy', description: 'Headlines for the café page' });
    await newTask(org, p2, { title: 'Launch party', status: 'done' });
    const list = async (path: string) =>
      titles(await api('GET', `/v1/orgs/${org.slug}${path}`, { token: org.owner.token }));
    expect(await list('/tasks?q=launch')).toEqual(['Launch party', 'Write launch copy']);
    expect(await list('/tasks?q=cafe%20head')).toEqual(['Write launch copy']);
    expect(await list(`/projects/${p2}/tasks?q=laun`)).toEqual(['Launch party']);
    expect(await list('/tasks?q=launch&status=done')).toEqual(['Launch party']);
    await patch(org, copy.id, { title: 'Write release notes', description: null });
    expect(await list('/tasks?q=headlines')).toEqual([]);
    expect(await list('/tasks?q=release')).toEqual(['Write release notes']);
    expect((await remove(org, copy.id)).status).toBe(204);
    expect(await list('/tasks?q=release')).toEqual([]);
  });

  it('pages through tasks with a cursor', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    await tasksNamed(org, project, ['1', '2', '3']);
    const first = await api('GET', `/v1/orgs/${org.slug}/projects/${project}/tasks?limit=2`, {
      token: org.owner.token,
    });
    expect(titles(first)).toEqual(['3', '2']);
    const second = await api(
      'GET',
      `/v1/orgs/${org.slug}/projects/${project}/tasks?limit=2&cursor=${first.body.next_cursor}`,
      { token: org.owner.token },
    );
    expect(titles(second)).toEqual(['1']);
    expect(second.body.next_cursor).toBeNull();
  });
});

describe('tasks: client users', () => {
  /** A member whose global role is `client`, and whose email is a customer's: one project is theirs. */
  async function clientSetup() {
    const org = await newOrg();
    const client = await joinAs(org, 'member');
    await env.CATALOG.prepare("UPDATE users SET role = 'client' WHERE id = ?").bind(client.id).run();
    const customer = await api('POST', `/v1/orgs/${org.slug}/customers`, {
      token: org.owner.token,
      body: { name: 'Client Co', email: client.email.toUpperCase() },
    });
    expect(customer.status, JSON.stringify(customer.body)).toBe(201);
    const otherCustomer = await api('POST', `/v1/orgs/${org.slug}/customers`, {
      token: org.owner.token,
      body: { name: 'Other Co', email: `other-${crypto.randomUUID()}@strive.test` },
    });
    const theirs = await newProject(org, { name: 'Theirs', customer_id: customer.body.id });
    const others = await newProject(org, { name: 'Others', customer_id: otherCustomer.body.id });
    const internal = await newProject(org, { name: 'Internal' });
    return {
      org,
      client,
      theirs,
      others,
      internal,
      visible: await newTask(org, theirs, { title: 'visible', assigned_to: client.id }),
      hidden: await newTask(org, others, { title: 'hidden', assigned_to: client.id }),
      internalTask: await newTask(org, internal, { title: 'internal', assigned_to: client.id }),
    };
  }

  it("sees only their customer's projects' tasks: list, board, get", async () => {
    const { org, client, theirs, others, internal, visible, hidden, internalTask } = await clientSetup();
    const t = client.token;
    expect(titles(await api('GET', `/v1/orgs/${org.slug}/tasks`, { token: t }))).toEqual(['visible']);
    expect(titles(await api('GET', `/v1/orgs/${org.slug}/tasks?assigned_to=me`, { token: t }))).toEqual(['visible']);
    expect(titles(await api('GET', `/v1/orgs/${org.slug}/projects/${theirs}/tasks`, { token: t }))).toEqual([
      'visible',
    ]);
    expectProblem(await api('GET', `/v1/orgs/${org.slug}/projects/${others}/tasks`, { token: t }), 404, 'not_found');
    const board = await getBoard(org, theirs, t);
    expect(board.columns[0]!.tasks.map((x) => x.title)).toEqual(['visible']);
    expect((await getTask(org, visible.id, t)).status).toBe(200);
    for (const project of [others, internal]) {
      expectProblem(await api('GET', `/v1/orgs/${org.slug}/projects/${project}/board`, { token: t }), 404, 'not_found');
    }
    for (const task of [hidden, internalTask]) expectProblem(await getTask(org, task.id, t), 404, 'not_found');
  });

  it('may not create, change, move or delete tasks, even in their own project', async () => {
    const { org, client, theirs, others, visible, hidden } = await clientSetup();
    const t = client.token;
    expectProblem(
      await api('POST', `/v1/orgs/${org.slug}/projects/${theirs}/tasks`, { token: t, body: { title: 'no' } }),
      403,
      'forbidden',
    );
    expectProblem(await patch(org, visible.id, { title: 'no' }, t), 403, 'forbidden');
    expectProblem(await patch(org, visible.id, { status: 'done' }, t), 403, 'forbidden');
    expectProblem(await move(org, visible.id, { status: 'done' }, t), 403, 'forbidden');
    expectProblem(await remove(org, visible.id, t), 403, 'forbidden');
    // The permission is checked before anything is looked up: another customer's task gets the
    // same 403 (nothing learnt), and reading it is a 404.
    expectProblem(await move(org, hidden.id, { status: 'done' }, t), 403, 'forbidden');
    expectProblem(await getTask(org, hidden.id, t), 404, 'not_found');
    expect((await getTask(org, visible.id)).body).toMatchObject({ title: 'visible', status: 'todo', version: 1 });
    expect(await order(org, theirs)).toMatchObject({ todo: ['visible'] });
    expect(await order(org, others)).toMatchObject({ todo: ['hidden'] });
  });
});

describe('tasks: audit', () => {
  type Activity = { action: string; actor_type: string; user_id: string | null; old_data: any; new_data: any };
  const activity = async (org: TestOrg, resourceId: string): Promise<Activity[]> => {
    const res = await api('GET', `/v1/orgs/${org.slug}/activity?resource_id=${resourceId}`, { token: org.owner.token });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.data;
  };

  it('records create, update, move and delete of a task with old and new data', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    const t = await newTask(org, project, { title: 'audited', estimated_hours: 1.25, tags: ['Ops'] });
    await patch(org, t.id, { title: 'renamed', estimated_hours: 2.5, tags: ['ops', 'x'] });
    await move(org, t.id, { status: 'review', version: 2 });
    await patch(org, t.id, { status: 'done' });
    expect((await remove(org, t.id)).status).toBe(204);

    const rows = await activity(org, t.id);
    expect(rows.map((r) => r.action)).toEqual([
      'task.delete',
      'task.update',
      'task.move',
      'task.update',
      'task.create',
    ]);
    for (const row of rows) expect(row).toMatchObject({ actor_type: 'user', user_id: org.owner.id });
    const [deleted, statusChange, moved, updated, created] = rows as [Activity, Activity, Activity, Activity, Activity];
    expect(created.old_data).toBeNull();
    expect(created.new_data).toMatchObject({
      id: t.id,
      project_id: project,
      title: 'audited',
      status: 'todo',
      estimated_hours: 1.25,
      tags: ['ops'],
      version: 1,
    });
    expect(updated.old_data).toEqual({ title: 'audited', estimated_hours: 1.25, tags: ['ops'] });
    expect(updated.new_data).toEqual({ title: 'renamed', estimated_hours: 2.5, tags: ['ops', 'x'] });
    expect(moved.old_data).toEqual({ status: 'todo', position: t.position, version: 2 });
    expect(moved.new_data).toEqual({ status: 'review', position: 1024, version: 3 });
    expect(statusChange.old_data).toEqual({ status: 'review' });
    expect(statusChange.new_data).toEqual({ status: 'done' });
    expect(deleted.new_data).toBeNull();
    expect(deleted.old_data).toMatchObject({
      id: t.id,
      title: 'renamed',
      status: 'done',
      estimated_hours: 2.5,
      tags: ['ops', 'x'],
      version: 4,
    });
  });

  it('writes nothing for a refused or empty change', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    const t = await newTask(org, project, { title: 't' });
    await patch(org, t.id, { title: 't' }); // no change
    await patch(org, t.id, { title: 'u', version: 9 }); // stale
    await move(org, t.id, { status: 'done', version: 9 }); // stale
    await move(org, t.id, { status: 'todo', before_id: crypto.randomUUID() }); // invalid
    expect((await activity(org, t.id)).map((r) => r.action)).toEqual(['task.create']);
  });

  it('records the deletion of each subtask deleted with its parent', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    const parent = await newTask(org, project, { title: 'parent' });
    const child = await newTask(org, project, { title: 'child', parent_task_id: parent.id });
    const grandchild = await newTask(org, project, { title: 'grandchild', parent_task_id: child.id });
    expect((await remove(org, parent.id)).status).toBe(204);
    for (const task of [parent, child, grandchild]) {
      const rows = await activity(org, task.id);
      expect(rows.map((r) => r.action)).toEqual(['task.delete', 'task.create']);
      expect(rows[0]!.old_data).toMatchObject({ id: task.id, title: task.title });
    }
  });
});

describe('tasks: organizations are isolated', () => {
  it("answers 404 for another organization's task on every task path, and changes nothing", async () => {
    const a = await newOrg();
    const b = await newOrg(a.owner); // the same person owns both: only the path differs
    const projectA = await newProject(a);
    const projectB = await newProject(b);
    const t = await newTask(a, projectA, { title: 'of A' });
    const viaB = (method: string, path: string, body?: object) =>
      api(method, `/v1/orgs/${b.slug}${path}`, { token: a.owner.token, body });

    expectProblem(await viaB('GET', `/tasks/${t.id}`), 404, 'not_found');
    expectProblem(await viaB('PATCH', `/tasks/${t.id}`, { title: 'hijacked' }), 404, 'not_found');
    expectProblem(await viaB('PATCH', `/tasks/${t.id}`, { status: 'done' }), 404, 'not_found');
    expectProblem(await viaB('POST', `/tasks/${t.id}/move`, { status: 'done' }), 404, 'not_found');
    expectProblem(await viaB('DELETE', `/tasks/${t.id}`), 404, 'not_found');
    expectProblem(await viaB('GET', `/projects/${projectA}/board`), 404, 'not_found');
    expectProblem(await viaB('POST', `/projects/${projectA}/tasks`, { title: 'planted' }), 404, 'not_found');
    expectProblem(await viaB('GET', `/projects/${projectA}/tasks`), 404, 'not_found');
    expect(titles(await viaB('GET', '/tasks'))).toEqual([]);
    // Nor may B's tasks point at A's.
    const res = await viaB('POST', `/projects/${projectB}/tasks`, { title: 'child', parent_task_id: t.id });
    expectProblem(res, 400, 'invalid_request');
    const bTask = await newTask(b, projectB, { title: 'of B' });
    expectProblem(
      await viaB('POST', `/tasks/${bTask.id}/move`, { status: 'todo', before_id: t.id }),
      400,
      'invalid_request',
    );

    expect((await getTask(a, t.id)).body).toMatchObject({ title: 'of A', status: 'todo', version: 1 });
    expect(await order(a, projectA)).toMatchObject({ todo: ['of A'] });
  });

  it('answers 404 to someone who is not a member', async () => {
    const org = await newOrg();
    const project = await newProject(org);
    const t = await newTask(org, project, { title: 't' });
    const outsider: TestUser = (await newOrg()).owner;
    expectProblem(await getTask(org, t.id, outsider.token), 404, 'not_found');
    expectProblem(await move(org, t.id, { status: 'done' }, outsider.token), 404, 'not_found');
  });

  it('lets a viewer read tasks but not write them', async () => {
    const org = await newOrg();
    const viewer = await joinAs(org, 'viewer');
    const project = await newProject(org);
    const t = await newTask(org, project, { title: 't' });
    expect((await getTask(org, t.id, viewer.token)).status).toBe(200);
    expect((await getBoard(org, project, viewer.token)).columns[0]!.tasks).toHaveLength(1);
    expectProblem(
      await api('POST', `/v1/orgs/${org.slug}/projects/${project}/tasks`, {
        token: viewer.token,
        body: { title: 'no' },
      }),
      403,
      'forbidden',
    );
    expectProblem(await patch(org, t.id, { title: 'no' }, viewer.token), 403, 'forbidden');
    expectProblem(await move(org, t.id, { status: 'done' }, viewer.token), 403, 'forbidden');
    expectProblem(await remove(org, t.id, viewer.token), 403, 'forbidden');
    expect((await getTask(org, t.id)).body).toMatchObject({ title: 't', version: 1 });
  });
});

describe('tasks: D1 round-trip budgets (warm)', () => {
  async function warm() {
    const org = await newOrg();
    const project = await newProject(org);
    const first = await newTask(org, project, { title: 'first' });
    await api('GET', `/v1/orgs/${org.slug}`, { token: org.owner.token }); // warms the access cache
    return { org, project, first };
  }

  it('loads the board in 1 query and lists tasks in 1 query', async () => {
    const { org, project, first } = await warm();
    expect(
      (await api('GET', `/v1/orgs/${org.slug}/projects/${project}/board`, { token: org.owner.token })).roundTrips,
    ).toBe(1);
    for (const path of [
      `/projects/${project}/tasks`,
      '/tasks',
      '/tasks?assigned_to=me&status=todo&tag=a&tag=b',
      `/tasks?parent_task_id=${first.id}`,
    ]) {
      const res = await api('GET', `/v1/orgs/${org.slug}${path}`, { token: org.owner.token });
      expect(res.status).toBe(200);
      expect(res.roundTrips, path).toBe(1);
    }
    expect((await getTask(org, first.id)).roundTrips).toBe(1);
  });

  it('creates, updates and deletes a task in 1 batch each (create runs inside the board object)', async () => {
    const { org, project } = await warm();
    const created = await api('POST', `/v1/orgs/${org.slug}/projects/${project}/tasks`, {
      token: org.owner.token,
      body: { title: 't', tags: ['a'] },
    });
    expect(created.status).toBe(201);
    expect(created.roundTrips).toBe(1);
    const updated = await patch(org, created.body.id, { title: 'u', priority: 'high', version: 1 });
    expect(updated.status).toBe(200);
    expect(updated.roundTrips).toBe(1);
    const deleted = await remove(org, created.body.id);
    expect(deleted.status).toBe(204);
    expect(deleted.roundTrips).toBe(1);
  });

  it('moves a task in 3 round trips: find its project, read the column inside the board object, 1 batch', async () => {
    const { org, first } = await warm();
    const res = await move(org, first.id, { status: 'review' });
    expect(res.status).toBe(200);
    expect(res.roundTrips).toBe(3);
  });

  it('moves a task between two given neighbours in the same 3 round trips', async () => {
    const { org, project, first } = await warm();
    const second = await newTask(org, project, { title: 'second' });
    const third = await newTask(org, project, { title: 'third' });
    const res = await move(org, third.id, { status: 'todo', after_id: first.id, before_id: second.id });
    expect(res.status).toBe(200);
    expect(res.roundTrips).toBe(3);
  });

  it('changes a status by PATCH in 2 round trips: find its project, 1 batch inside the board object', async () => {
    const { org, first } = await warm();
    const res = await patch(org, first.id, { status: 'review' });
    expect(res.status).toBe(200);
    expect(res.roundTrips).toBe(2);
  });
});
