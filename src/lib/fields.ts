// Field schemas shared by every module, so a tag or an email means the same everywhere.
import { z } from '@hono/zod-openapi';

/** Trimmed, lower-cased, de-duplicated; at most 50 tags of at most 64 characters. */
export const Tags = z
  .array(z.string().trim().toLowerCase().min(1).max(64))
  .max(50)
  .transform((tags) => [...new Set(tags)])
  .openapi({ description: 'Trimmed, lower-cased and de-duplicated; ≤ 50 tags of ≤ 64 characters', example: ['vip', 'retail'] });

export const Email = z.string().trim().toLowerCase().pipe(z.email()).openapi({ example: 'ada@example.com' });

/** A JSON object of at most `kb` kilobytes once serialised. */
export const JsonObject = (kb: number) =>
  z.record(z.string(), z.unknown()).refine((value) => JSON.stringify(value).length <= kb * 1024, `At most ${kb} KB of JSON.`);

export const Id = z.string().uuid();

/** A query parameter that may repeat (`?tag=a&tag=b`), always handed on as an array. */
export const Repeatable = <T extends z.ZodTypeAny>(item: T) =>
  z.preprocess((value) => (value === undefined || Array.isArray(value) ? value : [value]), z.array(item).optional());
