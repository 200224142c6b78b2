// The realtime board (issue 3, "Realtime board"): …/projects/{id}/board/ws through the Worker as
// deployed (SELF), served by the project's KANBAN_BOARD object with hibernatable sockets.
import { env, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { CLOSE_CODES } from '../src/realtime/socket-room';
import type { Bindings } from '../src/env';
import { boards } from '../src/realtime/kanban-client';
import {
  api,
  expectProblem,
  interceptStatements,
  joinAs,
  newOrg,
  readResponse,
  refuseRateLimitKey,
  runAccessRecheck,
  type TestOrg,
  type TestUser,
  placeOf,
} from './helpers';

type Message = { type: string; [key: string]: any };
type Task = { id: string; title: string; status: string; position: number; version: number; [field: string]: any };
type Board = { columns: { status: string; tasks: Task[] }[] };

const boardWs = (org: TestOrg, projectId: string) =>
  `https://strive.test/v1/orgs/${org.slug}/projects/${projectId}/board/ws`;

/** An upgrade request as a browser sends it: the token in the query, since it cannot set headers. */
const upgrade = (org: TestOrg, projectId: string, token?: string) =>
  SELF.fetch(`${boardWs(org, projectId)}${token ? `?token=${token}` : ''}`, { headers: { upgrade: 'websocket' } });

/**
 * A board socket that records everything it receives, in order (`log`), and lets a test wait for
 * the next message that matches (`next`, which consumes it) or for the log to satisfy a condition.
 */
async function connect(org: TestOrg, projectId: string, token: string) {
  const res = await upgrade(org, projectId, token);
  expect(res.status).toBe(101);
  const socket = res.webSocket!;
  socket.accept();
  const log: Message[] = [];
  const unread: Message[] = [];
  const waiters: { match: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  const closed = new Promise<number>((resolve) => socket.addEventListener('close', (event) => resolve(event.code)));
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(event.data as string) as Message;
    log.push(message);
    const waiter = waiters.find((w) => w.match(message));
    if (waiter) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(message);
    } else {
      unread.push(message);
    }
  });
  const next = (match: (m: Message) => boolean = () => true, timeoutMs = 3000) =>
    new Promise<Message>((resolve, reject) => {
      const seen = unread.find(match);
      if (seen) {
        unread.splice(unread.indexOf(seen), 1);
        return resolve(seen);
      }
      const timer = setTimeout(
        () => reject(new Error(`no matching message; unread: ${JSON.stringify(unread)}`)),
        timeoutMs,
      );
      waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  const until = async (condition: (log: Message[]) => boolean, timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    while (!condition(log)) {
      if (Date.now() > deadline) throw new Error(`condition not met; log: ${JSON.stringify(log.map((m) => m.type))}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  const nextOfType = (type: string) => next((m) => m.type === type);
  return {
    socket,
    log,
    next,
    nextOfType,
    until,
    /** The code the server closed the socket with. */
    closed,
    send: (m: object | string) => socket.send(typeof m === 'string' ? m : JSON.stringify(m)),
    close: async () => {
      socket.close(1000, 'done');
      await closed;
    },
  };
}
type Watcher = Awaited<ReturnType<typeof connect>>;

async function newProject(org: TestOrg, body: Record<string, unknown> = {}) {
  const res = await api('POST', `/v1/orgs/${org.slug}/projects`, {
    token: org.owner.token,
    body: { name: 'Live', ...body },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

async function newTask(
  org: TestOrg,
  projectId: string,
  body: Record<string, unknown>,
  token = org.owner.token,
): Promise<Task> {
  const res = await api('POST', `/v1/orgs/${org.slug}/projects/${projectId}/tasks`, { token, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

async function getBoard(org: TestOrg, projectId: string): Promise<Board> {
  const res = await api<Board>('GET', `/v1/orgs/${org.slug}/projects/${projectId}/board`, { token: org.owner.token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

const getTask = async (org: TestOrg, id: string) =>
  (await api<Task>('GET', `/v1/orgs/${org.slug}/tasks/${id}`, { token: org.owner.token })).body;

/** Each column's task ids in board order. */
const idsOf = (board: Board) => Object.fromEntries(board.columns.map((c) => [c.status, c.tasks.map((t) => t.id)]));

/**
 * The board a client builds from what its socket received: the snapshot, then every event in
 * the order it arrived (a `task.moved` that renumbered its column carries the new positions).
 */
function boardFromEvents(log: Message[]): Record<string, string[]> {
  const tasks = new Map<string, { status: string; position: number }>();
  for (const message of log) {
    if (message.type === 'snapshot') {
      tasks.clear();
      for (const column of message.board.columns)
        for (const t of column.tasks) tasks.set(t.id, { status: t.status, position: t.position });
    } else if (message.type === 'task.deleted') {
      for (const id of message.task.deleted_ids) tasks.delete(id);
    } else if (message.type.startsWith('task.')) {
      tasks.set(message.task.id, { status: message.task.status, position: message.task.position });
      for (const { id, position } of message.renumbered ?? []) tasks.set(id, { ...tasks.get(id)!, position });
    }
  }
  const columns: Record<string, string[]> = { todo: [], in_progress: [], review: [], done: [], cancelled: [] };
  const sorted = [...tasks].sort(([a, x], [b, y]) => x.position - y.position || (a < b ? -1 : 1));
  for (const [id, { status }] of sorted) columns[status]!.push(id);
  return columns;
}

/** Stored positions of every column are unique (the shard found as the Worker finds it). */
async function expectUniquePositions(org: TestOrg, projectId: string) {
  const { shard } = (await env.CATALOG.prepare('SELECT shard FROM organizations WHERE id = ?')
    .bind(org.id)
    .first<{ shard: number }>())!;
  const db = (env as unknown as Record<string, D1Database>)[`SHARD_${shard}`]!;
  const { results } = await db
    .prepare('SELECT status, position FROM tasks WHERE project_id = ?')
    .bind(projectId)
    .all<{ status: string; position: number }>();
  const keys = results.map((r) => `${r.status}:${r.position}`);
  expect(new Set(keys).size, keys.join(' ')).toBe(keys.length);
}

async function setup() {
  const org = await newOrg();
  const project = await newProject(org);
  const task = await newTask(org, project, { title: 'first' });
  return { org, project, task };
}

describe('the board socket: connecting', () => {
  it('sends a snapshot of every column, as GET …/board serves it, on connect', async () => {
    const { org, project, task } = await setup();
    const second = await newTask(org, project, { title: 'second' });
    const done = await newTask(org, project, { title: 'done', status: 'done' });
    const watcher = await connect(org, project, org.owner.token);
    const snapshot = await watcher.nextOfType('snapshot');
    expect(snapshot.board).toEqual(await getBoard(org, project));
    expect(idsOf(snapshot.board)).toEqual({
      todo: [task.id, second.id],
      in_progress: [],
      review: [],
      done: [done.id],
      cancelled: [],
    });
    expect(watcher.log[0]!.type).toBe('snapshot'); // before anything else
    await watcher.close();
  });

  it('tells every watcher who is watching, as people join and leave', async () => {
    const { org, project } = await setup();
    const bob = await joinAs(org, 'member');
    const alice = await connect(org, project, org.owner.token);
    expect((await alice.nextOfType('presence')).users).toEqual([{ type: 'user', id: org.owner.id, name: 'owner' }]);

    const b = await connect(org, project, bob.token);
    const both = (m: Message) => m.type === 'presence' && m.users.length === 2;
    for (const watcher of [alice, b]) {
      const presence = await watcher.next(both);
      expect(presence.users.map((u: { id: string }) => u.id).sort()).toEqual([org.owner.id, bob.id].sort());
    }

    await b.close();
    const left = await alice.next((m) => m.type === 'presence' && m.users.length === 1);
    expect(left.users).toEqual([{ type: 'user', id: org.owner.id, name: 'owner' }]);
    await alice.close();
  });

  it('counts a person once however many sockets they have open', async () => {
    const { org, project } = await setup();
    const first = await connect(org, project, org.owner.token);
    await first.nextOfType('presence');
    const second = await connect(org, project, org.owner.token);
    expect((await first.nextOfType('presence')).users).toHaveLength(1);
    expect((await second.nextOfType('presence')).users).toHaveLength(1);
    await first.close();
    await second.close();
  });

  it('answers 401 without a token, 404 to a non-member, another organization or an unknown project, and opens no socket', async () => {
    const { org, project } = await setup();
    const noToken = await upgrade(org, project);
    expect(noToken.webSocket).toBeNull();
    expectProblem(await readResponse(noToken), 401, 'unauthenticated');

    const outsider = await newOrg(); // someone who is not a member of `org`
    const refused = await upgrade(org, project, outsider.owner.token);
    expect(refused.webSocket).toBeNull();
    expectProblem(await readResponse(refused), 404, 'not_found');

    // The same person through an organization of their own: the project is not there.
    const other = await newOrg(org.owner);
    const crossed = await upgrade(other, project, org.owner.token);
    expect(crossed.webSocket).toBeNull();
    expectProblem(await readResponse(crossed), 404, 'not_found');

    const unknown = await upgrade(org, crypto.randomUUID(), org.owner.token);
    expect(unknown.webSocket).toBeNull();
    expectProblem(await readResponse(unknown), 404, 'not_found');
  });

  it('answers a plain GET (no upgrade) with 426 upgrade_required', async () => {
    const { org, project } = await setup();
    const res = await api('GET', `/v1/orgs/${org.slug}/projects/${project}/board/ws`, { token: org.owner.token });
    expectProblem(res, 426, 'upgrade_required');
  });

  it("lets a client user watch their customer's project only", async () => {
    const org = await newOrg();
    const client = await joinAs(org, 'member');
    await env.CATALOG.prepare("UPDATE users SET role = 'client' WHERE id = ?").bind(client.id).run();
    const customer = await api('POST', `/v1/orgs/${org.slug}/customers`, {
      token: org.owner.token,
      body: { name: 'Client Co', email: client.email },
    });
    const theirs = await newProject(org, { customer_id: customer.body.id });
    const internal = await newProject(org);
    const visible = await newTask(org, theirs, { title: 'visible' });

    const refused = await upgrade(org, internal, client.token);
    expect(refused.webSocket).toBeNull();
    expectProblem(await readResponse(refused), 404, 'not_found');

    const watcher = await connect(org, theirs, client.token);
    expect(idsOf((await watcher.nextOfType('snapshot')).board).todo).toEqual([visible.id]);
    watcher.send({ type: 'move', task_id: visible.id, status: 'done', version: 1 });
    expect(await watcher.nextOfType('error')).toMatchObject({ code: 'forbidden' });
    expect(await getTask(org, visible.id)).toMatchObject({ status: 'todo', version: 1 });
    await watcher.close();
  });
});

describe('the board socket: changes', () => {
  it('broadcasts every REST change to every watcher, with the actor', async () => {
    const { org, project, task } = await setup();
    const bob = await joinAs(org, 'admin'); // an admin may delete tasks
    const viewer = await joinAs(org, 'viewer');
    const watchers = [await connect(org, project, org.owner.token), await connect(org, project, viewer.token)];
    for (const w of watchers) await w.nextOfType('snapshot');
    const bobActor = { type: 'user', id: bob.id, name: 'admin' };
    const t = bob.token;
    const everyone = async (type: string) => {
      const [first, second] = await Promise.all(watchers.map((w) => w.nextOfType(type)));
      expect(second).toEqual(first);
      expect(first!.actor).toEqual(bobActor);
      return first!;
    };

    const created = await newTask(org, project, { title: 'made by bob' }, t);
    expect((await everyone('task.created')).task).toEqual(created);

    const renamed = await api('PATCH', `/v1/orgs/${org.slug}/tasks/${task.id}`, {
      token: t,
      body: { title: 'renamed' },
    });
    expect((await everyone('task.updated')).task).toEqual(renamed.body);
    expect(renamed.body.version).toBe(2);

    const restatused = await api('PATCH', `/v1/orgs/${org.slug}/tasks/${task.id}`, {
      token: t,
      body: { status: 'review', version: 2 },
    });
    expect((await everyone('task.updated')).task).toEqual(restatused.body);
    expect(restatused.body).toMatchObject({ status: 'review', version: 3 });

    const moved = await api('POST', `/v1/orgs/${org.slug}/tasks/${created.id}/move`, {
      token: t,
      body: { status: 'review', before_id: task.id },
    });
    expect((await everyone('task.moved')).task).toEqual(moved.body);

    const child = await newTask(org, project, { title: 'child', parent_task_id: task.id }, t);
    const grandchild = await newTask(org, project, { title: 'grandchild', parent_task_id: child.id }, t);
    await everyone('task.created');
    await everyone('task.created');
    const asItWas = await getTask(org, task.id);
    expect((await api('DELETE', `/v1/orgs/${org.slug}/tasks/${task.id}`, { token: t })).status).toBe(204);
    const deleted = await everyone('task.deleted');
    // The task as it was, like every other event's (clients read its project_id and status), plus what went with it.
    const { deleted_ids, ...deletedTask } = deleted.task;
    expect(deletedTask).toEqual(asItWas);
    expect(deletedTask).toMatchObject({ id: task.id, project_id: project, status: 'review', version: 3 });
    expect([...deleted_ids].sort()).toEqual([task.id, child.id, grandchild.id].sort());

    // What the watchers were told adds up to what REST reads back.
    for (const w of watchers) expect(boardFromEvents(w.log)).toEqual(idsOf(await getBoard(org, project)));
    for (const w of watchers) await w.close();
  });

  it('names the deleted task itself in task.deleted, whatever the ids of its subtasks', async () => {
    const { org, project } = await setup();
    // The subtask is older (smaller id) than the parent it is later given.
    const child = await newTask(org, project, { title: 'older child' });
    const parent = await newTask(org, project, { title: 'younger parent' });
    expect(
      (
        await api('PATCH', `/v1/orgs/${org.slug}/tasks/${child.id}`, {
          token: org.owner.token,
          body: { parent_task_id: parent.id },
        })
      ).status,
    ).toBe(200);
    const watcher = await connect(org, project, org.owner.token);
    await watcher.nextOfType('snapshot');
    expect((await api('DELETE', `/v1/orgs/${org.slug}/tasks/${parent.id}`, { token: org.owner.token })).status).toBe(
      204,
    );
    const deleted = await watcher.nextOfType('task.deleted');
    expect(deleted.task).toEqual({ ...parent, deleted_ids: expect.any(Array) });
    expect([...deleted.task.deleted_ids].sort()).toEqual([parent.id, child.id].sort());
    await watcher.close();
  });

  it("broadcasts a socket's move to every watcher, and REST reads it back", async () => {
    const { org, project, task } = await setup();
    const second = await newTask(org, project, { title: 'second' });
    const bob = await joinAs(org, 'member');
    const mover = await connect(org, project, bob.token);
    const watcher = await connect(org, project, org.owner.token);
    for (const w of [mover, watcher]) await w.nextOfType('snapshot');

    mover.send({ type: 'move', task_id: second.id, status: 'todo', before_id: task.id, version: 1 });
    const [seen, echoed] = await Promise.all([watcher.nextOfType('task.moved'), mover.nextOfType('task.moved')]);
    expect(echoed).toEqual(seen);
    expect(seen.task).toMatchObject({ id: second.id, status: 'todo', version: 2 });
    expect(seen.actor).toEqual({ type: 'user', id: bob.id, name: 'member' });
    expect(idsOf(await getBoard(org, project)).todo).toEqual([second.id, task.id]);
    expect(await getTask(org, second.id)).toEqual(seen.task);
    await mover.close();
    await watcher.close();
  });

  it(
    'places a socket move between two adjacent neighbours given both, and refuses two that are not adjacent or not ' +
      'in the column',
    async () => {
      const { org, project, task: a } = await setup();
      const b = await newTask(org, project, { title: 'b' });
      const c = await newTask(org, project, { title: 'c' });
      const elsewhere = await newTask(org, project, { title: 'elsewhere', status: 'review' });
      const mover = await connect(org, project, org.owner.token);
      const watcher = await connect(org, project, org.owner.token);
      for (const w of [mover, watcher]) await w.nextOfType('snapshot');

      mover.send({ type: 'move', task_id: c.id, status: 'todo', after_id: a.id, before_id: b.id, version: 1 });
      const seen = await watcher.nextOfType('task.moved');
      expect(seen.task).toMatchObject({ id: c.id, status: 'todo', version: 2 });
      expect(idsOf(await getBoard(org, project)).todo).toEqual([a.id, c.id, b.id]);
      expect(boardFromEvents(watcher.log)).toEqual(idsOf(await getBoard(org, project)));

      const refusal = async (move: object) => {
        mover.send({ type: 'move', ...move });
        return mover.nextOfType('error');
      };
      // a, c, b: a and b are no longer adjacent.
      expect(
        await refusal({ task_id: elsewhere.id, status: 'todo', after_id: a.id, before_id: b.id, version: 1 }),
      ).toMatchObject({
        code: 'invalid_request',
        errors: [{ path: 'before_id' }],
      });
      expect(
        await refusal({ task_id: b.id, status: 'todo', after_id: elsewhere.id, before_id: a.id, version: 1 }),
      ).toMatchObject({
        code: 'invalid_request',
        errors: [{ path: 'after_id' }],
      });
      expect(
        await refusal({ task_id: b.id, status: 'todo', after_id: a.id, before_id: elsewhere.id, version: 1 }),
      ).toMatchObject({
        code: 'invalid_request',
        errors: [{ path: 'before_id' }],
      });
      expect(idsOf(await getBoard(org, project))).toMatchObject({ todo: [a.id, c.id, b.id], review: [elsewhere.id] });
      expect(mover.log.filter((m) => m.type === 'task.moved')).toHaveLength(1);
      await mover.close();
      await watcher.close();
    },
  );

  it("lets a viewer watch, but answers the viewer's move with an error and changes nothing", async () => {
    const { org, project, task } = await setup();
    const viewer = await joinAs(org, 'viewer');
    const v = await connect(org, project, viewer.token);
    expect(idsOf((await v.nextOfType('snapshot')).board).todo).toEqual([task.id]);
    v.send({ type: 'move', task_id: task.id, status: 'done', version: 1 });
    expect(await v.nextOfType('error')).toMatchObject({ code: 'forbidden' });
    expect(await getTask(org, task.id)).toEqual(task);
    // Still watching: the owner's change reaches the viewer.
    await api('POST', `/v1/orgs/${org.slug}/tasks/${task.id}/move`, {
      token: org.owner.token,
      body: { status: 'review' },
    });
    expect((await v.nextOfType('task.moved')).task).toMatchObject({ id: task.id, status: 'review' });
    expect(v.log.filter((m) => m.type === 'task.moved')).toHaveLength(1);
    await v.close();
  });

  it('answers a stale move with a conflict error and the task as it is now, and changes nothing', async () => {
    const { org, project, task } = await setup();
    const owner = await connect(org, project, org.owner.token);
    await owner.nextOfType('snapshot');
    owner.send({ type: 'move', task_id: task.id, status: 'done', version: 1 });
    const moved = await owner.nextOfType('task.moved');
    owner.send({ type: 'move', task_id: task.id, status: 'todo', version: 1 });
    const stale = await owner.nextOfType('error');
    expect(stale).toMatchObject({ code: 'conflict', task: { id: task.id, version: 2, status: 'done' } });
    expect(stale.task).toEqual(moved.task);
    expect(await getTask(org, task.id)).toEqual(moved.task);
    expect(owner.log.filter((m) => m.type === 'task.moved')).toHaveLength(1);
    await owner.close();
  });

  it('answers invalid socket moves with an error naming the problem, and changes nothing', async () => {
    const { org, project, task } = await setup();
    const elsewhere = await newTask(org, project, { title: 'elsewhere', status: 'review' });
    const owner = await connect(org, project, org.owner.token);
    await owner.nextOfType('snapshot');
    const refusal = async (move: object) => {
      owner.send({ type: 'move', ...move });
      return owner.nextOfType('error');
    };
    expect(await refusal({ task_id: task.id, status: 'todo', before_id: elsewhere.id, version: 1 })).toMatchObject({
      code: 'invalid_request',
      errors: [{ path: 'before_id' }],
    });
    expect(
      await refusal({ task_id: task.id, status: 'todo', before_id: elsewhere.id, after_id: elsewhere.id, version: 1 }),
    ).toMatchObject({
      code: 'invalid_request',
      errors: [{ path: 'before_id' }],
    });
    expect(await refusal({ task_id: task.id, status: 'todo', after_id: task.id, version: 1 })).toMatchObject({
      code: 'invalid_request',
    });
    expect(await refusal({ task_id: task.id, status: 'done' })).toMatchObject({ code: 'invalid_request' }); // no version
    expect(await refusal({ task_id: task.id, status: 'doing', version: 1 })).toMatchObject({ code: 'invalid_request' });
    expect(await refusal({ task_id: 'not-an-id', status: 'done', version: 1 })).toMatchObject({
      code: 'invalid_request',
    });
    expect(await refusal({ task_id: crypto.randomUUID(), status: 'done', version: 1 })).toMatchObject({
      code: 'not_found',
    });
    // The same schema as POST …/tasks/{id}/move: every problem named, an unknown field too.
    expect(await refusal({ task_id: task.id, status: 'doing', version: 1, colour: 'red' })).toMatchObject({
      code: 'invalid_request',
      errors: [{ path: 'status' }, { path: 'colour', message: 'Unknown field.' }],
    });
    expect(await getTask(org, task.id)).toEqual(task);
    expect(owner.log.filter((m) => m.type.startsWith('task.'))).toEqual([]);
    await owner.close();
  });
});

describe('the board socket: messages and limits', () => {
  it('answers ping with pong, and malformed JSON, an unknown type and an oversized message with errors', async () => {
    const { org, project } = await setup();
    const w = await connect(org, project, org.owner.token);
    await w.nextOfType('snapshot');
    w.send({ type: 'ping' });
    expect(await w.next((m) => m.type === 'pong' || m.type === 'error')).toEqual({ type: 'pong' });
    w.send('{not json');
    expect(await w.nextOfType('error')).toMatchObject({ code: 'invalid_request' });
    w.send({ type: 'shout' });
    expect(await w.nextOfType('error')).toMatchObject({ code: 'invalid_request' });
    w.send('null');
    expect(await w.nextOfType('error')).toMatchObject({ code: 'invalid_request' });
    // Over 8 KB, even a valid ping is refused.
    w.send({ type: 'ping', padding: 'x'.repeat(8 * 1024) });
    expect(await w.next((m) => m.type === 'pong' || m.type === 'error')).toMatchObject({
      type: 'error',
      code: 'payload_too_large',
    });
    // Just under the limit passes.
    const fits = JSON.stringify({ type: 'ping', padding: '' });
    w.send({ type: 'ping', padding: 'x'.repeat(8 * 1024 - fits.length) });
    expect(await w.next((m) => m.type === 'pong' || m.type === 'error')).toEqual({ type: 'pong' });
    // The socket is still open and working.
    w.send({ type: 'ping' });
    expect(await w.nextOfType('pong')).toEqual({ type: 'pong' });
    await w.close();
  });

  it('answers more than 20 messages in 10 s with rate_limited and a retry_after, per socket', async () => {
    const { org, project, task } = await setup();
    const w = await connect(org, project, org.owner.token);
    await w.nextOfType('snapshot');
    for (let i = 0; i < 20; i++) w.send({ type: 'ping' });
    await w.until((log) => log.filter((m) => m.type === 'pong').length === 20);
    w.send({ type: 'ping' });
    const limited = await w.nextOfType('error');
    expect(limited.code).toBe('rate_limited');
    expect(limited.retry_after).toBeGreaterThanOrEqual(1);
    expect(limited.retry_after).toBeLessThanOrEqual(10);
    // A move over the limit does nothing either.
    w.send({ type: 'move', task_id: task.id, status: 'done', version: 1 });
    expect(await w.nextOfType('error')).toMatchObject({ code: 'rate_limited' });
    expect(await getTask(org, task.id)).toEqual(task);
    expect(w.log.filter((m) => m.type === 'pong')).toHaveLength(20);

    // Another socket has its own allowance.
    const other = await connect(org, project, org.owner.token);
    other.send({ type: 'ping' });
    expect(await other.next((m) => m.type === 'pong' || m.type === 'error')).toEqual({ type: 'pong' });
    await w.close();
    await other.close();
  });
});

describe('the board socket: concurrency', () => {
  it('ends concurrent socket and REST moves in one order that REST reads back and every watcher can rebuild', async () => {
    const { org, project, task: first } = await setup();
    const bob = await joinAs(org, 'member');
    const anchor = await newTask(org, project, { title: 'anchor', status: 'review' });
    const tail = await newTask(org, project, { title: 'tail', status: 'review' });
    const movers: Task[] = [];
    for (let i = 0; i < 16; i++) movers.push(await newTask(org, project, { title: `m${i}` }));
    const a = await connect(org, project, org.owner.token);
    const b = await connect(org, project, bob.token);
    for (const w of [a, b]) await w.nextOfType('snapshot');

    // Sixteen moves of different tasks at once, a third from each socket and a third over REST.
    // Twelve go into the gap after `anchor`, more than its 1024 positions hold (each move halves
    // it), so the column is renumbered on the way.
    const target = (i: number) =>
      i % 8 === 7
        ? { status: 'in_progress' }
        : i % 8 === 6
          ? { status: 'review', before_id: anchor.id }
          : { status: 'review', after_id: anchor.id };
    const rest: Promise<unknown>[] = [];
    movers.forEach((task, i) => {
      const move = { task_id: task.id, version: 1, ...target(i) };
      if (i % 3 === 0) a.send({ type: 'move', ...move });
      else if (i % 3 === 1) b.send({ type: 'move', ...move });
      else
        rest.push(
          api('POST', `/v1/orgs/${org.slug}/tasks/${task.id}/move`, { token: org.owner.token, body: target(i) }),
        );
    });
    for (const res of (await Promise.all(rest)) as { status: number; body: unknown }[])
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    for (const w of [a, b]) await w.until((log) => log.filter((m) => m.type === 'task.moved').length === 16);
    for (const w of [a, b]) expect(w.log.filter((m) => m.type === 'error')).toEqual([]);

    const board = await getBoard(org, project);
    const served = idsOf(board);
    expect(served.todo).toEqual([first.id]);
    expect(served.review).toHaveLength(16);
    expect(served.in_progress).toHaveLength(2);
    expect(served.review!.indexOf(anchor.id)).toBeGreaterThan(0);
    expect(served.review!.at(-1)).toBe(tail.id);
    for (const column of board.columns) {
      const positions = column.tasks.map((t) => t.position);
      expect(new Set(positions).size).toBe(positions.length);
    }
    await expectUniquePositions(org, project);
    // Both watchers heard the same story, in the same order, and it adds up to the board.
    const moves = (w: Watcher) => w.log.filter((m) => m.type === 'task.moved');
    expect(moves(a)).toEqual(moves(b));
    for (const w of [a, b]) expect(boardFromEvents(w.log)).toEqual(served);
    await a.close();
    await b.close();
  });

  it('tells watchers the new positions when a move renumbers a column', async () => {
    const { org, project, task: first } = await setup();
    const last = await newTask(org, project, { title: 'last' });
    const watcher = await connect(org, project, org.owner.token);
    await watcher.nextOfType('snapshot');
    // Eleven squeezes into the gap after `first`: more than its 1024 positions allow.
    for (let i = 0; i < 11; i++) {
      const t = await newTask(org, project, { title: `n${i}` });
      const res = await api('POST', `/v1/orgs/${org.slug}/tasks/${t.id}/move`, {
        token: org.owner.token,
        body: { status: 'todo', after_id: first.id },
      });
      expect(res.status).toBe(200);
    }
    await watcher.until((log) => log.filter((m) => m.type === 'task.moved').length === 11);
    expect((await getTask(org, last.id)).position).not.toBe(last.position); // the column was renumbered
    expect(boardFromEvents(watcher.log)).toEqual(idsOf(await getBoard(org, project)));
    await watcher.close();
  });
});

describe('the board socket acts and listens with its access as it is now', () => {
  const boardObject = (org: TestOrg, project: string) => boards(env as unknown as Bindings).get(placeOf(org), project);
  const removeMember = (org: TestOrg, user: TestUser) =>
    api('DELETE', `/v1/orgs/${org.slug}/members/${user.id}`, { token: org.owner.token });
  const setRole = (org: TestOrg, user: TestUser, role: string) =>
    api('PATCH', `/v1/orgs/${org.slug}/members/${user.id}`, { token: org.owner.token, body: { role } });
  const keyFor = async (org: TestOrg) =>
    (
      await api('POST', `/v1/orgs/${org.slug}/api-keys`, {
        token: org.owner.token,
        body: { name: 'board', scopes: ['tasks:read', 'tasks:write'] },
      })
    ).body as { id: string; key: string };

  /** Every way access ends, each applied to an open socket of `who`'s (a member's, or an API key's). */
  const endings: [string, (org: TestOrg) => Promise<{ token: string; end: () => Promise<unknown> }>][] = [
    [
      'a member removed',
      async (org) => {
        const member = await joinAs(org, 'member');
        return { token: member.token, end: async () => expect((await removeMember(org, member)).status).toBe(204) };
      },
    ],
    [
      'a user deactivated',
      async (org) => {
        const member = await joinAs(org, 'member');
        return {
          token: member.token,
          end: () => env.CATALOG.prepare('UPDATE users SET is_active = 0 WHERE id = ?').bind(member.id).run(),
        };
      },
    ],
    [
      'an API key revoked',
      async (org) => {
        const key = await keyFor(org);
        return {
          token: key.key,
          end: async () =>
            expect(
              (await api('DELETE', `/v1/orgs/${org.slug}/api-keys/${key.id}`, { token: org.owner.token })).status,
            ).toBe(204),
        };
      },
    ],
    [
      'an API key expired',
      async (org) => {
        const key = await keyFor(org);
        return {
          token: key.key,
          end: () =>
            env.CATALOG.prepare('UPDATE api_keys SET expires_at = ? WHERE id = ?')
              .bind(new Date(Date.now() - 1000).toISOString(), key.id)
              .run(),
        };
      },
    ],
  ];

  it.each(endings)(
    '%s on an open socket: its next move is refused, nothing is written, and it is closed with 4403',
    async (_, given) => {
      const { org, project, task } = await setup();
      const { token, end } = await given(org);
      const owner = await connect(org, project, org.owner.token);
      const socket = await connect(org, project, token);
      for (const w of [owner, socket]) await w.nextOfType('snapshot');
      await end();
      socket.send({ type: 'move', task_id: task.id, status: 'done', version: 1 });
      expect(await socket.nextOfType('error')).toMatchObject({ code: 'forbidden' });
      expect(await socket.closed).toBe(CLOSE_CODES.accessEnded);
      expect(await getTask(org, task.id)).toEqual(task);
      const audited = await env.CATALOG.prepare('SELECT shard FROM organizations WHERE id = ?')
        .bind(org.id)
        .first<{ shard: number }>();
      const shard = (env as unknown as Record<string, D1Database>)[`SHARD_${audited!.shard}`]!;
      const moves = await shard
        .prepare("SELECT count(*) AS n FROM activity_logs WHERE organization_id = ? AND action = 'task.move'")
        .bind(org.id)
        .first<{ n: number }>();
      expect(moves!.n).toBe(0);
      expect(owner.log.filter((m) => m.type === 'task.moved')).toEqual([]);
      await owner.close();
    },
  );

  it('refuses a member demoted to viewer on an open socket the move (forbidden), and keeps them watching', async () => {
    const { org, project, task } = await setup();
    const member = await joinAs(org, 'member');
    const socket = await connect(org, project, member.token);
    await socket.nextOfType('snapshot');
    expect((await setRole(org, member, 'viewer')).status).toBe(200);
    socket.send({ type: 'move', task_id: task.id, status: 'done', version: 1 });
    expect(await socket.nextOfType('error')).toMatchObject({ code: 'forbidden' });
    expect(await getTask(org, task.id)).toEqual(task);
    // A viewer may still watch: the re-check keeps the socket, and the owner's change reaches it.
    await runAccessRecheck(boardObject(org, project));
    await api('POST', `/v1/orgs/${org.slug}/tasks/${task.id}/move`, {
      token: org.owner.token,
      body: { status: 'review' },
    });
    expect((await socket.nextOfType('task.moved')).task).toMatchObject({ id: task.id, status: 'review' });
    await socket.close();
  });

  it.each(endings)(
    '%s while only watching: the socket is closed with 4403 within the access window',
    async (_, given) => {
      const { org, project } = await setup();
      const { token, end } = await given(org);
      const socket = await connect(org, project, token);
      await socket.nextOfType('snapshot');
      await end();
      await runAccessRecheck(boardObject(org, project));
      expect(await socket.nextOfType('error')).toMatchObject({ code: 'forbidden' });
      expect(await socket.closed).toBe(CLOSE_CODES.accessEnded);
      await newTask(org, project, { title: 'after they left' });
      expect(socket.log.filter((m) => m.type === 'task.created')).toEqual([]);
    },
  );

  it(
    're-checks every socket of the board in one catalog query for its users and one for its API keys, and closes ' +
      'only those whose access ended',
    async () => {
      const { org, project } = await setup();
      const [demoted, removed] = [await joinAs(org, 'member'), await joinAs(org, 'member')];
      const key = await keyFor(org);
      const sockets = [
        await connect(org, project, org.owner.token),
        await connect(org, project, org.owner.token),
        await connect(org, project, demoted.token),
        await connect(org, project, removed.token),
        await connect(org, project, key.key),
      ];
      for (const w of sockets) await w.nextOfType('snapshot');
      expect((await setRole(org, demoted, 'viewer')).status).toBe(200);
      expect((await removeMember(org, removed)).status).toBe(204);

      const queried: string[] = [];
      const restore = interceptStatements(env.CATALOG, (query) => queried.push(query));
      try {
        await runAccessRecheck(boardObject(org, project));
        expect(await sockets[3]!.closed).toBe(CLOSE_CODES.accessEnded);
      } finally {
        restore();
      }
      // Three people and a key behind five sockets: one query for the users, one for the key.
      expect(queried).toHaveLength(2);
      expect(queried.filter((query) => query.includes('from "api_keys"'))).toHaveLength(1);
      for (const w of [sockets[0]!, sockets[1]!, sockets[2]!, sockets[4]!]) {
        w.send({ type: 'ping' });
        expect(await w.nextOfType('pong')).toEqual({ type: 'pong' });
      }
      // The re-check goes on while sockets are open.
      await runAccessRecheck(boardObject(org, project));
      for (const w of [sockets[0]!, sockets[1]!, sockets[2]!, sockets[4]!]) await w.close();
    },
  );

  it('keeps its sockets when a re-check cannot read the catalog, and the next re-check does the work', async () => {
    const { org, project } = await setup();
    const member = await joinAs(org, 'member');
    const socket = await connect(org, project, member.token);
    await socket.nextOfType('snapshot');
    expect((await removeMember(org, member)).status).toBe(204);
    const restore = interceptStatements(env.CATALOG, () => {
      throw new Error('forced: the catalog is unreachable');
    });
    try {
      await runAccessRecheck(boardObject(org, project));
    } finally {
      restore();
    }
    socket.send({ type: 'ping' });
    expect(await socket.nextOfType('pong')).toEqual({ type: 'pong' });
    await runAccessRecheck(boardObject(org, project));
    expect(await socket.closed).toBe(CLOSE_CODES.accessEnded);
  });

  it("closes a client user's socket once the project is no longer their customer's", async () => {
    const org = await newOrg();
    const client = await joinAs(org, 'member');
    await env.CATALOG.prepare("UPDATE users SET role = 'client' WHERE id = ?").bind(client.id).run();
    const theirs = await api('POST', `/v1/orgs/${org.slug}/customers`, {
      token: org.owner.token,
      body: { name: 'Client Co', email: client.email },
    });
    const another = await api('POST', `/v1/orgs/${org.slug}/customers`, {
      token: org.owner.token,
      body: { name: 'Another Co' },
    });
    const project = await newProject(org, { customer_id: theirs.body.id });
    const socket = await connect(org, project, client.token);
    await socket.nextOfType('snapshot');
    await runAccessRecheck(boardObject(org, project));
    socket.send({ type: 'ping' });
    expect(await socket.nextOfType('pong')).toEqual({ type: 'pong' }); // still theirs: still open
    expect(
      (
        await api('PATCH', `/v1/orgs/${org.slug}/projects/${project}`, {
          token: org.owner.token,
          body: { customer_id: another.body.id },
        })
      ).status,
    ).toBe(200);
    await runAccessRecheck(boardObject(org, project));
    expect(await socket.nextOfType('error')).toMatchObject({ code: 'forbidden' });
    expect(await socket.closed).toBe(CLOSE_CODES.accessEnded);
  });

  it("counts every message, ping included, against the caller's request rate limit, under the key its HTTP requests use", async () => {
    const { org, project, task } = await setup();
    const socket = await connect(org, project, org.owner.token);
    await socket.nextOfType('snapshot');
    const { keys, restore } = refuseRateLimitKey(`user:${org.owner.sub}`);
    try {
      socket.send({ type: 'ping' });
      expect(await socket.next((m) => m.type === 'pong' || m.type === 'error')).toMatchObject({
        type: 'error',
        code: 'rate_limited',
      });
      socket.send({ type: 'move', task_id: task.id, status: 'done', version: 1 });
      expect(await socket.nextOfType('error')).toMatchObject({ code: 'rate_limited' });
    } finally {
      restore();
    }
    expect(keys).toEqual([`user:${org.owner.sub}`, `user:${org.owner.sub}`]);
    expect(await getTask(org, task.id)).toEqual(task);
    socket.send({ type: 'ping' });
    expect(await socket.nextOfType('pong')).toEqual({ type: 'pong' });
    await socket.close();
  });

  it(
    'costs a socket move 3 D1 round trips: the access re-read, the column, one batch (its task.moved says so where ' +
      'EXPOSE_D1_ROUND_TRIPS is set)',
    async () => {
      const { org, project, task } = await setup();
      const second = await newTask(org, project, { title: 'second' });
      const socket = await connect(org, project, org.owner.token);
      await socket.nextOfType('snapshot');
      socket.send({ type: 'move', task_id: second.id, status: 'todo', before_id: task.id, version: 1 });
      expect((await socket.nextOfType('task.moved')).d1_round_trips).toBe(3);
      // A REST move's event does not carry it: its request's x-d1-round-trips does.
      await api('POST', `/v1/orgs/${org.slug}/tasks/${task.id}/move`, {
        token: org.owner.token,
        body: { status: 'done' },
      });
      expect(await socket.nextOfType('task.moved')).not.toHaveProperty('d1_round_trips');
      await socket.close();
    },
  );
});
