// Tasks and the kanban board. Reads run where they are asked; a write that orders a project's
// tasks (create, a new column, a move) runs inside that project's KANBAN_BOARD Durable Object
// (src/realtime/kanban-board.ts), one at a time, so positions are computed against a board nobody
// else is changing; every change reaches the board's watchers. The actions below decide that,
// whoever asks (REST, a board socket, the assistant); the board object runs the insert*/apply* writes.
import { and, asc, eq, sql, type SQL } from 'drizzle-orm';
import { alias } from 'drizzle-orm/sqlite-core';
import { TASK_STATUSES, type TaskStatus } from '../../db/enums';
import { isCheckViolation, isForeignKeyViolation } from '../../db/errors';
import { projects, tasks } from '../../db/tenant';
import type { Bindings, TenantContext } from '../../env';
import { actingUserId, requirePermission } from '../../auth/tenant';
import { hasAllTags } from '../../db/columns';
import { matchesWords } from '../../lib/text';
import { uuidv7 } from '../../lib/ids';
import { newestFirst } from '../../lib/pagination';
import { ApiError, conflict, invalid, notFound } from '../../lib/problem';
import { auditedDelete, auditedInsert, auditedUpdate, auditFromRow } from '../activity/audit';
import { assertMember } from '../members/service';
import { clientProjectScope } from '../projects/service';
import { actorSummary, boards } from '../../realtime/kanban-client';
import type { TaskFilters, TaskCreate, TaskMove, TaskPatch } from './schemas';

export type Task = typeof tasks.$inferSelect;

/** Positions are integers with gaps: a move between neighbours takes the midpoint. */
export const POSITION_GAP = 1024;

const described = (action: string) => ({ action: `task.${action}` as `task.${string}`, resource_type: 'task' });

/** Global `client` users see only the tasks of their own customer's projects. */
function clientTaskScope(ctx: TenantContext): SQL | undefined {
  const scope = clientProjectScope(ctx);
  return scope && sql`${tasks.project_id} IN ${ctx.store.subquery(projects, projects.id, scope)}`;
}

/** `assigned_to=me` means the acting user (an API key's creator). */
export function assignee(ctx: TenantContext, value: string | undefined): string | undefined {
  if (value !== 'me') return value;
  const me = actingUserId(ctx.actor);
  if (!me) throw invalid('assigned_to', "'me' needs a user or a user's API key.");
  return me;
}

/** Lists tasks newest first: of one project, or across projects (the "my tasks" dashboard). */
export async function listTasks({ ctx, input }: { ctx: TenantContext; input: TaskFilters }) {
  requirePermission(ctx, 'tasks:read');
  const assignedTo = assignee(ctx, input.assigned_to);
  return newestFirst(tasks.id, input, (after) =>
    ctx.store.select(
      tasks,
      and(
        input.project_id ? eq(tasks.project_id, input.project_id) : undefined,
        // (status, assigned_to) is the seed's index for exactly this dashboard query.
        input.status ? eq(tasks.status, input.status) : undefined,
        assignedTo ? eq(tasks.assigned_to, assignedTo) : undefined,
        input.parent_task_id ? eq(tasks.parent_task_id, input.parent_task_id) : undefined,
        ...hasAllTags(tasks.tags, input.tag),
        input.q ? matchesWords(tasks, 'tasks_fts', input.q, ctx.organization.id) : undefined,
        clientTaskScope(ctx),
        after,
      ),
    ),
  );
}

/**
 * A project's tasks: a page of `listTasks`, and 404 for a project this caller cannot see (asked
 * only when the first page is empty, as the board does, so a list stays one query).
 */
export async function listProjectTasks({
  ctx,
  projectId,
  input,
}: {
  ctx: TenantContext;
  projectId: string;
  input: TaskFilters;
}) {
  const page = await listTasks({ ctx, input: { ...input, project_id: projectId } });
  if (page.data.length === 0 && input.cursor === undefined) await assertProjectVisible(ctx, projectId);
  return page;
}

export async function getTask({ ctx, id }: { ctx: TenantContext; id: string }): Promise<Task> {
  requirePermission(ctx, 'tasks:read');
  const task = await ctx.store.select(tasks, and(eq(tasks.id, id), clientTaskScope(ctx))).get();
  if (!task) throw notFound('task');
  return task;
}

export async function assertProjectVisible(ctx: TenantContext, projectId: string) {
  const project = await ctx.store.select(projects, and(eq(projects.id, projectId), clientProjectScope(ctx))).get();
  if (!project) throw notFound('project');
}

