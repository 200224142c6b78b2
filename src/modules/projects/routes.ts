import { z } from '@hono/zod-openapi';
import { PRIORITIES, PROJECT_STATUSES } from '../../db/enums';
import { CreatedBy, Derived, Hundredths, Id, IsoDate, SERVER_SET, Tags } from '../../lib/fields';
import { defineRoute, json, jsonBody, noContent, OrgParam, type App } from '../../lib/openapi';
import { pageOf, pageQuery } from '../../lib/pagination';
import { createProject, deleteProject, getProject, listProjects, updateProject } from './service';

export const ProjectSchema = z
  .object({
    id: Id,
    organization_id: Id,
    customer_id: z.string().nullable(),
    name: z.string(),
    description: z.string().nullable(),
    status: z.enum(PROJECT_STATUSES),
    priority: z.enum(PRIORITIES),
    start_date: z.string().nullable().openapi({ format: 'date' }),
    due_date: z.string().nullable().openapi({ format: 'date' }),
    completion_date: z.string().nullable().openapi({
      format: 'date',
      description: 'Set (UTC date) when the status becomes `completed`, cleared when it leaves it',
    }),
    budget: z.number().nullable().openapi({ description: 'Exact to the cent' }),
    progress_percentage: z
      .number()
      .int()
      .openapi({ description: 'Stored value, or derived from tasks with `?derive=progress`' }),
    project_manager_id: z.string().nullable(),
    tags: z.array(z.string()),
    created_by: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Project');

const fields = {
  name: z.string().trim().min(1).max(200),
  description: z.string().max(10_000).nullable(),
  status: z.enum(PROJECT_STATUSES).openapi({ description: 'Default `planning`' }),
  priority: z.enum(PRIORITIES).openapi({ description: 'Default `medium`' }),
  start_date: IsoDate.nullable(),
  due_date: IsoDate.nullable().openapi({ description: 'On or after `start_date`' }),
  budget: Hundredths(1e12).nullable(),
  progress_percentage: z.number().int().min(0).max(100),
  project_manager_id: Id.nullable().openapi({ description: 'A member of the organization' }),
  customer_id: Id.nullable().openapi({ description: 'A customer of the organization' }),
  tags: Tags,
  ...SERVER_SET,
  completion_date: Derived('set to today (UTC) when `status` becomes `completed`, cleared when it leaves it.'),
  created_by: CreatedBy,
};

type Dates = { start_date?: string | null; due_date?: string | null };
const DATES_IN_ORDER = {
  path: ['due_date'],
  message: 'Must be on or after start_date.',
  // Checked even when other fields are invalid, so one answer names every problem.
  when: ({ value, issues }: { value: unknown; issues: { path?: PropertyKey[] }[] }) =>
    typeof value === 'object' &&
    value !== null &&
    !issues.some((i) => i.path?.[0] === 'start_date' || i.path?.[0] === 'due_date'),
};
/** When both dates are in the body; a PATCH of one of them is checked by the database. */
const datesInOrder = ({ start_date, due_date }: Dates) => !start_date || !due_date || due_date >= start_date;

const ProjectCreate = z
  .object(fields)
  .partial()
  .required({ name: true })
  .strict()
  .refine(datesInOrder, DATES_IN_ORDER)
  .openapi('ProjectCreate');
const ProjectPatch = z.object(fields).partial().strict().refine(datesInOrder, DATES_IN_ORDER).openapi('ProjectPatch');

const derive = z
  .enum(['progress'])
  .optional()
  .openapi({
    description:
      '`progress`: `progress_percentage` is computed from the tasks, in the same query, as round(100 × done / (all ' +
      '− cancelled)); 0 when no task counts',
  });

const ProjectQuery = z.object({
  ...pageQuery,
  status: z.enum(PROJECT_STATUSES).optional(),
  priority: z.enum(PRIORITIES).optional(),
  customer_id: Id.optional(),
  project_manager_id: Id.optional(),
  due_before: IsoDate.optional().openapi({ description: 'Projects due strictly before this date' }),
  derive,
});

const params = z.object({ org: OrgParam });
const itemParams = z.object({ org: OrgParam, id: Id });
const tags = ['Projects'];
const DERIVE_NOTE =
  'With `?derive=progress`, `progress_percentage` is derived from the tasks (done ÷ all but cancelled, rounded), not the stored value.';
const CLIENT_NOTE = 'A client user sees only the projects of the customer whose email is theirs.';

export function registerProjectRoutes(app: App) {
  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/projects',
      tags,
      summary: 'List projects, newest first',
      permission: 'projects:read',
      description: `${DERIVE_NOTE} ${CLIENT_NOTE}`,
      request: { params, query: ProjectQuery },
      responses: { 200: json(pageOf(ProjectSchema), 'A page of projects') },
    }),
    async (c) => c.json(await listProjects({ ctx: c.get('tenant'), input: c.req.valid('query') }), 200),
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/orgs/{org}/projects',
      tags,
      summary: 'Create a project',
      permission: 'projects:write',
      request: { params, body: jsonBody(ProjectCreate) },
      responses: { 201: json(ProjectSchema, 'The project') },
    }),
    async (c) => c.json(await createProject({ ctx: c.get('tenant'), input: c.req.valid('json') }), 201),
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/projects/{id}',
      tags,
      summary: 'Get a project',
      permission: 'projects:read',
      description: `${DERIVE_NOTE} ${CLIENT_NOTE}`,
      request: { params: itemParams, query: z.object({ derive }) },
      responses: { 200: json(ProjectSchema, 'The project') },
    }),
    async (c) =>
      c.json(await getProject({ ctx: c.get('tenant'), id: c.req.valid('param').id, input: c.req.valid('query') }), 200),
  );

  app.openapi(
    defineRoute({
      method: 'patch',
      path: '/v1/orgs/{org}/projects/{id}',
      tags,
      summary: 'Update a project',
      permission: 'projects:write',
      description: 'Setting `status` to `completed` sets `completion_date` to today (UTC); any other status clears it.',
      request: { params: itemParams, body: jsonBody(ProjectPatch) },
      responses: { 200: json(ProjectSchema, 'The project') },
    }),
    async (c) =>
      c.json(
        await updateProject({ ctx: c.get('tenant'), id: c.req.valid('param').id, input: c.req.valid('json') }),
        200,
      ),
  );

  app.openapi(
    defineRoute({
      method: 'delete',
      path: '/v1/orgs/{org}/projects/{id}',
      tags,
      summary: 'Delete a project and its tasks',
      permission: 'projects:delete',
      request: { params: itemParams },
      responses: { 204: noContent },
    }),
    async (c) => {
      await deleteProject({ ctx: c.get('tenant'), id: c.req.valid('param').id });
      return c.body(null, 204);
    },
  );
}
