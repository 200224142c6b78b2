// Global user roles (docs/api/platform.md): platform admins read any organization and
// every such access lands in that organization's activity log; moderators see an organization
// but not its people; a `client` is capped to read-only organization, projects, tasks and
// appointments whatever their member role; an ordinary employee outside an org sees a 404.
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, expectProblem, joinAs, newOrg, newUser, type TestOrg, type TestUser } from './helpers';

type GlobalRole = 'employee' | 'admin' | 'moderator' | 'client';

/** A user with `role`, set in the catalog before they touch any organization (nothing cached). */
async function userWithRole(role: GlobalRole, label: string = role): Promise<TestUser> {
  const user = await newUser(label);
  await setRole(user, role);
  return user;
}

async function setRole(user: TestUser, role: GlobalRole) {
  await env.CATALOG.prepare('UPDATE users SET role = ? WHERE id = ?').bind(role, user.id).run();
}

type Activity = {
  action: string;
  user_id: string | null;
  actor_type: string;
  resource_id: string | null;
  new_data: Record<string, unknown> | null;
};

/** The organization's platform_access rows, as its owner reads them. */
async function platformAccessRows(org: TestOrg): Promise<Activity[]> {
  const res = await api('GET', `/v1/orgs/${org.slug}/activity?action=organization.platform_access&limit=100`, {
    token: org.owner.token,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data;
}

/** The rows are written off the latency path (waitUntil): wait a little for `count` of them. */
async function waitForPlatformAccess(org: TestOrg, count: number): Promise<Activity[]> {
  let rows: Activity[] = [];
  for (let attempt = 0; attempt < 50; attempt++) {
    rows = await platformAccessRows(org);
    if (rows.length >= count) return rows;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return rows;
}

describe('platform admin', () => {
  let org: TestOrg;
  let admin: TestUser;

  beforeAll(async () => {
    org = await newOrg();
    admin = await userWithRole('admin', 'staff');
  });

  it('reads an organization it is not a member of', async () => {
    const res = await api('GET', `/v1/orgs/${org.slug}`, { token: admin.token });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.id).toBe(org.id);
    expect(res.body.role).toBeNull();
    // By id as well as by slug.
    expect((await api('GET', `/v1/orgs/${org.id}`, { token: admin.token })).status).toBe(200);
  });

  it('reads its members and its activity log', async () => {
    const members = await api('GET', `/v1/orgs/${org.slug}/members`, { token: admin.token });
    expect(members.status, JSON.stringify(members.body)).toBe(200);
    expect(members.body.data.map((m: { user_id: string }) => m.user_id)).toContain(org.owner.id);
    const activity = await api('GET', `/v1/orgs/${org.slug}/activity`, { token: admin.token });
    expect(activity.status, JSON.stringify(activity.body)).toBe(200);
  });

  it('may not change anything', async () => {
    expectProblem(
      await api('PATCH', `/v1/orgs/${org.slug}`, { token: admin.token, body: { name: 'Taken over' } }),
      403,
      'forbidden',
    );
    expectProblem(
      await api('POST', `/v1/orgs/${org.slug}/members`, {
        token: admin.token,
        body: { email: `x-${crypto.randomUUID()}@strive.test`, role: 'owner' },
      }),
      403,
      'forbidden',
    );
    expectProblem(await api('DELETE', `/v1/orgs/${org.slug}`, { token: admin.token }), 403, 'forbidden');
    const after = await api('GET', `/v1/orgs/${org.slug}`, { token: org.owner.token });
    expect(after.body.name).toBe(`Org ${org.slug}`);
  });

  it("does not appear among the organization's memberships", async () => {
    const me = await api('GET', '/v1/me', { token: admin.token });
    expect(me.body.role).toBe('admin');
    expect(me.body.memberships).toEqual([]);
  });

  it("writes every access to the organization's activity log", async () => {
    // A fresh organization, so the count is exact: two reads of it, one refused write.
    const watched = await newOrg();
    expect((await api('GET', `/v1/orgs/${watched.slug}`, { token: admin.token })).status).toBe(200);
    expect((await api('GET', `/v1/orgs/${watched.slug}/members`, { token: admin.token })).status).toBe(200);
    expect((await api('PATCH', `/v1/orgs/${watched.slug}`, { token: admin.token, body: { name: 'No' } })).status).toBe(
      403,
    );

    const rows = await waitForPlatformAccess(watched, 3);
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row).toMatchObject({
        action: 'organization.platform_access',
        user_id: admin.id,
        actor_type: 'user',
        resource_id: watched.id,
      });
      expect(row.new_data).toMatchObject({ global_role: 'admin' });
    }
    // Newest first: the refused PATCH, the members list, the organization.
    expect(rows.map((r) => [r.new_data?.method, r.new_data?.path])).toEqual([
      ['PATCH', `/v1/orgs/${watched.slug}`],
      ['GET', `/v1/orgs/${watched.slug}/members`],
      ['GET', `/v1/orgs/${watched.slug}`],
    ]);
    // The access rows of one organization are its own: another organization's log is untouched.
    const other = await newOrg();
    expect(await platformAccessRows(other)).toEqual([]);
  });

  it('logs accesses answered from the access cache too', async () => {
    const watched = await newOrg();
    for (let i = 0; i < 3; i++)
      expect((await api('GET', `/v1/orgs/${watched.slug}`, { token: admin.token })).status).toBe(200);
    expect(await waitForPlatformAccess(watched, 3)).toHaveLength(3);
  });

  it('writes its own reads of the activity log to that log', async () => {
    const watched = await newOrg();
    const res = await api('GET', `/v1/orgs/${watched.slug}/activity`, { token: admin.token });
    expect(res.status).toBe(200);
    const rows = await waitForPlatformAccess(watched, 1);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.new_data).toMatchObject({ method: 'GET', path: `/v1/orgs/${watched.slug}/activity` });
  });

  it('still gets a 404 for an organization that does not exist', async () => {
    expectProblem(
      await api('GET', `/v1/orgs/no-such-org-${crypto.randomUUID().slice(0, 8)}`, { token: admin.token }),
      404,
      'not_found',
    );
  });

  it('acts as a member where it is one, without platform-access rows', async () => {
    const own = await newOrg(await userWithRole('admin', 'staffowner'));
    const res = await api('PATCH', `/v1/orgs/${own.slug}`, { token: own.owner.token, body: { description: 'Mine' } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.role).toBe('owner');
    expect(await platformAccessRows(own)).toEqual([]);
  });
});

