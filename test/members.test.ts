// Members, roles and permissions (docs/api/organizations.md): viewer < member < admin <
// owner; admins manage everyone below owner; only owners touch owners; the last owner stays;
// grants and denies adjust a role, deny wins; nobody hands out what they do not hold.
import { describe, expect, it } from 'vitest';
import { api, expectProblem, joinAs, newOrg, newUser, type TestOrg, type TestUser } from './helpers';

const newEmail = (label = 'invitee') => `${label}-${crypto.randomUUID().slice(0, 8)}@strive.test`;

function addMember(org: TestOrg, by: TestUser, body: Record<string, unknown>) {
  return api('POST', `/v1/orgs/${org.slug}/members`, { token: by.token, body });
}
function patchMember(org: TestOrg, by: TestUser, userId: string, body: Record<string, unknown>) {
  return api('PATCH', `/v1/orgs/${org.slug}/members/${userId}`, { token: by.token, body });
}
function removeMember(org: TestOrg, by: TestUser, userId: string) {
  return api('DELETE', `/v1/orgs/${org.slug}/members/${userId}`, { token: by.token });
}
async function roleOf(org: TestOrg, userId: string): Promise<string | undefined> {
  const res = await api('GET', `/v1/orgs/${org.slug}/members?limit=100`, { token: org.owner.token });
  expect(res.status).toBe(200);
  return res.body.data.find((m: { user_id: string }) => m.user_id === userId)?.role;
}

