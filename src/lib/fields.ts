// Field schemas shared by every module, so a tag or an email means the same everywhere.
import { z } from '@hono/zod-openapi';

const Tag = z.string().trim().toLowerCase().min(1).max(64);
/** A row holds at most this many tags (so a filter naming more could match nothing). */
const MAX_TAGS = 50;

/** Trimmed, lower-cased, de-duplicated; at most 50 tags of at most 64 characters. */
export const Tags = z
  .array(Tag)
  .max(MAX_TAGS)
  .transform((tags) => [...new Set(tags)])
  .openapi({ description: 'Trimmed, lower-cased and de-duplicated; ≤ 50 tags of ≤ 64 characters', example: ['vip', 'retail'] });

export const Email = z.string().trim().toLowerCase().pipe(z.email()).openapi({ example: 'ada@example.com' });

/** A JSON object of at most `kb` kilobytes once serialised. */
export const JsonObject = (kb: number) =>
  z.record(z.string(), z.unknown()).refine((value) => JSON.stringify(value).length <= kb * 1024, `At most ${kb} KB of JSON.`);

export const Id = z.string().uuid();

/**
 * A query parameter that may repeat (`?tag=a&tag=b`), always handed on as an array, and at most
 * `max` times: 400 beyond (each value becomes a bound parameter, and D1 binds at most 100 a
 * statement).
 */
export const Repeatable = <T extends z.ZodTypeAny>(item: T, max: number) =>
  z.preprocess(
    (value) => (value === undefined || Array.isArray(value) ? value : [value]),
    z.array(item).max(max, `At most ${max} values.`).optional(),
  );

/** `?tag=` on a list: repeatable, every tag must match. */
export const TagFilter = Repeatable(Tag, MAX_TAGS).openapi({ description: `Repeatable (at most ${MAX_TAGS}): every tag must match` });

/** A calendar date, `YYYY-MM-DD` (a real one: no February 30th). */
export const IsoDate = z.iso.date().openapi({ example: '2026-11-25' });

/**
 * A time range's end in a query: an instant with `Z` or an offset, or a date (its midnight UTC),
 * handed on as UTC ISO text.
 */
export const QueryInstant = z
  .union([z.iso.datetime({ offset: true }), IsoDate])
  .transform((value) => new Date(value.length === 10 ? `${value}T00:00:00Z` : value).toISOString())
  .openapi({ description: 'ISO 8601 instant with `Z` or an offset, or a date (midnight UTC)', example: '2026-11-25' });

/** A search string (`?q=`); an empty one searches nothing, as if absent. */
export const SearchText = z
  .string()
  .trim()
  .max(200)
  .transform((value) => value || undefined)
  .optional();

/**
 * Money and hours: a JSON number ≥ 0 with at most 2 decimals, up to `max`, stored as INTEGER
 * hundredths. Float noise is tolerated and removed (0.1 + 0.2 → 0.3); a third decimal is refused.
 */
export const Hundredths = (max: number) =>
  z
    .number()
    .min(0)
    .max(max)
    .refine((value) => Math.abs(Math.round(value * 100) - value * 100) <= 1e-9, 'At most 2 decimals.')
    .transform((value) => Math.round(value * 100) / 100)
    .openapi({ description: `≥ 0, at most 2 decimals, ≤ ${max}`, example: 12345.67 });

