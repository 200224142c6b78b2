import { ApiError, organizationMoving } from '../lib/problem';

/** True when a D1 statement failed on a UNIQUE index (optionally: one naming this column). */
export function isUniqueViolation(error: unknown, column?: string): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e.message.includes('UNIQUE constraint failed') && (!column || e.message.includes(column))) return true;
  }
  return false;
}

/** True when a D1 statement failed on a foreign key: here, a reference to a row of another organization or none. */
export function isForeignKeyViolation(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e.message.includes('FOREIGN KEY constraint failed')) return true;
  }
  return false;
}

/** True when a D1 statement failed on the CHECK constraint `name` (e.g. `projects_dates_check`). */
export function isCheckViolation(error: unknown, name: string): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e.message.includes(`CHECK constraint failed: ${name}`)) return true;
  }
  return false;
}

/** True when a D1 statement failed on a NOT NULL column (`table.column`): here, a choice that found nothing. */
export function isNotNullViolation(error: unknown, column: string): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e.message.includes(`NOT NULL constraint failed: ${column}`)) return true;
  }
  return false;
}

/** The refusal an error stands for: an ApiError itself, a move's fence as 503 `moving`; null for any other failure. */
export const asApiError = (error: unknown): ApiError | null =>
  error instanceof ApiError ? error : isFenced(error) ? organizationMoving() : null;

/** True when a D1 write was refused by a move's fence (tenant migration 0010): the organization is moving. */
export function isFenced(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e.message.includes('strive:organization moving')) return true;
  }
  return false;
}