/** Every column with its tasks by position: one query (a second only to tell an empty board from a missing project). */
export async function getBoard({ ctx, projectId }: { ctx: TenantContext; projectId: string }) {
  requirePermission(ctx, 'tasks:read');
  const rows = await ctx.store
    .select(tasks, and(eq(tasks.project_id, projectId), clientTaskScope(ctx)))
    .orderBy(asc(tasks.position), asc(tasks.id));
  if (rows.length === 0) await assertProjectVisible(ctx, projectId);
  return { columns: TASK_STATUSES.map((status) => ({ status, tasks: rows.filter((t) => t.status === status) })) };
}

/** The tasks of a column, under another name than the tasks a statement writes. */
const column = alias(tasks, 'c');
/**
 * The position after the last task of a column, computed by the statement that writes it.
 * `project` is a project id, or (in an UPDATE) the updated row's own project_id.
 */
const endOf = (ctx: TenantContext, project: string | SQL, status: TaskStatus) =>
  ctx.store.subquery(
    column,
    sql`coalesce(max(${column.position}), 0) + ${POSITION_GAP}`,
    and(eq(column.project_id, project), eq(column.status, status)),
  );

/** In an UPDATE of tasks, the row being updated's own column (the subquery's alias shadows the bare name). */
const ownProjectId = sql.raw('"tasks"."project_id"');

/** A foreign-key refusal names the project (from the path) or the parent (from the body). */
async function referenceError(
  ctx: TenantContext,
  projectId: string,
  parentTaskId: string | null | undefined,
): Promise<ApiError> {
  await assertProjectVisible(ctx, projectId);
  return invalid('parent_task_id', parentTaskId ? 'Not a task of this project.' : 'Unknown reference.');
}

/** Creates a task at the end of its column, through the project's board. */
export async function createTask({
  ctx,
  env,
  projectId,
  input,
}: {
  ctx: TenantContext;
  env: Bindings;
  projectId: string;
  input: TaskCreate;
}): Promise<Task> {
  requirePermission(ctx, 'tasks:write');
  return boards(env).write(ctx, projectId, (board, context) => board.createTask(context, projectId, input));
}

/** Changes a task: through its board when its column changes (an ordering change), else here, announced to the board. */
export async function updateTask({
  ctx,
  env,
  id,
  input,
}: {
  ctx: TenantContext;
  env: Bindings;
  id: string;
  input: TaskPatch;
}): Promise<Task> {
  requirePermission(ctx, 'tasks:write');
  if (input.status !== undefined) {
    const { project_id } = await getTask({ ctx, id });
    return boards(env).write(ctx, project_id, (board, context) => board.updateTask(context, id, input));
  }
  const task = await applyTaskUpdate({ ctx, id, input });
  boards(env).announce(ctx.organization, task.project_id, {
    type: 'task.updated',
    task,
    actor: actorSummary(ctx),
  });
  return task;
}

/** Moves a task, through its board (a board socket's move is already there: it calls the board's moveTask). */
export async function moveTask({
  ctx,
  env,
  id,
  input,
}: {
  ctx: TenantContext;
  env: Bindings;
  id: string;
  input: TaskMove;
}): Promise<Task> {
  requirePermission(ctx, 'tasks:write');
  const { project_id } = await getTask({ ctx, id });
  return boards(env).write(ctx, project_id, (board, context) => board.moveTask(context, project_id, id, input));
}

/** Deletes a task and its subtasks, announced to the board. */
export async function deleteTask({ ctx, env, id }: { ctx: TenantContext; env: Bindings; id: string }): Promise<void> {
  requirePermission(ctx, 'tasks:delete');
  const { task, deletedIds } = await applyTaskDelete({ ctx, id });
  boards(env).announce(ctx.organization, task.project_id, {
    type: 'task.deleted',
    task: { ...task, deleted_ids: deletedIds },
    actor: actorSummary(ctx),
  });
}

/** In the board object: the insert (at the end of its column). */
export async function insertTask({
  ctx,
  projectId,
  input,
}: {
  ctx: TenantContext;
  projectId: string;
  input: TaskCreate;
}): Promise<Task> {
  requirePermission(ctx, 'tasks:write');
  await assertMember(ctx, 'assigned_to', input.assigned_to);
  const status = input.status ?? 'todo';
  const now = new Date().toISOString();
  try {
    return await auditedInsert(
      ctx,
      tasks,
      {
        ...input,
        id: uuidv7(),
        project_id: projectId,
        status,
        position: endOf(ctx, projectId, status),
        version: 1,
        completed_at: status === 'done' ? now : null,
        created_by: actingUserId(ctx.actor),
        created_at: now,
        updated_at: now,
      },
      described('create'),
    );
  } catch (error) {
    // The composite foreign keys refuse another organization's project or another project's parent.
    if (isForeignKeyViolation(error)) throw await referenceError(ctx, projectId, input.parent_task_id);
    throw error;
  }
}

