import { z } from '@hono/zod-openapi';
import { defineRoute, json, jsonBody, noContent, OrgParam, type TenantApp } from '../../lib/openapi';
import { pageOf, pageQuery } from '../../lib/pagination';
import { createApiKey, listApiKeys, revokeApiKey } from './service';
import { ApiKeyCreate, ApiKeyCreated, ApiKeySchema } from './schemas';

const params = z.object({ org: OrgParam });
const tags = ['API keys'];

export function registerApiKeyRoutes(app: TenantApp) {
  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/api-keys',
      tags,
      summary: 'List API keys (never their secrets)',
      permission: 'api_keys:read',
      request: { params, query: z.object(pageQuery) },
      responses: { 200: json(pageOf(ApiKeySchema), 'A page of keys, newest first') },
    }),
    async (c) => c.json(await listApiKeys({ ctx: c.get('tenant'), input: c.req.valid('query') }), 200),
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/orgs/{org}/api-keys',
      beside: true,
      tags,
      summary: 'Create an API key; its secret is in this answer only',
      permission: 'api_keys:manage',
      issuesSecret: true,
      request: { params, body: jsonBody(ApiKeyCreate) },
      responses: { 201: json(ApiKeyCreated, 'The key, with its secret') },
    }),
    async (c) => c.json(await createApiKey({ ctx: c.get('tenant'), input: c.req.valid('json') }), 201),
  );

  app.openapi(
    defineRoute({
      method: 'delete',
      path: '/v1/orgs/{org}/api-keys/{id}',
      beside: true,
      tags,
      summary: 'Revoke an API key',
      permission: 'api_keys:manage',
      request: { params: z.object({ org: OrgParam, id: z.string().uuid() }) },
      responses: { 204: noContent },
    }),
    async (c) => {
      await revokeApiKey({ ctx: c.get('tenant'), id: c.req.valid('param').id });
      return c.body(null, 204);
    },
  );
}
