// Text rules shared by modules: URL slugs and case-insensitive substring search.
import { or, sql, type SQL } from 'drizzle-orm';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';

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

/**
 * Any of `columns` contains `q`, case-insensitively (ASCII letters, as SQLite's lower()). instr(),
 * not LIKE: D1 refuses LIKE patterns over 50 bytes, and `q` is a literal (no wildcards to escape).
 * The one substring search of the API (customers, content).
 */
export function containsText(q: string, columns: SQLiteColumn[]): SQL {
  const needle = q.toLowerCase();
  return or(...columns.map((column) => sql`instr(lower(${column}), ${needle}) > 0`))!;
}
