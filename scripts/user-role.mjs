// `npm run user:role -- --email ada@example.com --role admin [--remote]`: sets a user's global role
// (admin, moderator, employee, client) straight in the catalog, through `wrangler d1 execute` like
// the seed: the way to make the first platform admin, who then uses PATCH /v1/admin/users/{id}.
// An email nobody has signed in with yet becomes a placeholder user, claimed with its role by the
// first sign-in. The change is audited in platform_activity_logs (actor `system`) by the same
// statements; a user who already has the role is left alone.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from './dev-identity.mjs';
import { wrangler } from './migrate.mjs';
import { literal } from './seed.mjs';

/** USER_ROLES of src/db/enums.ts, read from the source so that this script cannot drift from it. */
function userRoles() {
  const source = readFileSync(path.join(ROOT, 'src', 'db', 'enums.ts'), 'utf8');
  const list = /export const USER_ROLES = \[([^\]]*)\]/.exec(source)?.[1];
  if (!list) throw new Error('src/db/enums.ts has no USER_ROLES list.');
  return [...list.matchAll(/'([a-z_]+)'/g)].map(([, role]) => role);
}

/** A UUID v7 (src/lib/ids.ts's layout), so the audit row sorts by time like every other id. */
function uuidv7(now = Date.now()) {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = (bytes[6] & 0x0f) | 0x70;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/** The statements: the placeholder if needed, the audit row and the update (only if the role changes), the user as it ends. */
function userRoleSql(email, role) {
  const who = `email = ${literal(email)}`;
  const changes = `${who} AND role <> ${literal(role)}`;
  return (
    [
      `INSERT INTO users (id, email) VALUES (${literal(uuidv7())}, ${literal(email)}) ON CONFLICT (email) DO NOTHING`,
      `INSERT INTO platform_activity_logs (id, actor_type, action, resource_type, resource_id, old_data, new_data, created_at)
      SELECT ${literal(uuidv7())}, 'system', 'user.role_update', 'user', id, json_object('role', role),
        json_object('role', ${literal(role)}), ${NOW}
      FROM users WHERE ${changes}`,
      `UPDATE users SET role = ${literal(role)}, updated_at = ${NOW} WHERE ${changes}`,
      // (wrangler's --json prints a NULL as "null": the flag is computed here.)
      `SELECT id, email, role, clerk_user_id IS NOT NULL AS signed_in FROM users WHERE ${who}`,
    ].join(';\n') + ';'
  );
}

function main() {
  const { values } = parseArgs({
    options: { email: { type: 'string' }, role: { type: 'string' }, remote: { type: 'boolean', default: false } },
  });
  const roles = userRoles();
  const email = values.email?.trim().toLowerCase();
  if (!email || !email.includes('@') || !roles.includes(values.role)) {
    console.error(`Usage: npm run user:role -- --email ada@example.com --role ${roles.join('|')} [--remote]`);
    return 2;
  }
  const output = wrangler(
    [
      'd1',
      'execute',
      'CATALOG',
      values.remote ? '--remote' : '--local',
      '--json',
      '--yes',
      '--command',
      userRoleSql(email, values.role),
    ],
    { capture: true },
  );
  const user = JSON.parse(output).at(-1)?.results?.[0];
  if (user?.role !== values.role) throw new Error(`the role was not set: ${output}`);
  const state = user.signed_in ? '' : ' (not signed in yet: their first sign-in with this email claims it)';
  console.log(`${user.email} (${user.id}) is now ${user.role}${state}.`);
  return 0;
}

try {
  process.exitCode = main();
} catch (error) {
  console.error(`user:role failed: ${error.message}`);
  process.exitCode = 1;
}
