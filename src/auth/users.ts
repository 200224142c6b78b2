// Users come from Clerk. A valid session of a user the catalog does not know yet is provisioned
// from the token's claims on first use; an invited placeholder (same email, no Clerk id yet) is
// claimed by that first sign-in. Only a verified email does either (credentials.ts): a token
// without `email_verified: true` waits for the webhook, which checks Clerk's verification itself.
import { eq, getTableColumns, sql } from 'drizzle-orm';
import type { MiddlewareHandler } from 'hono';
import { users } from '../db/catalog';
import { catalogDb, type CatalogDb } from '../db/shards';
import type { AdminEnv, Credentials, SessionUser } from '../env';
import { uuidv7 } from '../lib/ids';
import { ApiError } from '../lib/problem';

type SessionCredentials = Extract<Credentials, { type: 'session' }>;
type UserRow = typeof users.$inferSelect;

/** A user as the API shows them (/v1/me, members, platform routes): every column but Clerk's event clock. */
const { clerk_updated_at: _clerkClock, ...publicColumns } = getTableColumns(users);
export const userColumns = publicColumns;

export const toSessionUser = (row: Pick<UserRow, 'id' | 'email' | 'name' | 'role'>): SessionUser => ({
  id: row.id,
  email: row.email,
  name: row.name,
  role: row.role,
});

export function assertActive(row: Pick<UserRow, 'is_active'>): void {
  if (!row.is_active) throw new ApiError('unauthenticated', 'This user has been deactivated.');
}

/** Inserts the user from the token's claims (or claims an invited placeholder) and returns it. */
export async function provisionUser(catalog: CatalogDb, credentials: SessionCredentials): Promise<UserRow> {
  if (!credentials.email) {
    throw new ApiError(
      'user_not_synced',
      'This user is not known yet and the session token has no verified email: add `email` and `email_verified` ' +
        'to the Clerk session token template, or wait for the user.created webhook.',
    );
  }
  const row = await catalog
    .insert(users)
    .values({
      id: uuidv7(),
      clerk_user_id: credentials.clerkUserId,
      email: credentials.email,
      name: credentials.name ?? null,
      avatar_url: credentials.avatarUrl ?? null,
      last_login_at: new Date().toISOString(),
    })
    .onConflictDoUpdate({
      target: users.email,
      set: {
        clerk_user_id: credentials.clerkUserId,
        name: sql`coalesce(${users.name}, excluded.name)`,
        avatar_url: sql`coalesce(${users.avatar_url}, excluded.avatar_url)`,
        last_login_at: sql`excluded.last_login_at`,
        updated_at: sql`excluded.updated_at`,
      },
      // Only a placeholder may be claimed: an email already tied to another Clerk user is not.
      // Its own Clerk user's row is answered again: a replica that has not seen a first sign-in
      // yet makes a second request provision once more, which must not be refused.
      setWhere: sql`${users.clerk_user_id} IS NULL OR ${users.clerk_user_id} = excluded.clerk_user_id`,
    })
    .returning()
    .get();
  if (!row) {
    throw new ApiError('unauthenticated', 'This email belongs to another account.');
  }
  return row;
}

/** The acting user of a session: one catalog query, plus one insert the very first time. */
export async function sessionUser(catalog: CatalogDb, credentials: Credentials): Promise<SessionUser> {
  if (credentials.type !== 'session') {
    throw new ApiError('forbidden', 'API keys act inside their organization; this route needs a user session.');
  }
  const row =
    (await catalog.select().from(users).where(eq(users.clerk_user_id, credentials.clerkUserId)).get()) ??
    (await provisionUser(catalog, credentials));
  assertActive(row);
  return toSessionUser(row);
}

/** Platform staff: the global role `admin` (the AI tools catalog, users' global roles). */
export function requirePlatformAdmin(user: SessionUser) {
  if (user.role !== 'admin') throw new ApiError('forbidden', 'Only platform staff (global role admin) may do this.');
}

/**
 * Platform-staff routes check the caller before the body is validated (as permissions are), so
 * others learn nothing about the input. The user it finds is the handler's (`platformUser`).
 */
export const platformAdmin: MiddlewareHandler<AdminEnv> = async (c, next) => {
  const user = await sessionUser(catalogDb(c.env, c.get('d1')), c.get('credentials'));
  requirePlatformAdmin(user);
  c.set('platformUser', user);
  await next();
};
