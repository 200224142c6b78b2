// Platform administration: users' global roles. A change and its row in the platform's own audit
// log (platform_activity_logs: it belongs to no organization, so to no shard) are one catalog batch.
import { and, eq, ne, sql, type SQL } from 'drizzle-orm';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import { platform_activity_logs, users } from '../../db/catalog';
import type { UserRole } from '../../db/enums';
import type { CatalogDb } from '../../db/shards';
import type { RequestInfo, SessionUser } from '../../env';
import { forgetAccess } from '../../auth/access-cache';
import type { D1Sessions } from '../../db/sessions';
import { requirePlatformAdmin, userColumns } from '../../auth/users';
import { uuidv7 } from '../../lib/ids';
import { newestFirst } from '../../lib/pagination';
import { notFound } from '../../lib/problem';

type PlatformAction = { catalog: CatalogDb; d1: D1Sessions; actor: SessionUser; request: RequestInfo };

const value = (v: unknown) => sql`${v}`;

/**
 * A platform_activity_logs row as the columns of an INSERT … SELECT (in its column order: the
 * SELECT fills them by position), so that the row is written only where the change selects a row.
 */
export const platformAuditFields = (
  { actor, request }: Pick<PlatformAction, 'actor' | 'request'>,
  now: string,
  row: { action: string; resource_type: string; resource_id: SQL | SQLiteColumn; old_data: SQL; new_data: SQL },
) => ({
  id: value(uuidv7()),
  user_id: value(actor.id),
  actor_type: value('user'),
  actor_id: value(actor.id),
  action: value(row.action),
  resource_type: value(row.resource_type),
  resource_id: row.resource_id,
  old_data: row.old_data,
  new_data: row.new_data,
  ip_address: value(request.ip),
  user_agent: value(request.userAgent),
  request_id: value(request.requestId),
  created_at: value(now),
});

/**
 * Sets a user's global role (admin, moderator, employee, client), written only where it changes
 * something: the audit row is read from the user's row by the same batch, before the update, so
 * it holds the old role. 1 batch; an unknown user or a no-op reads the user once more to answer.
 * (An admin who demotes the last admin is put back with `npm run user:role`.)
 */
export async function setUserRole({ catalog, d1, actor, request }: PlatformAction, userId: string, role: UserRole) {
  requirePlatformAdmin(actor);
  const changing = and(eq(users.id, userId), ne(users.role, role));
  const now = new Date().toISOString();
  const auditRow = catalog
    .select(
      platformAuditFields({ actor, request }, now, {
        action: 'user.role_update',
        resource_type: 'user',
        resource_id: users.id,
        old_data: sql`json_object('role', ${users.role})`,
        new_data: sql`json_object('role', ${role})`,
      }),
    )
    .from(users)
    .where(changing);
  const [, updated] = await catalog.batch([
    catalog.insert(platform_activity_logs).select(auditRow as never),
    catalog.update(users).set({ role, updated_at: now }).where(changing).returning(userColumns),
  ]);
  if (updated[0]) {
    // Cached access carries the global role: this isolate applies the new one at once.
    await forgetAccess(d1, { userId });
    return updated[0];
  }
  const user = await catalog.select(userColumns).from(users).where(eq(users.id, userId)).get();
  if (!user) throw notFound('user');
  return user;
}

/** The platform audit log, newest first. */
export function listPlatformActivity(
  { catalog, actor }: Omit<PlatformAction, 'request' | 'd1'>,
  page: { limit: number; cursor?: string },
) {
  requirePlatformAdmin(actor);
  return newestFirst(platform_activity_logs.id, page, (after) =>
    catalog.select().from(platform_activity_logs).where(after).$dynamic(),
  );
}
