// The one cursor-pagination helper. Ids are UUID v7 (time-ordered), so "newest first" is
// `ORDER BY id DESC` and the cursor is the last id of a page; we fetch one row more than asked
// to know whether a next page exists without a count query.
import { z } from '@hono/zod-openapi';
import { and, desc, eq, lt, or, type SQL } from 'drizzle-orm';
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

const encodeCursor = (value: string) => base64UrlEncode(new TextEncoder().encode(value));

function cursorText(cursor: string): string | undefined {
  try {
    return new TextDecoder().decode(base64Decode(cursor));
  } catch {
    return undefined;
  }
}

function decodeCursor(cursor: string): string | undefined {
  const id = cursorText(cursor);
  return id !== undefined && UUID_PATTERN.test(id) ? id : undefined;
}

/** A by-time cursor: the last row's timestamp (as stored, compared as text) and id, space-separated. */
function decodeTimeCursor(cursor: string): { at: string; id: string } | undefined {
  const [at, id, ...rest] = cursorText(cursor)?.split(' ') ?? [];
  return at && id && rest.length === 0 && !Number.isNaN(Date.parse(at)) && UUID_PATTERN.test(id)
    ? { at, id }
    : undefined;
}

/** The WHERE fragment that starts a page after `cursor` (undefined for the first page). */
function afterCursor(idColumn: SQLiteColumn, cursor: string | undefined): SQL | undefined {
  const id = cursor === undefined ? undefined : decodeCursor(cursor);
  return id === undefined ? undefined : lt(idColumn, id);
}

/** Turns `limit + 1` fetched rows into a page; `cursorOf` says what the last row's cursor holds. */
export function toPage<T extends { id: string }>(
  rows: T[],
  limit: number,
  cursorOf: (row: T) => string = (row) => row.id,
) {
  const data = rows.slice(0, limit);
  const last = data.at(-1);
  return { data, next_cursor: rows.length > limit && last ? encodeCursor(cursorOf(last)) : null };
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
  return query(afterCursor(idColumn, page.cursor))
    .orderBy(desc(idColumn))
    .limit(page.limit + 1);
}

/** Every list endpoint's page, in one query. */
export async function newestFirst<R extends { id: string }>(
  idColumn: SQLiteColumn,
  page: { limit: number; cursor?: string },
  query: (afterCursor: SQL | undefined) => ListQuery<PromiseLike<R[]>>,
) {
  return toPage(await newestFirstQuery(idColumn, page, query), page.limit);
}

/**
 * Lists newest first by a timestamp other than the id's (content by `published_at`): ordered by
 * that column, then id, and a cursor holding both, since many rows can share a timestamp.
 */
export const timePageQuery = {
  limit: pageQuery.limit,
  cursor: z
    .string()
    .refine((value) => decodeTimeCursor(value) !== undefined, 'Not a cursor returned by this API.')
    .optional()
    .openapi({ description: 'The `next_cursor` of the previous page.' }),
};

type TimeListQuery<Q> = { orderBy(...columns: SQL[]): { limit(count: number): Q } };

/** `newestFirstQuery` by `timeColumn` (never NULL in the rows asked for), then `idColumn`. */
export function newestFirstByTimeQuery<Q>(
  timeColumn: SQLiteColumn,
  idColumn: SQLiteColumn,
  page: { limit: number; cursor?: string },
  query: (afterCursor: SQL | undefined) => TimeListQuery<Q>,
): Q {
  const last = page.cursor === undefined ? undefined : decodeTimeCursor(page.cursor);
  const after = last && or(lt(timeColumn, last.at), and(eq(timeColumn, last.at), lt(idColumn, last.id)));
  return query(after)
    .orderBy(desc(timeColumn), desc(idColumn))
    .limit(page.limit + 1);
}

/** The page of `newestFirstByTimeQuery`'s rows; `timeOf` reads the row's timestamp. */
export const toTimePage = <T extends { id: string }>(rows: T[], limit: number, timeOf: (row: T) => string) =>
  toPage(rows, limit, (row) => `${timeOf(row)} ${row.id}`);