describe('members: roles', () => {
  it('lets a viewer list members but answers 403 to a viewer adding one', async () => {
    const org = await newOrg();
    const viewer = await joinAs(org, 'viewer');
    const list = await api('GET', `/v1/orgs/${org.slug}/members`, { token: viewer.token });
    expect(list.status).toBe(200);
    expect(list.body.data.map((m: { user_id: string }) => m.user_id).sort()).toEqual([org.owner.id, viewer.id].sort());
    expect(list.body.data.find((m: { user_id: string }) => m.user_id === viewer.id)).toMatchObject({
      role: 'viewer',
      permissions: { grant: [], deny: [] },
      invited_by: org.owner.id,
      user: { id: viewer.id, email: viewer.email },
    });
    expectProblem(await addMember(org, viewer, { email: newEmail(), role: 'viewer' }), 403, 'forbidden');
  });

  it('answers 403 to a member adding a member', async () => {
    const org = await newOrg();
    const member = await joinAs(org, 'member');
    expectProblem(await addMember(org, member, { email: newEmail(), role: 'member' }), 403, 'forbidden');
  });

  it('lets an admin add a viewer, a member and an admin', async () => {
    const org = await newOrg();
    const admin = await joinAs(org, 'admin');
    for (const role of ['viewer', 'member', 'admin']) {
      const email = newEmail(role);
      const res = await addMember(org, admin, { email, role });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body).toMatchObject({ role, invited_by: admin.id, user: { email } });
    }
  });

  it('answers 403 to an admin adding an owner', async () => {
    const org = await newOrg();
    const admin = await joinAs(org, 'admin');
    const res = await addMember(org, admin, { email: newEmail(), role: 'owner' });
    expectProblem(res, 403, 'forbidden');
    expect(res.body.detail).toContain('owners:manage');
  });

  it('answers 403 to an admin promoting themselves or anyone to owner', async () => {
    const org = await newOrg();
    const admin = await joinAs(org, 'admin');
    const member = await joinAs(org, 'member');
    expectProblem(await patchMember(org, admin, admin.id, { role: 'owner' }), 403, 'forbidden');
    expectProblem(await patchMember(org, admin, member.id, { role: 'owner' }), 403, 'forbidden');
    expect(await roleOf(org, admin.id)).toBe('admin');
  });

  it('answers 403 to an admin changing or removing an owner', async () => {
    const org = await newOrg();
    const admin = await joinAs(org, 'admin');
    expectProblem(await patchMember(org, admin, org.owner.id, { role: 'member' }), 403, 'forbidden');
    expectProblem(
      await patchMember(org, admin, org.owner.id, { permissions: { grant: [], deny: ['members:read'] } }),
      403,
      'forbidden',
    );
    expectProblem(await removeMember(org, admin, org.owner.id), 403, 'forbidden');
    expect(await roleOf(org, org.owner.id)).toBe('owner');
  });

  it('lets an admin change and remove members below owner', async () => {
    const org = await newOrg();
    const admin = await joinAs(org, 'admin');
    const member = await joinAs(org, 'member');
    const patched = await patchMember(org, admin, member.id, { role: 'viewer' });
    expect(patched.status).toBe(200);
    expect(patched.body.role).toBe('viewer');
    expect((await removeMember(org, admin, member.id)).status).toBe(204);
    expect(await roleOf(org, member.id)).toBeUndefined();
  });

  it('lets an owner add an owner', async () => {
    const org = await newOrg();
    const res = await addMember(org, org.owner, { email: newEmail('co-owner'), role: 'owner' });
    expect(res.status).toBe(201);
    expect(res.body.role).toBe('owner');
  });

  it('answers 409 when the last owner would be demoted', async () => {
    const org = await newOrg();
    const res = await patchMember(org, org.owner, org.owner.id, { role: 'admin' });
    expectProblem(res, 409, 'conflict');
    expect(await roleOf(org, org.owner.id)).toBe('owner');
  });

  it('answers 409 when the last owner would be removed, by themselves or by anyone', async () => {
    const org = await newOrg();
    expectProblem(await removeMember(org, org.owner, org.owner.id), 409, 'conflict');
    expect(await roleOf(org, org.owner.id)).toBe('owner');
  });

  it('lets one of two owners be demoted, and then refuses the other', async () => {
    const org = await newOrg();
    const second = await joinAs(org, 'owner');
    const demoted = await patchMember(org, org.owner, second.id, { role: 'admin' });
    expect(demoted.status).toBe(200);
    expect(demoted.body.role).toBe('admin');
    expectProblem(await patchMember(org, org.owner, org.owner.id, { role: 'admin' }), 409, 'conflict');
  });

  it('lets one of two owners leave', async () => {
    const org = await newOrg();
    const second = await joinAs(org, 'owner');
    expect((await removeMember(org, second, second.id)).status).toBe(204);
    expectProblem(await removeMember(org, org.owner, org.owner.id), 409, 'conflict');
  });

  it('lets anyone remove themselves: a viewer leaves with 204 and then no longer sees the organization', async () => {
    const org = await newOrg();
    const viewer = await joinAs(org, 'viewer');
    expect((await api('GET', `/v1/orgs/${org.slug}`, { token: viewer.token })).status).toBe(200); // cached access
    expect((await removeMember(org, viewer, viewer.id)).status).toBe(204);
    expectProblem(await api('GET', `/v1/orgs/${org.slug}`, { token: viewer.token }), 404, 'not_found');
  });

  it('answers 403 to a member removing someone else', async () => {
    const org = await newOrg();
    const member = await joinAs(org, 'member');
    const viewer = await joinAs(org, 'viewer');
    expectProblem(await removeMember(org, member, viewer.id), 403, 'forbidden');
    expect(await roleOf(org, viewer.id)).toBe('viewer');
  });

  it('answers 404 to changing or removing someone who is not a member', async () => {
    const org = await newOrg();
    const outsider = await newUser('outsider');
    expectProblem(await patchMember(org, org.owner, outsider.id, { role: 'viewer' }), 404, 'not_found');
    expectProblem(await removeMember(org, org.owner, outsider.id), 404, 'not_found');
  });
});

