import { z } from '@hono/zod-openapi';
import { requestScope } from '../../auth/tenant';
import { sessionUser } from '../../auth/users';
import { catalogDb } from '../../db/shards';
import { defineRoute, json, jsonBody, noContent, OrgParam, type TenantApp, type UserApp } from '../../lib/openapi';
import { createOrganization, deleteOrganization, getOrganization, updateOrganization } from './service';
import { OrganizationCreate, OrganizationPatch, OrganizationSchema } from './schemas';

const params = z.object({ org: OrgParam });
const tags = ['Organizations'];

export function registerOrganizationRoutes(userApp: UserApp, app: TenantApp) {
  userApp.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/orgs',
      tags,
      summary: 'Create an organization (the caller becomes its owner)',
      request: { body: jsonBody(OrganizationCreate) },
      responses: { 201: json(OrganizationSchema, 'The organization') },
    }),
    async (c) => {
      const catalog = catalogDb(c.env, c.get('d1'));
      const user = await sessionUser(catalog, c.get('credentials'));
      return c.json(await createOrganization(requestScope(c), catalog, user, c.req.valid('json')), 201);
    },
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}',
      tags,
      summary: 'Get an organization',
      permission: 'organization:read',
      request: { params },
      responses: { 200: json(OrganizationSchema, 'The organization') },
    }),
    async (c) => c.json(await getOrganization({ ctx: c.get('tenant') }), 200),
  );

  app.openapi(
    defineRoute({
      method: 'patch',
      path: '/v1/orgs/{org}',
      beside: true,
      tags,
      summary: 'Update an organization',
      permission: 'organization:update',
      request: { params, body: jsonBody(OrganizationPatch) },
      responses: { 200: json(OrganizationSchema, 'The organization') },
    }),
    async (c) => c.json(await updateOrganization({ ctx: c.get('tenant'), input: c.req.valid('json') }), 200),
  );

  app.openapi(
    defineRoute({
      method: 'delete',
      path: '/v1/orgs/{org}',
      beside: true,
      tags,
      summary: 'Delete an organization and all its data',
      permission: 'organization:delete',
      request: { params },
      responses: { 204: noContent },
    }),
    async (c) => {
      await deleteOrganization({ ctx: c.get('tenant'), env: c.env });
      return c.body(null, 204);
    },
  );
}
