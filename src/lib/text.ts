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

/** Any of `columns` contains `q`, case-insensitively (LIKE wildcards in `q` escaped). */
export function containsText(q: string, columns: SQLiteColumn[]): SQL {
  const pattern = `%${q.toLowerCase().replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
  return or(...columns.map((column) => sql`lower(${column}) LIKE ${pattern} ESCAPE '\\'`))!;
}
