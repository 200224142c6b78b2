/**
 * UUID v7 (RFC 9562): 48-bit millisecond timestamp, then random bits. Time-ordered, so the
 * newest-first cursor of every list is simply `id < cursor`.
 */
export function uuidv7(now = Date.now()): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  for (let i = 0; i < 6; i++) bytes[i] = Math.floor(now / 2 ** (8 * (5 - i))) & 0xff;
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * A UUID v7 made by SQLite for each row of an INSERT … SELECT that writes several rows at once
 * (one id bound from here would repeat): this instant's timestamp and version nibble, then random
 * bits from randomblob() with the RFC 9562 variant. Raw SQL text (its only literal is hex).
 */
export function uuidv7PerRowSql(): string {
  const timeAndVersion = uuidv7().slice(0, 15); // 'tttttttt-tttt-7'
  return `'${timeAndVersion}' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + abs(random() % 4), 1)
    || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))`;
}

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
