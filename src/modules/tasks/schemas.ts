// One schema per task action, used wherever the action comes from: the REST routes, the board
// socket's protocol and the assistant's tools. The services take the types inferred from them.
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
import { pageQuery } from '../../lib/pagination';

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
    'set by the board: a new task goes to the end of its column, a new status to the end of that column, and POST …/tasks/{id}/move ' +
      'places it.',
  ),
  completed_at: Derived('set when `status` becomes `done`, cleared when it leaves it.'),
  created_by: CreatedBy,
};
const Version = z.number().int().min(1);

export const TaskCreate = z
  .object({
    ...fields,
    version: Derived('1 on creation, incremented by every change; send it with a PATCH to refuse a stale write.'),
  })
  .partial()
  .required({ title: true })
  .strict()
  .openapi('TaskCreate');

export const TaskPatch = z
  .object({ ...fields, version: Version.openapi({ description: 'The version you read: a stale one → 409' }) })
  .partial()
  .strict()
  .openapi('TaskPatch');

export const TaskMove = z
  .object({
    status: z.enum(TASK_STATUSES),
    before_id: Id.optional().openapi({
      description: 'Place the task just before this one (a task of the target column)',
    }),
    after_id: Id.optional().openapi({
      description:
        'Place the task just after this one. With `before_id` too: between the two, which must be adjacent in the target column ' +
        '(`after_id` directly followed by `before_id`), else 400',
    }),
    version: Version.optional(),
  })
  .strict()
  .openapi('TaskMove');

export const TaskQuery = z.object({
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

export const Board = z
  .object({ columns: z.array(z.object({ status: z.enum(TASK_STATUSES), tasks: z.array(TaskSchema) })) })
  .openapi('Board');

/** What a board socket may send (besides `ping`): a move names its task and the version its sender saw. */
export const BoardMessage = z.discriminatedUnion('type', [
  TaskMove.extend({
    type: z.literal('move'),
    task_id: Id,
    version: Version.openapi({ description: 'The task version you saw: required over the socket' }),
  }),
]);

/** The assistant's tools: the same actions, the project named in the arguments. */
export const TaskQueryTool = z.object({
  project_id: Id,
  status: TaskQuery.shape.status,
  assigned_to_me: z.boolean().default(false),
});
export const TaskCreateTool = TaskCreate.pick({
  title: true,
  description: true,
  status: true,
  priority: true,
  due_date: true,
  estimated_hours: true,
}).extend({ project_id: Id });

/** An action's input without its read-only fields (refused when sent, so never there). */
type Writable<T> = { [K in keyof T as unknown extends T[K] ? never : K]: T[K] };

export type TaskCreate = Writable<z.infer<typeof TaskCreate>>;
export type TaskPatch = Writable<z.infer<typeof TaskPatch>>;
export type TaskMove = z.infer<typeof TaskMove>;
export type TaskFilters = z.infer<typeof TaskQuery> & { project_id?: string };