describe('platform staff who are also members', () => {
  it(
    'keep their global rights there: an admin who is a viewer reads the activity log and API keys; a moderator ' +
      'denied archiving still archives',
    async () => {
      const org = await newOrg();
      const staff = await joinAs(org, 'viewer');
      await setRole(staff, 'admin');
      expect((await api('GET', `/v1/orgs/${org.slug}/activity`, { token: staff.token })).status).toBe(200);
      expect((await api('GET', `/v1/orgs/${org.slug}/api-keys`, { token: staff.token })).status).toBe(200);
      // …and stays a viewer for everything else.
      expectProblem(
        await api('POST', `/v1/orgs/${org.slug}/customers`, { token: staff.token, body: { name: 'x' } }),
        403,
        'forbidden',
      );

      const moderator = await joinAs(org, 'member', { deny: ['content:archive'] });
      await setRole(moderator, 'moderator');
      const item = (
        await api('POST', `/v1/orgs/${org.slug}/content`, { token: org.owner.token, body: { title: 'Spam' } })
      ).body;
      expect(
        (await api('POST', `/v1/orgs/${org.slug}/content/${item.id}/archive`, { token: moderator.token })).status,
      ).toBe(200);
    },
  );
});

describe('employee (the default global role)', () => {
  it('gets a 404 for an organization it is not in', async () => {
    const org = await newOrg();
    const employee = await newUser('employee');
    for (const path of [`/v1/orgs/${org.slug}`, `/v1/orgs/${org.slug}/members`, `/v1/orgs/${org.slug}/activity`]) {
      expectProblem(await api('GET', path, { token: employee.token }), 404, 'not_found');
    }
    expect(await platformAccessRows(org)).toEqual([]);
  });
});

