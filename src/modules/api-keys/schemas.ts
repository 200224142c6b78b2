// API keys' shapes: the read shape, the one answer that holds the secret, and create.
import { z } from '@hono/zod-openapi';
import { PERMISSIONS } from '../../auth/permissions';

export const ApiKeySchema = z
  .object({
    id: z.string().uuid(),
    name: z.string(),
    prefix: z.string().openapi({ description: 'The first characters of the key, to recognise it' }),
    scopes: z.array(z.string()),
    created_by: z.string().uuid(),
    expires_at: z.string().nullable(),
    last_used_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi('ApiKey');

export const ApiKeyCreated = ApiKeySchema.extend({
  key: z.string().openapi({ description: 'The secret (`stk_…`): shown this once, never again' }),
}).openapi('ApiKeyCreated');

export const ApiKeyCreate = z
  .object({
    name: z.string().trim().min(1).max(120),
    scopes: z
      .array(z.enum(PERMISSIONS))
      .min(1)
      .max(PERMISSIONS.length)
      .openapi({ description: "A subset of the creator's permissions" }),
    expires_at: z.iso
      .datetime({ offset: true })
      .transform((value) => new Date(value).toISOString())
      .refine((value) => value > new Date().toISOString(), 'Must be in the future.')
      .optional(),
  })
  .strict()
  .openapi('ApiKeyCreate');

export type ApiKeyCreate = z.output<typeof ApiKeyCreate>;
