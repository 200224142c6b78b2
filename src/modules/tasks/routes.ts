import { z } from '@hono/zod-openapi';
import { Id } from '../../lib/fields';
import { defineRoute, json, jsonBody, noContent, OrgParam, type TenantApp } from '../../lib/openapi';
import { pageOf } from '../../lib/pagination';
import { ApiError } from '../../lib/problem';
import { boards } from '../../realtime/kanban-client';
import { SOCKET_LIMITS } from '../../realtime/kanban-board';
import { ACCESS_RECHECK_MS, CLOSE_CODES } from '../../realtime/socket-room';
import { rateLimitKey } from '../../middleware/rate-limit';
import { Board, TaskCreate, TaskQuery, TaskMove, TaskPatch, TaskSchema } from './schemas';
import {
  assertProjectVisible,
  createTask,
  deleteTask,
  getBoard,
  getTask,
  listProjectTasks,
  listTasks,
  moveTask,
  updateTask,
} from './service';

const orgParams = z.object({ org: OrgParam });
const projectParams = z.object({ org: OrgParam, id: Id });
const taskParams = z.object({ org: OrgParam, id: Id });
const tags = ['Tasks'];

export function registerTaskRoutes(app: TenantApp) {
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
    async (c) =>
      c.json(
        await createTask({
          ctx: c.get('tenant'),
          env: c.env,
          projectId: c.req.valid('param').id,
          input: c.req.valid('json'),
        }),
        201,
      ),
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
    async (c) =>
      c.json(
        await updateTask({ ctx: c.get('tenant'), env: c.env, id: c.req.valid('param').id, input: c.req.valid('json') }),
        200,
      ),
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
      await deleteTask({ ctx: c.get('tenant'), env: c.env, id: c.req.valid('param').id });
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
    async (c) =>
      c.json(
        await moveTask({ ctx: c.get('tenant'), env: c.env, id: c.req.valid('param').id, input: c.req.valid('json') }),
        200,
      ),
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/projects/{id}/board/ws',
      tags,
      permission: 'tasks:read',
      summary: 'The board live over a WebSocket (hibernatable); browsers may send the token as `?token=`',
      description:
        'server → client: `snapshot` {board}, `task.created|task.updated|task.moved|task.deleted` {task, actor}, ' +
        '`presence` {users}, `error` {code, detail}; ' +
        'a `task.moved` that renumbered its column (the gap between its neighbours had closed) also carries ' +
        '`renumbered` [{id, position}]: the new position of every task in that column; ' +
        'a `task.deleted` carries the task as it was, plus `deleted_ids`: it and every subtask deleted with it; ' +
        'client → server: `move` {task_id, status, before_id?, after_id?, version} (neighbours as in POST …/tasks/{id}/move), `ping`. ' +
        'In addition to the contract, the server answers `ping` with `pong`. ' +
        `Limits: ${SOCKET_LIMITS.maxMessageBytes / 1024} KB a message, ${SOCKET_LIMITS.burst.messages} messages per ` +
        `${SOCKET_LIMITS.burst.windowMs / 1000} s, and every message counts against ` +
        "the caller's request rate limit (`error` `rate_limited`). The caller's access is read again for each `move`, and for every " +
        'open socket at least every ' +
        `${ACCESS_RECHECK_MS / 1000} s: once it has ended (or the caller may no longer see the project) the socket gets \`error\` ` +
        `\`forbidden\` and is closed with code ${CLOSE_CODES.accessEnded}.`,
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
      return boards(c.env).connect(ctx, projectId, c.req.raw, await rateLimitKey(c.get('credentials')));
    },
  );
}
