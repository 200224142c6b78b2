import { z } from '@hono/zod-openapi';
import { Id } from '../../lib/fields';
import { defineRoute, json, jsonBody, noContent, OrgParam, type TenantApp } from '../../lib/openapi';
import { pageOf } from '../../lib/pagination';
import { createProject, deleteProject, getProject, listProjects, updateProject } from './service';
import { ProjectCreate, ProjectItemQuery, ProjectPatch, ProjectQuery, ProjectSchema } from './schemas';

const params = z.object({ org: OrgParam });
const itemParams = z.object({ org: OrgParam, id: Id });
const tags = ['Projects'];
const DERIVE_NOTE =
  'With `?derive=progress`, `progress_percentage` is derived from the tasks (done ÷ all but cancelled, rounded), not the stored value.';
const CLIENT_NOTE = 'A client user sees only the projects of the customer whose email is theirs.';

export function registerProjectRoutes(app: TenantApp) {
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
      request: { params: itemParams, query: ProjectItemQuery },
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
