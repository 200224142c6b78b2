/** True when a D1 statement failed on a UNIQUE index (optionally: one naming this column). */
export function isUniqueViolation(error: unknown, column?: string): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e.message.includes('UNIQUE constraint failed') && (!column || e.message.includes(column))) return true;
  }
  return false;
}
