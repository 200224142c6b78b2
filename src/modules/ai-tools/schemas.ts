// AI tool catalog shapes: the read shape, create and patch (with the function's JSON Schema arguments).
import { z } from '@hono/zod-openapi';
import { AI_TOOL_TYPES, TIERS } from '../../db/enums';
import { Derived, Id } from '../../lib/fields';
import { functionName } from './service';

export const AiToolSchema = z
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

export const AiToolCreate = z
  .object(fields)
  .partial({ description: true, required_tier: true, configuration: true, is_active: true })
  .strict()
  .openapi('AiToolCreate');

export const AiToolPatch = z.object(fields).partial().strict().openapi('AiToolPatch');

export type AiToolCreate = z.output<typeof AiToolCreate>;
export type AiToolPatch = z.output<typeof AiToolPatch>;
