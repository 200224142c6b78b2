// The one cursor-pagination helper. Ids are UUID v7 (time-ordered), so "newest first" is
// `ORDER BY id DESC` and the cursor is the last id of a page; we fetch one row more than asked
// to know whether a next page exists without a count query.
import { z } from '@hono/zod-openapi';
import { desc, lt, type SQL } from 'drizzle-orm';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import { base64UrlEncode, base64Decode } from './crypto';
import { UUID_PATTERN } from './ids';

export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(100).default(25).openapi({ description: '1–100, default 25' }),
  cursor: z
    .string()
    .refine((value) => decodeCursor(value) !== undefined, 'Not a cursor returned by this API.')
    .optional()
    .openapi({ description: 'The `next_cursor` of the previous page.' }),
};

export const pageOf = <T extends z.ZodTypeAny>(item: T) =>
  z.object({ data: z.array(item), next_cursor: z.string().nullable() });

function decodeCursor(cursor: string): string | undefined {
  try {
    const id = new TextDecoder().decode(base64Decode(cursor));
    return UUID_PATTERN.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/** The WHERE fragment that starts a page after `cursor` (undefined for the first page). */
function afterCursor(idColumn: SQLiteColumn, cursor: string | undefined): SQL | undefined {
  const id = cursor === undefined ? undefined : decodeCursor(cursor);
  return id === undefined ? undefined : lt(idColumn, id);
}

/** Turns `limit + 1` fetched rows into a page. */
export function toPage<T extends { id: string }>(rows: T[], limit: number) {
  const data = rows.slice(0, limit);
  const last = data.at(-1);
  return {
    data,
    next_cursor: rows.length > limit && last ? base64UrlEncode(new TextEncoder().encode(last.id)) : null,
  };
}

type ListQuery<Q> = { orderBy(column: SQL): { limit(count: number): Q } };

/**
 * A page's query, unexecuted (to run it in a batch with others; `toPage` its rows): `query`
 * builds the filtered SELECT with the cursor's condition added to its WHERE; this orders it newest
 * first and asks for `limit + 1` rows.
 */
export function newestFirstQuery<Q>(
  idColumn: SQLiteColumn,
  page: { limit: number; cursor?: string },
  query: (afterCursor: SQL | undefined) => ListQuery<Q>,
): Q {
  return query(afterCursor(idColumn, page.cursor)).orderBy(desc(idColumn)).limit(page.limit + 1);
}

/** Every list endpoint's page, in one query. */
export async function newestFirst<R extends { id: string }>(
  idColumn: SQLiteColumn,
  page: { limit: number; cursor?: string },
  query: (afterCursor: SQL | undefined) => ListQuery<PromiseLike<R[]>>,
) {
  return toPage(await newestFirstQuery(idColumn, page, query), page.limit);
}
