// Assets' shapes: the read shape and an upload's file name.
import { z } from '@hono/zod-openapi';
import { Id } from '../../lib/fields';

export const AssetSchema = z
  .object({
    id: Id,
    organization_id: Id,
    file_name: z.string(),
    content_type: z.string(),
    size: z.number().int().openapi({ description: 'Bytes' }),
    etag: z.string(),
    created_by: z.string().nullable(),
    created_at: z.string(),
    url: z.string().openapi({ description: 'Public URL (no authentication)', example: '/v1/public/acme/assets/019a…' }),
  })
  .openapi('Asset');

export const FileName = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .regex(/^[^/\\\u0000-\u001f\u007f]+$/, 'No slashes or control characters.')
  .refine((name) => name !== '.' && name !== '..', 'Not a file name.')
  .openapi({ description: 'The file name (part of the R2 key and of Content-Disposition)', example: 'logo.png' });
