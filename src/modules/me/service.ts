import { eq } from 'drizzle-orm';
import { organization_members, organizations, users } from '../../db/catalog';
import type { CatalogDb } from '../../db/shards';
import type { Credentials } from '../../env';
import { ApiError } from '../../lib/problem';
import { assertActive, provisionUser, userColumns } from '../../auth/users';

/** The caller and every organization they belong to: one catalog query (a join). */
export async function me(catalog: CatalogDb, credentials: Credentials) {
  if (credentials.type !== 'session') {
    throw new ApiError('forbidden', 'API keys act inside their organization; /v1/me needs a user session.');
  }
  const query = () =>
    catalog
      .select({
        user: userColumns,
        organization: { id: organizations.id, slug: organizations.slug, name: organizations.name },
        role: organization_members.role,
      })
      .from(users)
      .leftJoin(organization_members, eq(organization_members.user_id, users.id))
      .leftJoin(organizations, eq(organizations.id, organization_members.organization_id))
      .where(eq(users.clerk_user_id, credentials.clerkUserId))
      .orderBy(organizations.slug)
      .all();
  let rows = await query();
  if (rows.length === 0) {
    await provisionUser(catalog, credentials);
    rows = await query();
  }
  const user = rows[0]!.user;
  assertActive(user);
  return {
    ...user,
    memberships: rows.flatMap((row) =>
      row.organization && row.role ? [{ organization: row.organization, role: row.role }] : [],
    ),
  };
}