/** `tasks.id` is the task or one of the tasks below it, however deep. */
const subtreeOf = (ctx: TenantContext, id: string) => sql`${tasks.id} IN (
  WITH RECURSIVE below(id) AS (
    SELECT ${id} UNION SELECT t.id FROM ${tasks} t JOIN below ON t.parent_task_id = below.id
    WHERE t.organization_id = ${ctx.organization.id})
  SELECT id FROM below)`;

/** The task and every task below it: a new parent among them would make a cycle. */
async function subtree(ctx: TenantContext, id: string): Promise<string[]> {
  return (await ctx.store.select(tasks, subtreeOf(ctx, id))).map((row) => row.id);
}

/** The update itself: in the board object when the column changes. */
export async function applyTaskUpdate({
  ctx,
  id,
  input,
}: {
  ctx: TenantContext;
  id: string;
  input: TaskPatch;
}): Promise<Task> {
  requirePermission(ctx, 'tasks:write');
  await assertMember(ctx, 'assigned_to', input.assigned_to);
  const { version, ...patch } = input;
  if (patch.parent_task_id && (await subtree(ctx, id)).includes(patch.parent_task_id)) {
    throw invalid('parent_task_id', 'A task cannot be its own ancestor.');
  }
  const set: Record<string, SQL> = { version: sql`${tasks.version} + 1` };
  if (patch.status) {
    // A new column: the end of it. The SET expressions see the row as it was before this update.
    set.position = sql`CASE WHEN ${tasks.status} IS ${patch.status} THEN ${tasks.position} ELSE
      ${endOf(ctx, ownProjectId, patch.status)} END`;
    set.completed_at =
      patch.status === 'done' ? sql`coalesce(${tasks.completed_at}, ${new Date().toISOString()})` : sql`NULL`;
  }
  let result;
  try {
    result = await auditedUpdate(ctx, tasks, id, patch, described('update'), {
      guard: version === undefined ? undefined : eq(tasks.version, version),
      set,
    });
  } catch (error) {
    if (isForeignKeyViolation(error)) throw invalid('parent_task_id', 'Not a task of this project.');
    throw error;
  }
  if (!result.changed && version !== undefined && result.row.version !== version) throw staleVersion(result.row);
  return result.row;
}

export const staleVersion = (task: Task) =>
  conflict(`Stale version: the task is at version ${task.version} now. Reload it and try again.`);

/**
 * Where `move` puts the task: just before `before_id`, just after `after_id`, between the two when
 * both are given (a drag-and-drop client names both neighbours), or at the end of the column.
 * Both must be in the target column and adjacent there, `after_id` directly followed by
 * `before_id`: anything else means the client's view of the column is not the board's.
 */
function placement(column: Pick<Task, 'id' | 'position'>[], move: TaskMove) {
  const indexOf = (field: 'before_id' | 'after_id', id: string) => {
    const index = column.findIndex((t) => t.id === id);
    if (index < 0) throw invalid(field, `Not a task in the '${move.status}' column of this project.`);
    return index;
  };
  const before = move.before_id === undefined ? undefined : indexOf('before_id', move.before_id);
  const after = move.after_id === undefined ? undefined : indexOf('after_id', move.after_id);
  if (before !== undefined && after !== undefined && before !== after + 1) {
    throw invalid(
      'before_id',
      `Not the task right after \`after_id\` in the '${move.status}' column: give two adjacent neighbours.`,
    );
  }
  const index = before ?? (after === undefined ? column.length : after + 1); // no neighbour: the end
  const previous = column[index - 1]?.position;
  const next = column[index]?.position;
  const position =
    previous === undefined && next === undefined
      ? POSITION_GAP
      : previous === undefined
        ? next! > 1
          ? Math.floor(next! / 2)
          : undefined
        : next === undefined
          ? previous + POSITION_GAP
          : next - previous > 1
            ? previous + Math.floor((next - previous) / 2)
            : undefined; // no integer left between the neighbours
  return { index, position };
}