describe('moderator', () => {
  let org: TestOrg;
  let moderator: TestUser;

  beforeAll(async () => {
    org = await newOrg();
    moderator = await userWithRole('moderator');
  });

  it('reads an organization it is not a member of', async () => {
    const res = await api('GET', `/v1/orgs/${org.slug}`, { token: moderator.token });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.role).toBeNull();
  });

  it('may not read its members, activity or API keys, nor change it', async () => {
    expectProblem(await api('GET', `/v1/orgs/${org.slug}/members`, { token: moderator.token }), 403, 'forbidden');
    expectProblem(await api('GET', `/v1/orgs/${org.slug}/activity`, { token: moderator.token }), 403, 'forbidden');
    expectProblem(await api('GET', `/v1/orgs/${org.slug}/api-keys`, { token: moderator.token }), 403, 'forbidden');
    expectProblem(
      await api('PATCH', `/v1/orgs/${org.slug}`, { token: moderator.token, body: { name: 'Moderated' } }),
      403,
      'forbidden',
    );
  });
});

describe('client', () => {
  let org: TestOrg;
  let client: TestUser;

  beforeAll(async () => {
    org = await newOrg();
    client = await joinAs(org, 'member');
    await setRole(client, 'client');
  });

  it('reads the organization, with its member role', async () => {
    const res = await api('GET', `/v1/orgs/${org.slug}`, { token: client.token });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.role).toBe('member');
  });

  it('may neither list nor add members, though a member may', async () => {
    expectProblem(await api('GET', `/v1/orgs/${org.slug}/members`, { token: client.token }), 403, 'forbidden');
    expectProblem(
      await api('POST', `/v1/orgs/${org.slug}/members`, {
        token: client.token,
        body: { email: `c-${crypto.randomUUID()}@strive.test`, role: 'viewer' },
      }),
      403,
      'forbidden',
    );
  });

  it('is capped even as an admin with explicit grants', async () => {
    const capped = await joinAs(org, 'admin', { grant: ['members:read'] });
    await setRole(capped, 'client');
    expect((await api('GET', `/v1/orgs/${org.slug}`, { token: capped.token })).status).toBe(200);
    expectProblem(await api('GET', `/v1/orgs/${org.slug}/members`, { token: capped.token }), 403, 'forbidden');
    expectProblem(await api('GET', `/v1/orgs/${org.slug}/activity`, { token: capped.token }), 403, 'forbidden');
    expectProblem(await api('GET', `/v1/orgs/${org.slug}/api-keys`, { token: capped.token }), 403, 'forbidden');
    expectProblem(
      await api('PATCH', `/v1/orgs/${org.slug}`, { token: capped.token, body: { name: 'Client-run' } }),
      403,
      'forbidden',
    );
  });

  it('may still leave the organization', async () => {
    const leaving = await joinAs(org, 'viewer');
    await setRole(leaving, 'client');
    const res = await api('DELETE', `/v1/orgs/${org.slug}/members/${leaving.id}`, { token: leaving.token });
    expect(res.status, JSON.stringify(res.body)).toBe(204);
  });

  it('gets a 404 for an organization it is not in', async () => {
    const other = await newOrg();
    expectProblem(await api('GET', `/v1/orgs/${other.slug}`, { token: client.token }), 404, 'not_found');
  });
});

