// Projects. Every write is one shard batch with its audit row; the database itself refuses a
// customer of another organization (composite foreign key) and a due date before the start date
// (CHECK), and those refusals are answered as 400s naming the field.
import { and, eq, getTableColumns, lt, sql, type SQL } from 'drizzle-orm';
import { projects, tasks } from '../../db/tenant';
import type { PROJECT_STATUSES } from '../../db/enums';
import { isCheckViolation, isForeignKeyViolation } from '../../db/errors';
import type { TenantContext } from '../../env';
import { actingUserId, requirePermission } from '../../auth/tenant';
import { uuidv7 } from '../../lib/ids';
import { newestFirst } from '../../lib/pagination';
import { invalid, notFound } from '../../lib/problem';
import { auditedDelete, auditedInsert, auditedUpdate } from '../activity/audit';
import { clientCustomerScope } from '../customers/service';
import { assertMember } from '../members/service';
import type { ProjectCreate, ProjectItemQuery, ProjectPatch, ProjectQuery } from './schemas';

export type Project = typeof projects.$inferSelect;
export type ProjectStatus = (typeof PROJECT_STATUSES)[number];

const described = (action: 'create' | 'update' | 'delete') => ({
  action: `project.${action}` as const,
  resource_type: 'project',
});

/**
 * What a global `client` user may see: the projects of the customer whose email is theirs (none
 * when no customer has it). Undefined for everyone else. A condition on `projects`, for any query
 * that has the projects table in scope (tasks: `project_id IN (SELECT id FROM projects WHERE …)`).
 */
export function clientProjectScope(ctx: TenantContext): SQL | undefined {
  return clientCustomerScope(ctx, projects.customer_id);
}

/**
 * round(100 × done / (all − cancelled)) over the project's tasks, 0 when none count: a correlated
 * subquery, so the list and the single read stay one query. Nested in an outer sql`…` on purpose:
 * in a single-table select drizzle strips the table names off columns at a field's top level,
 * which would turn `tasks.project_id = projects.id` into `project_id = id` (tasks' own id).
 */
const progressSubquery = sql`(
  SELECT CAST(round(100.0 * sum(${tasks.status} = 'done') / count(*)) AS INTEGER)
  FROM ${tasks}
  WHERE ${tasks.organization_id} = ${projects.organization_id} AND ${tasks.project_id} = ${projects.id} AND ${tasks.status} <> 'cancelled'
)`;
const derivedProgress = sql<number>`coalesce(${progressSubquery}, 0)`.mapWith(Number);

const columns = getTableColumns(projects);
const fieldsFor = ({ derive }: ProjectItemQuery) => ({
  ...columns,
  progress_percentage: derive === 'progress' ? derivedProgress : projects.progress_percentage,
});

/**
 * `completion_date` follows the status inside the UPDATE itself (no read first): set to today
 * (UTC) when the status becomes completed, kept while it stays completed, cleared when it leaves.
 */
const completionDateFor = (status: ProjectStatus) =>
  sql`CASE WHEN ${status} <> 'completed' THEN NULL WHEN ${projects.status} = 'completed' THEN
    ${projects.completion_date} ELSE strftime('%Y-%m-%d', 'now') END`;

/** The database's refusals, as the 400s the API promises. */
function refusal(error: unknown): unknown {
  if (isForeignKeyViolation(error)) return invalid('customer_id', 'Not a customer of this organization.');
  if (isCheckViolation(error, 'projects_dates_check')) return invalid('due_date', 'Must be on or after start_date.');
  return error;
}

export async function listProjects({ ctx, input }: { ctx: TenantContext; input: ProjectQuery }) {
  requirePermission(ctx, 'projects:read');
  return newestFirst(projects.id, input, (after) =>
    ctx.store.selectFields(
      projects,
      fieldsFor(input),
      and(
        clientProjectScope(ctx),
        input.status ? eq(projects.status, input.status) : undefined,
        input.priority ? eq(projects.priority, input.priority) : undefined,
        input.customer_id ? eq(projects.customer_id, input.customer_id) : undefined,
        input.project_manager_id ? eq(projects.project_manager_id, input.project_manager_id) : undefined,
        input.due_before ? lt(projects.due_date, input.due_before) : undefined,
        after,
      ),
    ),
  );
}

export async function getProject({ ctx, id, input }: { ctx: TenantContext; id: string; input: ProjectItemQuery }) {
  requirePermission(ctx, 'projects:read');
  const row = await ctx.store
    .selectFields(projects, fieldsFor(input), and(eq(projects.id, id), clientProjectScope(ctx)))
    .get();
  if (!row) throw notFound('project');
  return row;
}

export async function createProject({ ctx, input }: { ctx: TenantContext; input: ProjectCreate }) {
  requirePermission(ctx, 'projects:write');
  await assertMember(ctx, 'project_manager_id', input.project_manager_id);
  const now = new Date().toISOString();
  const completion_date = input.status === 'completed' ? now.slice(0, 10) : null;
  try {
    return await auditedInsert(
      ctx,
      projects,
      {
        ...input,
        id: uuidv7(),
        completion_date,
        created_by: actingUserId(ctx.actor),
        created_at: now,
        updated_at: now,
      },
      described('create'),
    );
  } catch (error) {
    throw refusal(error);
  }
}

export async function updateProject({ ctx, id, input }: { ctx: TenantContext; id: string; input: ProjectPatch }) {
  requirePermission(ctx, 'projects:write');
  await assertMember(ctx, 'project_manager_id', input.project_manager_id);
  const options = input.status === undefined ? {} : { set: { completion_date: completionDateFor(input.status) } };
  try {
    return (await auditedUpdate(ctx, projects, id, input, described('update'), options)).row;
  } catch (error) {
    throw refusal(error);
  }
}

export async function deleteProject({ ctx, id }: { ctx: TenantContext; id: string }) {
  requirePermission(ctx, 'projects:delete');
  // Its tasks go with it (ON DELETE CASCADE), inside the same statement.
  await auditedDelete(ctx, projects, id, described('delete'));
}