/**
 * Moves a task into a column, before or after a neighbour (or between two), or at the end. Runs
 * inside the project's board object, one move at a time: 1 read of the column, then 1 batch that
 * writes the task, its audit row and, when the gap between the neighbours has closed, the whole
 * column renumbered.
 */
export async function applyTaskMove({
  ctx,
  projectId,
  id,
  input,
}: {
  ctx: TenantContext;
  projectId: string;
  id: string;
  input: TaskMove;
}) {
  requirePermission(ctx, 'tasks:write');
  const rows = await ctx.store
    .select(
      tasks,
      and(eq(tasks.project_id, projectId), sql`(${tasks.status} = ${input.status} OR ${tasks.id} = ${id})`),
    )
    .orderBy(asc(tasks.position), asc(tasks.id));
  const task = rows.find((t) => t.id === id);
  if (!task) throw notFound('task');
  if (input.version !== undefined && input.version !== task.version) throw staleVersion(task);
  if (input.before_id === id || input.after_id === id)
    throw invalid(input.before_id === id ? 'before_id' : 'after_id', 'A task cannot be its own neighbour.');
  const column = rows.filter((t) => t.status === input.status && t.id !== id);
  const { index, position } = placement(column, input);

  const now = new Date().toISOString();
  const completedAt = input.status === 'done' ? (task.completed_at ?? now) : null;
  const renumbered =
    position === undefined
      ? [...column.slice(0, index), task, ...column.slice(index)].map((t, i) => ({
          id: t.id,
          position: (i + 1) * POSITION_GAP,
        }))
      : [];
  const newPosition = position ?? renumbered[index]!.position;
  const moved = {
    ...task,
    status: input.status,
    position: newPosition,
    version: task.version + 1,
    completed_at: completedAt,
    updated_at: now,
  };

  // The version guard is inside the SET, not the WHERE: edits that move nothing (a PATCH without
  // a status) do not go through the board object, so one can land between the read above and this
  // batch. A WHERE guard would skip only the task's own UPDATE and still commit the audit row and
  // the renumbering, whose positions then collide with the task's old one. Version 0 instead
  // fails tasks_version_check, and D1 rolls the whole batch back.
  const versionIfUnchanged = sql`CASE WHEN ${tasks.version} = ${task.version} THEN ${moved.version} ELSE 0 END`;
  const changedMeanwhile = () => conflict('The task changed while it was being moved. Reload it and try again.');
  let updated: Task[];
  try {
    [, updated] = await ctx.store.batch([
      // Read from the row by the batch itself: a task deleted since the read above gets no row.
      auditFromRow(
        ctx,
        tasks,
        described('move'),
        ['status', 'position', 'version'],
        {
          status: moved.status,
          position: moved.position,
          version: moved.version,
        },
        eq(tasks.id, id),
      ),
      ctx.store
        .update(
          tasks,
          {
            status: moved.status,
            position: moved.position,
            version: versionIfUnchanged,
            completed_at: completedAt,
            updated_at: now,
          },
          eq(tasks.id, id),
        )
        .returning(),
      ...renumbered
        .filter((r) => r.id !== id)
        .map((r) => ctx.store.update(tasks, { position: r.position }, eq(tasks.id, r.id))),
    ]);
  } catch (error) {
    if (isCheckViolation(error, 'tasks_version_check')) throw changedMeanwhile();
    throw error;
  }
  if (updated.length === 0) throw changedMeanwhile(); // deleted meanwhile
  // The column's new positions go to the board's watchers: without them a client that orders by
  // the positions it was sent would misplace the moved task among neighbours it still has at
  // their old positions.
  return { task: updated[0]!, renumbered };
}

/**
 * Deletes a task and, through the foreign key, its subtasks: one batch that also reads every task
 * that went (the deleted task as it was, for the board's watchers) and writes an audit row for
 * each of them.
 */
async function applyTaskDelete({
  ctx,
  id,
}: {
  ctx: TenantContext;
  id: string;
}): Promise<{ task: Task; deletedIds: string[] }> {
  requirePermission(ctx, 'tasks:delete');
  const [going] = await auditedDelete(
    ctx,
    tasks,
    id,
    described('delete'),
    [ctx.store.select(tasks, subtreeOf(ctx, id))],
    subtreeOf(ctx, id),
  );
  const rows = going as Task[];
  // Rows come back in id order, so an older subtask re-parented under a newer task would come first.
  return { task: rows.find((t) => t.id === id)!, deletedIds: rows.map((t) => t.id) };
}
