import { z } from '@hono/zod-openapi';
import { AI_TOOL_TYPES, TIERS } from '../../db/enums';
import { platformAdmin, sessionUser } from '../../auth/users';
import { Derived, Id } from '../../lib/fields';
import { pageOf, pageQuery } from '../../lib/pagination';
import { defineRoute, json, jsonBody, OrgParam, type AdminApp, type TenantApp, type UserApp } from '../../lib/openapi';
import { catalogDb } from '../../db/shards';
import { createAiTool, functionName, listAiTools, organizationAiTools, updateAiTool } from './service';

const AiToolSchema = z
  .object({
    id: Id,
    name: z.string(),
    function_name: z
      .string()
      .openapi({ description: 'Derived from `name` (snake_case): the function name the model calls' }),
    description: z.string().nullable(),
    tool_type: z.enum(AI_TOOL_TYPES),
    required_tier: z.enum(TIERS),
    configuration: z.record(z.string(), z.unknown()),
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
  .openapi({ description: 'A JSON Schema with `type: "object"`: the tool\'s arguments' });

/** Any JSON object within 16 KB; `parameters`, the one key the product reads, is checked when present. */
const Configuration = z
  .looseObject({ parameters: ParametersSchema.optional() })
  .refine((configuration) => JSON.stringify(configuration).length <= 16_384, 'At most 16 KB of JSON.')
  .openapi({
    description:
      "Tool-specific settings, kept as sent; `parameters` (optional) is the JSON Schema of the function's arguments offered to the model",
  });

const fields = {
  name: z
    .string()
    .trim()
    .min(1)
    .max(120)
    .refine(
      (name) => functionName(name) !== '',
      'Give a name with a Latin letter or digit: the function name the model calls is made from it.',
    ),
  function_name: Derived('function_name is derived from name (lower-case words joined by _): change the name.'),
  description: z.string().trim().min(1).max(1024).nullable(),
  tool_type: z.enum(AI_TOOL_TYPES),
  required_tier: z.enum(TIERS),
  configuration: Configuration,
  is_active: z.boolean(),
};
const AiToolCreate = z
  .object(fields)
  .partial({ description: true, required_tier: true, configuration: true, is_active: true })
  .strict()
  .openapi('AiToolCreate');
const AiToolPatch = z.object(fields).partial().strict().openapi('AiToolPatch');

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
