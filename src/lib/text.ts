// Text rules shared by modules: URL slugs and full-text search.
import { sql } from 'drizzle-orm';
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core';

/**
 * "Acme Café & Co." → "acme-cafe-co": accents transliterated, other characters dropped, words
 * joined by `separator` ('_' makes a snake_case identifier: an AI tool's function name).
 */
export function slugify(text: string, maxLength: number, separator: '-' | '_' = '-'): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, separator)
    .replace(new RegExp(`^${separator}+|${separator}+$`, 'g'), '')
    .slice(0, maxLength)
    .replace(new RegExp(`${separator}+$`), '');
}

// What FTS5's unicode61 tokenizer keeps in a token (letters, digits, marks); anything else separates words.
const WORD = /[\p{L}\p{N}\p{M}\p{Co}]+/gu;

/** `q` holds something to search for: punctuation, symbols and emoji alone are no token. */
export const hasSearchWord = (q: string) => q.search(WORD) >= 0;

/**
 * Rows of `table` whose full-text index `index` (an FTS5 table over it, sharing its rowid, with
 * an UNINDEXED organization_id) holds every word of `q` as a token or a token's prefix:
 * "ad lov" finds "Ada Lovelace"; "ace" does not (tokens, not substrings). Each word is quoted,
 * so nothing typed is FTS5 syntax (NEAR, AND, *, ^, :, parentheses are text); no word matches nothing.
 */
export function matchesWords(
  table: SQLiteTable & { id: SQLiteColumn },
  index: string,
  q: string,
  organizationId: string,
) {
  const words = q.match(WORD);
  if (!words) return sql`0`;
  const fts = sql.identifier(index);
  const query = words.map((word) => `"${word}"*`).join(' ');
  // An id IN (the matches) walks (organization_id, id) in order: a page costs the matches, not the table.
  return sql`${table.id} IN (SELECT ${table.id} FROM ${fts} JOIN ${table} ON ${table}.rowid = ${fts}.rowid
    WHERE ${fts} MATCH ${query} AND ${fts}.organization_id = ${organizationId})`;
}
