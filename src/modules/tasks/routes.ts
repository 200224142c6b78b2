import { z } from '@hono/zod-openapi';
import { PRIORITIES, TASK_STATUSES } from '../../db/enums';
import {
  CreatedBy,
  Derived,
  Hundredths,
  Id,
  InstantOrDate,
  SearchText,
  SERVER_SET,
  TagFilter,
  Tags,
} from '../../lib/fields';
import { defineRoute, json, jsonBody, noContent, OrgParam, type App } from '../../lib/openapi';
import { pageOf, pageQuery } from '../../lib/pagination';
import { ApiError } from '../../lib/problem';
import { announce, boardOf, onBoard } from '../../realtime/kanban-client';
import { actorSummary } from '../../realtime/kanban-board';
import { ACCESS_ENDED_CLOSE_CODE, ACCESS_RECHECK_MS, RATE_LIMIT_KEY_HEADER } from '../../realtime/socket-access';
import { rateLimitKey } from '../../middleware/rate-limit';
import { toPortable } from '../../auth/tenant';
import {
  assertProjectVisible,
  deleteTask,
  getBoard,
  getTask,
  listProjectTasks,
  listTasks,
  updateTask,
} from './service';

export const TaskSchema = z
  .object({
    id: Id,
    organization_id: Id,
    project_id: Id,
    parent_task_id: Id.nullable(),
    title: z.string(),
    description: z.string().nullable(),
    status: z.enum(TASK_STATUSES),
    priority: z.enum(PRIORITIES),
    assigned_to: z.string().nullable(),
    due_date: z.string().nullable().openapi({ format: 'date-time', example: '2026-12-04T17:00:00.000Z' }),
    estimated_hours: z.number().nullable(),
    actual_hours: z.number().nullable(),
    tags: z.array(z.string()),
    position: z.number().int().openapi({ description: 'Order inside its column (ascending)' }),
    version: z
      .number()
      .int()
      .openapi({ description: 'Incremented on every change; send it back to refuse stale writes' }),
    completed_at: z.string().nullable(),
    created_by: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Task');

const fields = {
  title: z.string().trim().min(1).max(300),
  description: z.string().max(20_000).nullable(),
  status: z.enum(TASK_STATUSES),
  priority: z.enum(PRIORITIES),
  assigned_to: Id.nullable().openapi({ description: 'A member of the organization' }),
  due_date: InstantOrDate.nullable().openapi({
    description: 'An instant with `Z` or an offset; a date alone means its midnight UTC. Answered in UTC',
  }),
  estimated_hours: Hundredths(100_000).nullable(),
  actual_hours: Hundredths(100_000).nullable(),
  tags: Tags,
  parent_task_id: Id.nullable().openapi({ description: 'A task of the same project (subtask); no cycles' }),
  ...SERVER_SET,
  project_id: Derived('the project of the path the task is created in; a task stays in its project.'),
  position: Derived(
    'set by the board: a new task goes to the end of its column, a new status to the end of that column, and POST …/tasks/{id}/move places it.',
  ),
  completed_at: Derived('set when `status` becomes `done`, cleared when it leaves it.'),
  created_by: CreatedBy,
};
const Version = z.number().int().min(1);

const TaskCreate = z
  .object({
    ...fields,
    version: Derived('1 on creation, incremented by every change; send it with a PATCH to refuse a stale write.'),
  })
  .partial()
  .required({ title: true })
  .strict()
  .openapi('TaskCreate');
const TaskPatch = z
  .object({ ...fields, version: Version.openapi({ description: 'The version you read: a stale one → 409' }) })
  .partial()
  .strict()
  .openapi('TaskPatch');
const TaskMove = z
  .object({
    status: z.enum(TASK_STATUSES),
    before_id: Id.optional().openapi({
      description: 'Place the task just before this one (a task of the target column)',
    }),
    after_id: Id.optional().openapi({
      description:
        'Place the task just after this one. With `before_id` too: between the two, which must be adjacent in the target column (`after_id` directly followed by `before_id`), else 400',
    }),
    version: Version.optional(),
  })
  .strict()
  .openapi('TaskMove');

const Board = z
  .object({ columns: z.array(z.object({ status: z.enum(TASK_STATUSES), tasks: z.array(TaskSchema) })) })
  .openapi('Board');

const TaskQuery = z.object({
  ...pageQuery,
  status: z.enum(TASK_STATUSES).optional(),
  assigned_to: z
    .union([z.literal('me'), Id])
    .optional()
    .openapi({ description: "A member's id, or `me`" }),
  tag: TagFilter,
  parent_task_id: Id.optional(),
  q: SearchText.openapi({
    description: 'Words (or word beginnings) of title or description; empty: no search',
  }),
});

const orgParams = z.object({ org: OrgParam });
const projectParams = z.object({ org: OrgParam, id: Id });
const taskParams = z.object({ org: OrgParam, id: Id });
const tags = ['Tasks'];

export function registerTaskRoutes(app: App) {
  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/projects/{id}/board',
      tags,
      permission: 'tasks:read',
      summary: 'The kanban board: every column with its tasks by position, in one query',
      request: { params: projectParams },
      responses: { 200: json(Board, 'The board') },
    }),
    async (c) => c.json(await getBoard({ ctx: c.get('tenant'), projectId: c.req.valid('param').id }), 200),
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/projects/{id}/tasks',
      tags,
      summary: "A project's tasks, newest first",
      permission: 'tasks:read',
      request: { params: projectParams, query: TaskQuery },
      responses: { 200: json(pageOf(TaskSchema), 'A page of tasks') },
    }),
    async (c) =>
      c.json(
        await listProjectTasks({
          ctx: c.get('tenant'),
          projectId: c.req.valid('param').id,
          input: c.req.valid('query'),
        }),
        200,
      ),
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/orgs/{org}/projects/{id}/tasks',
      tags,
      permission: 'tasks:write',
      summary: 'Create a task at the end of its column (default todo)',
      request: { params: projectParams, body: jsonBody(TaskCreate) },
      responses: { 201: json(TaskSchema, 'The task') },
    }),
    async (c) => {
      const projectId = c.req.valid('param').id;
      const input = c.req.valid('json');
      return c.json(await onBoard(c, projectId, (board, context) => board.createTask(context, projectId, input)), 201);
    },
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/tasks',
      tags,
      permission: 'tasks:read',
      summary: 'Tasks across projects, newest first (`assigned_to=me`: my tasks)',
      request: { params: orgParams, query: TaskQuery },
      responses: { 200: json(pageOf(TaskSchema), 'A page of tasks') },
    }),
    async (c) => c.json(await listTasks({ ctx: c.get('tenant'), input: c.req.valid('query') }), 200),
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/tasks/{id}',
      tags,
      summary: 'Get a task',
      permission: 'tasks:read',
      request: { params: taskParams },
      responses: { 200: json(TaskSchema, 'The task') },
    }),
    async (c) => c.json(await getTask({ ctx: c.get('tenant'), id: c.req.valid('param').id }), 200),
  );

  app.openapi(
    defineRoute({
      method: 'patch',
      path: '/v1/orgs/{org}/tasks/{id}',
      tags,
      permission: 'tasks:write',
      summary: 'Update a task; a new status puts it at the end of that column; a stale `version` → 409',
      request: { params: taskParams, body: jsonBody(TaskPatch) },
      responses: { 200: json(TaskSchema, 'The task') },
    }),
    async (c) => {
      const ctx = c.get('tenant');
      const id = c.req.valid('param').id;
      const input = c.req.valid('json');
      if (input.status !== undefined) {
        // A change of column is an ordering change: the project's board object makes it.
        const { project_id } = await getTask({ ctx, id });
        return c.json(await onBoard(c, project_id, (board, context) => board.updateTask(context, id, input)), 200);
      }
      const task = await updateTask({ ctx, id, input });
      announce(c, task.project_id, { type: 'task.updated', task, actor: actorSummary(toPortable(ctx)) });
      return c.json(task, 200);
    },
  );

  app.openapi(
    defineRoute({
      method: 'delete',
      path: '/v1/orgs/{org}/tasks/{id}',
      tags,
      summary: 'Delete a task and its subtasks',
      permission: 'tasks:delete',
      request: { params: taskParams },
      responses: { 204: noContent },
    }),
    async (c) => {
      const ctx = c.get('tenant');
      const id = c.req.valid('param').id;
      const { task, deletedIds } = await deleteTask({ ctx, id });
      announce(c, task.project_id, {
        type: 'task.deleted',
        task: { ...task, deleted_ids: deletedIds },
        actor: actorSummary(toPortable(ctx)),
      });
      return c.body(null, 204);
    },
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/orgs/{org}/tasks/{id}/move',
      tags,
      permission: 'tasks:write',
      summary: 'Move a task into a column: before or after a neighbour, between two adjacent ones, or at the end',
      request: { params: taskParams, body: jsonBody(TaskMove) },
      responses: { 200: json(TaskSchema, 'The task where it now is') },
    }),
    async (c) => {
      const id = c.req.valid('param').id;
      const input = c.req.valid('json');
      const { project_id } = await getTask({ ctx: c.get('tenant'), id });
      return c.json(
        await onBoard(c, project_id, (board, context) => board.moveTask(context, project_id, id, input)),
        200,
      );
    },
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/projects/{id}/board/ws',
      tags,
      permission: 'tasks:read',
      summary: 'The board live over a WebSocket (hibernatable); browsers may send the token as `?token=`',
      description:
        'server → client: `snapshot` {board}, `task.created|task.updated|task.moved|task.deleted` {task, actor}, `presence` {users}, `error` {code, detail}; ' +
        'a `task.moved` that renumbered its column (the gap between its neighbours had closed) also carries `renumbered` [{id, position}]: the new position of every task in that column; ' +
        'a `task.deleted` carries the task as it was, plus `deleted_ids`: it and every subtask deleted with it; ' +
        'client → server: `move` {task_id, status, before_id?, after_id?, version} (neighbours as in POST …/tasks/{id}/move), `ping`. ' +
        'In addition to the contract, the server answers `ping` with `pong`. Limits: 8 KB a message, 20 messages per 10 s, and every message counts against ' +
        "the caller's request rate limit (`error` `rate_limited`). The caller's access is read again for each `move`, and for every open socket at least every " +
        `${ACCESS_RECHECK_MS / 1000} s: once it has ended (or the caller may no longer see the project) the socket gets \`error\` \`forbidden\` and is closed with code ${ACCESS_ENDED_CLOSE_CODE}.`,
      request: { params: projectParams },
      responses: { 101: { description: 'Switching protocols' }, 426: { description: 'Not a WebSocket upgrade' } },
    }),
    async (c) => {
      if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
        throw new ApiError('upgrade_required', 'This endpoint speaks WebSocket: send an Upgrade: websocket request.');
      }
      const ctx = c.get('tenant');
      const projectId = c.req.valid('param').id;
      await assertProjectVisible(ctx, projectId);
      const headers = new Headers(c.req.raw.headers);
      headers.set('x-strive-context', JSON.stringify(toPortable(ctx)));
      headers.set('x-strive-project', projectId);
      headers.set(RATE_LIMIT_KEY_HEADER, await rateLimitKey(c.get('credentials')));
      return boardOf(c, projectId).fetch(new Request(c.req.url, { headers }));
    },
  );
}