describe('members: grants and denies', () => {
  it('lets a member granted members:manage add a member', async () => {
    const org = await newOrg();
    const member = await joinAs(org, 'member', { grant: ['members:manage'] });
    const res = await addMember(org, member, { email: newEmail(), role: 'member' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  });

  it('answers 403 to a member granted members:manage who adds an admin or promotes themselves', async () => {
    // Handing out a role is handing out its permissions: a member cannot make an admin.
    const org = await newOrg();
    const member = await joinAs(org, 'member', { grant: ['members:manage'] });
    const other = await joinAs(org, 'member');
    expectProblem(await addMember(org, member, { email: newEmail(), role: 'admin' }), 403, 'forbidden');
    expectProblem(await patchMember(org, member, member.id, { role: 'admin' }), 403, 'forbidden');
    expectProblem(await patchMember(org, member, other.id, { role: 'admin' }), 403, 'forbidden');
    expect(await roleOf(org, member.id)).toBe('member');
    expect(await roleOf(org, other.id)).toBe('member');
  });

  it('answers 403 to a member granted members:manage who demotes or removes an admin', async () => {
    const org = await newOrg();
    const member = await joinAs(org, 'member', { grant: ['members:manage'] });
    const admin = await joinAs(org, 'admin');
    expectProblem(await patchMember(org, member, admin.id, { role: 'viewer' }), 403, 'forbidden');
    expectProblem(await removeMember(org, member, admin.id), 403, 'forbidden');
    expect(await roleOf(org, admin.id)).toBe('admin');
  });

  it('answers 403 on GET members to a member denied members:read', async () => {
    const org = await newOrg();
    const member = await joinAs(org, 'member', { deny: ['members:read'] });
    expectProblem(await api('GET', `/v1/orgs/${org.slug}/members`, { token: member.token }), 403, 'forbidden');
    expect((await api('GET', `/v1/orgs/${org.slug}`, { token: member.token })).status).toBe(200);
  });

  it('lets deny win over grant', async () => {
    const org = await newOrg();
    const member = await joinAs(org, 'member', { grant: ['members:manage'], deny: ['members:manage'] });
    expectProblem(await addMember(org, member, { email: newEmail(), role: 'viewer' }), 403, 'forbidden');
  });

  it('answers 403 to an admin granting a permission they do not hold (billing:manage)', async () => {
    const org = await newOrg();
    const admin = await joinAs(org, 'admin');
    const member = await joinAs(org, 'member');
    const email = newEmail();
    const res = await addMember(org, admin, {
      email,
      role: 'member',
      permissions: { grant: ['billing:manage'], deny: [] },
    });
    expectProblem(res, 403, 'forbidden');
    expect(res.body.detail).toContain('billing:manage');
    expectProblem(
      await patchMember(org, admin, member.id, { permissions: { grant: ['billing:manage'], deny: [] } }),
      403,
      'forbidden',
    );
    // One they hold is fine.
    const ok = await patchMember(org, admin, member.id, { permissions: { grant: ['customers:delete'], deny: [] } });
    expect(ok.status).toBe(200);
    expect(ok.body.permissions).toEqual({ grant: ['customers:delete'], deny: [] });
  });

  it('applies member changes at once: a demoted admin immediately gets 403 on POST /members', async () => {
    const org = await newOrg();
    const admin = await joinAs(org, 'admin');
    expect((await addMember(org, admin, { email: newEmail(), role: 'viewer' })).status).toBe(201); // access cached
    expect((await patchMember(org, org.owner, admin.id, { role: 'member' })).status).toBe(200);
    expectProblem(await addMember(org, admin, { email: newEmail(), role: 'viewer' }), 403, 'forbidden');
  });

  it('applies a new deny at once', async () => {
    const org = await newOrg();
    const member = await joinAs(org, 'member');
    expect((await api('GET', `/v1/orgs/${org.slug}/members`, { token: member.token })).status).toBe(200);
    expect(
      (await patchMember(org, org.owner, member.id, { permissions: { grant: [], deny: ['members:read'] } })).status,
    ).toBe(200);
    expectProblem(await api('GET', `/v1/orgs/${org.slug}/members`, { token: member.token }), 403, 'forbidden');
  });
});

describe('members: input', () => {
  it('answers 409 to adding someone who is already a member', async () => {
    const org = await newOrg();
    const member = await joinAs(org, 'member');
    expectProblem(await addMember(org, org.owner, { email: member.email, role: 'admin' }), 409, 'conflict');
    expectProblem(
      await addMember(org, org.owner, { email: member.email.toUpperCase(), role: 'viewer' }),
      409,
      'conflict',
    );
    expect(await roleOf(org, member.id)).toBe('member');
  });

  it('adds an existing user by email without creating another user', async () => {
    const org = await newOrg();
    const user = await newUser('existing');
    const res = await addMember(org, org.owner, { email: ` ${user.email.toUpperCase()} `, role: 'viewer' });
    expect(res.status).toBe(201);
    expect(res.body.user_id).toBe(user.id);
    const me = await api('GET', '/v1/me', { token: user.token });
    expect(me.body.memberships).toEqual([
      { organization: { id: org.id, slug: org.slug, name: `Org ${org.slug}` }, role: 'viewer' },
    ]);
  });

  it('answers 400 to an invalid email, naming the field', async () => {
    const org = await newOrg();
    const res = await addMember(org, org.owner, { email: 'not-an-email', role: 'member' });
    expectProblem(res, 400, 'invalid_request');
    expect(res.body.errors).toEqual([expect.objectContaining({ path: 'email' })]);
  });

  it('answers 400 to an unknown role, on add and on change', async () => {
    const org = await newOrg();
    const member = await joinAs(org, 'member');
    const add = await addMember(org, org.owner, { email: newEmail(), role: 'superuser' });
    expectProblem(add, 400, 'invalid_request');
    expect(add.body.errors).toEqual([expect.objectContaining({ path: 'role' })]);
    expectProblem(await patchMember(org, org.owner, member.id, { role: 'superuser' }), 400, 'invalid_request');
  });

  it('answers 400 to an unknown permission name and to unknown fields', async () => {
    const org = await newOrg();
    const res = await addMember(org, org.owner, {
      email: newEmail(),
      role: 'member',
      permissions: { grant: ['root:all'], deny: [] },
    });
    expectProblem(res, 400, 'invalid_request');
    expect(res.body.errors).toEqual([expect.objectContaining({ path: 'permissions.grant.0' })]);
    expectProblem(
      await addMember(org, org.owner, { email: newEmail(), role: 'member', is_admin: true }),
      400,
      'invalid_request',
    );
  });
});

describe('members: fields (SCHEMA.md)', () => {
  it("lists each membership's columns and its user as /v1/me shows them, clerk_user_id included", async () => {
    const org = await newOrg();
    const member = await joinAs(org, 'member', { deny: ['customers:delete'] });
    const list = await api('GET', `/v1/orgs/${org.slug}/members?limit=100`, { token: member.token });
    expect(list.status).toBe(200);
    const me = (await api('GET', '/v1/me', { token: member.token })).body;
    const { memberships: _memberships, ...user } = me;
    expect(user.clerk_user_id).toBe(member.sub);
    const row = list.body.data.find((m: { user_id: string }) => m.user_id === member.id);
    expect(row).toEqual({
      id: expect.any(String),
      organization_id: org.id,
      user_id: member.id,
      role: 'member',
      permissions: { grant: [], deny: ['customers:delete'] },
      invited_by: org.owner.id,
      joined_at: expect.any(String),
      created_at: expect.any(String),
      updated_at: expect.any(String),
      user,
    });
    expect(Object.keys(user)).toEqual(
      expect.arrayContaining([
        'clerk_user_id',
        'avatar_url',
        'subscription_tier',
        'is_active',
        'created_at',
        'updated_at',
      ]),
    );
  });

  it('shows an invited user who has not signed in yet with a null clerk_user_id', async () => {
    const org = await newOrg();
    const added = await addMember(org, org.owner, { email: newEmail(), role: 'viewer' });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({
      organization_id: org.id,
      user: { clerk_user_id: null, is_active: true, subscription_tier: 'free' },
    });
  });
});

describe('members: pagination', () => {
  it('walks every member with limit=1 via next_cursor, newest first, without repeats', async () => {
    const org = await newOrg();
    const joined = [await joinAs(org, 'viewer'), await joinAs(org, 'member'), await joinAs(org, 'admin')];
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const query: string = cursor ? `?limit=1&cursor=${encodeURIComponent(cursor)}` : '?limit=1';
      const res = await api('GET', `/v1/orgs/${org.slug}/members${query}`, { token: org.owner.token });
      expect(res.status).toBe(200);
      expect(res.body.data.length).toBeLessThanOrEqual(1);
      seen.push(...res.body.data.map((m: { user_id: string }) => m.user_id));
      cursor = res.body.next_cursor;
      if (!cursor) break;
    }
    expect(cursor).toBeNull();
    expect(seen).toEqual([...joined.map((u) => u.id).reverse(), org.owner.id]);
  });

  it('answers 400 to a cursor it did not make, and to a limit out of range', async () => {
    const org = await newOrg();
    const bad = await api('GET', `/v1/orgs/${org.slug}/members?cursor=not-a-cursor`, { token: org.owner.token });
    expectProblem(bad, 400, 'invalid_request');
    expect(bad.body.errors).toEqual([expect.objectContaining({ path: 'cursor' })]);
    expectProblem(
      await api('GET', `/v1/orgs/${org.slug}/members?limit=0`, { token: org.owner.token }),
      400,
      'invalid_request',
    );
    expectProblem(
      await api('GET', `/v1/orgs/${org.slug}/members?limit=101`, { token: org.owner.token }),
      400,
      'invalid_request',
    );
  });
});
