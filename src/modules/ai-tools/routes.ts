import { z } from '@hono/zod-openapi';
import { TIERS } from '../../db/enums';
import { requireUser } from '../../auth/users';
import { Id } from '../../lib/fields';
import { pageOf, pageQuery } from '../../lib/pagination';
import { defineRoute, json, jsonBody, OrgParam, type App } from '../../lib/openapi';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../../env';
import { catalogDb } from '../../db/shards';
import { createAiTool, listAiTools, organizationAiTools, requirePlatformAdmin, updateAiTool } from './service';

const AiToolSchema = z
  .object({
    id: Id,
    name: z.string(),
    description: z.string(),
    category: z.string(),
    required_tier: z.enum(TIERS),
    parameters: z.record(z.string(), z.unknown()),
    is_active: z.boolean(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('AiTool');

const JsonSchemaProperty = z.looseObject({
  type: z.union([z.string(), z.array(z.string())]).optional(),
  description: z.string().optional(),
  enum: z.array(z.unknown()).optional(),
});

/** A function tool's arguments: a JSON Schema object, as the model providers accept it. */
const ParametersSchema = z
  .looseObject({
    type: z.literal('object'),
    properties: z.record(z.string(), JsonSchemaProperty).default({}),
    required: z.array(z.string()).optional(),
    additionalProperties: z.boolean().optional(),
  })
  .refine((schema) => (schema.required ?? []).every((name) => name in schema.properties), {
    path: ['required'],
    message: 'Every required argument must be one of `properties`.',
  })
  .refine((schema) => JSON.stringify(schema).length <= 16_384, 'At most 16 KB of JSON.')
  .openapi({ description: 'A JSON Schema with `type: "object"`: the tool\'s arguments' });

const fields = {
  // The providers' rule for function names.
  name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'Letters, digits, _ and -, at most 64.'),
  description: z.string().trim().min(1).max(1024),
  category: z.string().trim().min(1).max(64),
  required_tier: z.enum(TIERS),
  parameters: ParametersSchema,
  is_active: z.boolean(),
};
const AiToolCreate = z.object(fields).partial({ category: true, required_tier: true, is_active: true }).strict().openapi('AiToolCreate');
const AiToolPatch = z.object(fields).partial().strict().openapi('AiToolPatch');

const tags = ['AI assistant'];

/**
 * Catalog writes are for platform staff, checked before the body is validated (as permissions
 * are), so others learn nothing about the input. The user it finds is the handler's.
 */
const platformAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const { user } = await requireUser(c);
  requirePlatformAdmin(user);
  c.set('platformUser', user);
  await next();
};

export function registerAiToolRoutes(app: App) {
  app.openapi(
    defineRoute({
      method: 'get', path: '/v1/ai-tools', tags, summary: 'The AI tools catalog (any signed-in user), newest first',
      request: { query: z.object(pageQuery) },
      responses: { 200: json(pageOf(AiToolSchema), 'A page of tools') },
    }),
    async (c) => {
      const { catalog } = await requireUser(c);
      return c.json(await listAiTools(catalog, c.req.valid('query')), 200);
    },
  );

  app.openapi(
    defineRoute({
      method: 'post', path: '/v1/ai-tools', tags, summary: 'Add a tool to the catalog (platform admins)',
      middleware: [platformAdmin],
      request: { body: jsonBody(AiToolCreate) },
      responses: { 201: json(AiToolSchema, 'The tool') },
    }),
    async (c) => {
      const user = c.get('platformUser');
      return c.json(await createAiTool(catalogDb(c.env, c.get('d1')), user, c.req.valid('json')), 201);
    },
  );

  app.openapi(
    defineRoute({
      method: 'patch', path: '/v1/ai-tools/{id}', tags, summary: 'Change a catalog tool (platform admins)',
      middleware: [platformAdmin],
      request: { params: z.object({ id: Id }), body: jsonBody(AiToolPatch) },
      responses: { 200: json(AiToolSchema, 'The tool') },
    }),
    async (c) => {
      const user = c.get('platformUser');
      return c.json(await updateAiTool(catalogDb(c.env, c.get('d1')), user, c.req.valid('param').id, c.req.valid('json')), 200);
    },
  );

  app.openapi(
    defineRoute({
      method: 'get', path: '/v1/orgs/{org}/ai-tools', tags, permission: 'ai_tools:read',
      summary: "The catalog, each tool `available` or not for the organization's tier",
      request: { params: z.object({ org: OrgParam }), query: z.object(pageQuery) },
      responses: { 200: json(pageOf(AiToolSchema.extend({ available: z.boolean() })), 'A page of tools, newest first') },
    }),
    async (c) => c.json(await organizationAiTools({ ctx: c.get('tenant'), input: c.req.valid('query') }), 200),
  );
}