describe('setting a global role: PATCH /v1/admin/users/{id}', () => {
  let admin: TestUser;
  let org: TestOrg;

  beforeAll(async () => {
    admin = await userWithRole('admin', 'staff');
    org = await newOrg();
  });

  const setVia = (by: TestUser, userId: string, body: unknown) =>
    api('PATCH', `/v1/admin/users/${userId}`, { token: by.token, body });

  type PlatformRow = {
    action: string;
    actor_type: string;
    user_id: string | null;
    resource_id: string;
    old_data: unknown;
    new_data: unknown;
    request_id: string | null;
  };
  async function platformActivityOf(userId: string): Promise<PlatformRow[]> {
    const res = await api('GET', '/v1/admin/activity?limit=100', { token: admin.token });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.data.filter((row: PlatformRow) => row.resource_id === userId);
  }

  it('sets the role, applies it at once (cached access included) and audits it in the platform activity log', async () => {
    const member = await joinAs(org, 'member');
    // Cached as an employee member, who writes customers…
    expect(
      (await api('POST', `/v1/orgs/${org.slug}/customers`, { token: member.token, body: { name: 'Before' } })).status,
    ).toBe(201);
    const res = await api('PATCH', `/v1/admin/users/${member.id}`, {
      token: admin.token,
      body: { role: 'client' },
      headers: { 'x-request-id': 'role-change-1' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ id: member.id, role: 'client', clerk_user_id: member.sub });
    expect(res.roundTrips).toBe(2);
    // …and now a client, capped to reading, in this isolate at once.
    expectProblem(
      await api('POST', `/v1/orgs/${org.slug}/customers`, { token: member.token, body: { name: 'After' } }),
      403,
      'forbidden',
    );
    expect((await api('GET', '/v1/me', { token: member.token })).body.role).toBe('client');
    expect(await platformActivityOf(member.id)).toEqual([
      expect.objectContaining({
        action: 'user.role_update',
        actor_type: 'user',
        user_id: admin.id,
        old_data: { role: 'employee' },
        new_data: { role: 'client' },
        request_id: 'role-change-1',
      }),
    ]);
  });

  it('changes nothing, and audits nothing, when the user already has the role', async () => {
    const user = await newUser('same');
    const res = await setVia(admin, user.id, { role: 'employee' });
    expect(res.status).toBe(200);
    expect(res.body.role).toBe('employee');
    expect(await platformActivityOf(user.id)).toEqual([]);
  });

  it('is for platform admins: 403 to others before their input is looked at, and to API keys', async () => {
    const user = await newUser('target');
    for (const role of ['employee', 'moderator', 'client'] as const) {
      const other = await userWithRole(role);
      expectProblem(await setVia(other, user.id, { role: 'admin' }), 403, 'forbidden');
      expectProblem(await setVia(other, user.id, { role: 'overlord' }), 403, 'forbidden');
      expectProblem(await api('GET', '/v1/admin/activity', { token: other.token }), 403, 'forbidden');
    }
    const key = await api('POST', `/v1/orgs/${org.slug}/api-keys`, {
      token: org.owner.token,
      body: { name: 'k', scopes: ['organization:read'] },
    });
    expectProblem(
      await api('PATCH', `/v1/admin/users/${user.id}`, { token: key.body.key, body: { role: 'admin' } }),
      403,
      'forbidden',
    );
    expectProblem(await setVia(admin, user.id, undefined), 400, 'invalid_request');
    expect((await api('GET', '/v1/me', { token: user.token })).body.role).toBe('employee');
  });

  it('answers 400 naming the field for a role that does not exist or an unknown field, and 404 for an unknown user', async () => {
    const user = await newUser('target');
    for (const body of [{ role: 'overlord' }, { role: 'admin', email: 'x@strive.test' }, {}]) {
      const res = await setVia(admin, user.id, body);
      expectProblem(res, 400, 'invalid_request');
      expect(res.body.errors[0].path).toMatch(/^(role|email)$/);
    }
    expectProblem(await setVia(admin, crypto.randomUUID(), { role: 'moderator' }), 404, 'not_found');
    expectProblem(await setVia(admin, 'not-an-id', { role: 'moderator' }), 404, 'not_found');
  });

  it('takes every role of SCHEMA.md', async () => {
    const user = await newUser('every');
    for (const role of ['admin', 'moderator', 'employee', 'client']) {
      expect((await setVia(admin, user.id, { role })).body.role).toBe(role);
    }
  });
});
