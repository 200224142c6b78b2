import { z } from '@hono/zod-openapi';
import { platformAdmin, sessionUser } from '../../auth/users';
import { Id } from '../../lib/fields';
import { pageOf, pageQuery } from '../../lib/pagination';
import { defineRoute, json, jsonBody, OrgParam, type AdminApp, type TenantApp, type UserApp } from '../../lib/openapi';
import { catalogDb } from '../../db/shards';
import { createAiTool, listAiTools, organizationAiTools, updateAiTool } from './service';
import { AiToolCreate, AiToolPatch, AiToolSchema } from './schemas';

const tags = ['AI assistant'];

export function registerAiToolRoutes(userApp: UserApp, adminApp: AdminApp, app: TenantApp) {
  userApp.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/ai-tools',
      tags,
      summary: 'The AI tools catalog (any signed-in user), newest first',
      request: { query: z.object(pageQuery) },
      responses: { 200: json(pageOf(AiToolSchema), 'A page of tools') },
    }),
    async (c) => {
      const catalog = catalogDb(c.env, c.get('d1'));
      await sessionUser(catalog, c.get('credentials'));
      return c.json(await listAiTools(catalog, c.req.valid('query')), 200);
    },
  );

  adminApp.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/ai-tools',
      tags,
      summary: 'Add a tool to the catalog (platform admins)',
      middleware: [platformAdmin],
      request: { body: jsonBody(AiToolCreate) },
      responses: { 201: json(AiToolSchema, 'The tool') },
    }),
    async (c) => {
      const user = c.get('platformUser');
      return c.json(await createAiTool(catalogDb(c.env, c.get('d1')), user, c.req.valid('json')), 201);
    },
  );

  adminApp.openapi(
    defineRoute({
      method: 'patch',
      path: '/v1/ai-tools/{id}',
      tags,
      summary: 'Change a catalog tool (platform admins)',
      middleware: [platformAdmin],
      request: { params: z.object({ id: Id }), body: jsonBody(AiToolPatch) },
      responses: { 200: json(AiToolSchema, 'The tool') },
    }),
    async (c) => {
      const user = c.get('platformUser');
      return c.json(
        await updateAiTool(catalogDb(c.env, c.get('d1')), user, c.req.valid('param').id, c.req.valid('json')),
        200,
      );
    },
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/ai-tools',
      tags,
      permission: 'ai_tools:read',
      summary: "The catalog, each tool `available` or not for the organization's tier",
      request: { params: z.object({ org: OrgParam }), query: z.object(pageQuery) },
      responses: {
        200: json(pageOf(AiToolSchema.extend({ available: z.boolean() })), 'A page of tools, newest first'),
      },
    }),
    async (c) => c.json(await organizationAiTools({ ctx: c.get('tenant'), input: c.req.valid('query') }), 200),
  );
}
