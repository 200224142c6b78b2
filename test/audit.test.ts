// The audit trail: every mutation writes its activity row (who, from where, which request, before
// and after, never a secret); a no-op or a failed mutation writes none. Read back through
// GET /v1/orgs/{org}/activity and its filters.
import { describe, expect, it } from 'vitest';
import {
  api,
  expectAuditRow,
  expectProblem,
  joinAs,
  make,
  newOrg,
  newUser,
  ownerContext,
  type ApiResponse,
  type TestOrg,
  type TestUser,
} from './helpers';

type Activity = {
  id: string;
  organization_id: string;
  user_id: string | null;
  actor_type: string;
  actor_id: string | null;
  action: string;
  resource_type: string;
  resource_id: string | null;
  old_data: Record<string, unknown> | null;
  new_data: Record<string, unknown> | null;
  ip_address: string | null;
  user_agent: string | null;
  request_id: string | null;
  created_at: string;
};

const CLIENT = { 'user-agent': 'strive-audit-tests/1.0', 'cf-connecting-ip': '203.0.113.7' };

/** A request as a browser behind Cloudflare sends it: with a user agent and the client's address. */
function call(method: string, path: string, token: string, body?: unknown): Promise<ApiResponse> {
  return api(method, path, { token, body, headers: CLIENT });
}

async function activity(
  org: TestOrg,
  filters: Record<string, string> = {},
  token = org.owner.token,
): Promise<Activity[]> {
  const res = await api('GET', `/v1/orgs/${org.slug}/activity?${new URLSearchParams({ limit: '100', ...filters })}`, {
    token,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data;
}

/** The one row `action` wrote for `resourceId`, checked to exist exactly once. */
async function onlyRow(org: TestOrg, action: string, resourceId: string): Promise<Activity> {
  const rows = await activity(org, { action, resource_id: resourceId });
  expect(rows, `${action} rows for ${resourceId}`).toHaveLength(1);
  return rows[0]!;
}

function expectUserActor(row: Activity, user: TestUser, res: ApiResponse) {
  expect(row).toMatchObject({
    actor_type: 'user',
    actor_id: user.id,
    user_id: user.id,
    ip_address: CLIENT['cf-connecting-ip'],
    user_agent: CLIENT['user-agent'],
    request_id: res.headers.get('x-request-id'),
  });
}

async function createOrg(owner: TestUser) {
  const slug = `audit-${crypto.randomUUID().slice(0, 8)}`;
  const res = await call('POST', '/v1/orgs', owner.token, { name: `Audit ${slug}`, slug, description: 'Before' });
  expect(res.status).toBe(201);
  return { org: { id: res.body.id as string, slug, owner }, res };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('audit: what each mutation writes', () => {
  it('writes organization.create with the creator, their address and the request id', async () => {
    const owner = await newUser('auditor');
    const { org, res } = await createOrg(owner);
    const row = await onlyRow(org, 'organization.create', org.id);
    expectUserActor(row, owner, res);
    expect(row).toMatchObject({ organization_id: org.id, resource_type: 'organization', old_data: null });
    expect(row.new_data).toMatchObject({
      id: org.id,
      slug: org.slug,
      name: `Audit ${org.slug}`,
      description: 'Before',
    });
    expect(Date.parse(row.created_at)).not.toBeNaN();
  });

  it('writes organization.update with old and new of only the changed fields', async () => {
    const { org } = await createOrg(await newUser('auditor'));
    // description is sent unchanged: it must not appear in the row.
    const res = await call('PATCH', `/v1/orgs/${org.slug}`, org.owner.token, {
      name: 'Renamed',
      description: 'Before',
      website: 'https://example.com/',
    });
    expect(res.status).toBe(200);
    const row = await onlyRow(org, 'organization.update', org.id);
    expectUserActor(row, org.owner, res);
    expect(row.old_data).toEqual({ name: `Audit ${org.slug}`, website: null });
    expect(row.new_data).toEqual({ name: 'Renamed', website: 'https://example.com/' });
  });

  it('writes member.create, member.update and member.delete', async () => {
    const org = await newOrg();
    const invitee = await newUser('audited');
    const created = await call('POST', `/v1/orgs/${org.slug}/members`, org.owner.token, {
      email: invitee.email,
      role: 'viewer',
    });
    expect(created.status).toBe(201);
    const updated = await call('PATCH', `/v1/orgs/${org.slug}/members/${invitee.id}`, org.owner.token, {
      role: 'member',
    });
    expect(updated.status).toBe(200);
    const removed = await call('DELETE', `/v1/orgs/${org.slug}/members/${invitee.id}`, org.owner.token);
    expect(removed.status).toBe(204);

    const createRow = await onlyRow(org, 'member.create', invitee.id);
    expectUserActor(createRow, org.owner, created);
    expect(createRow).toMatchObject({
      resource_type: 'member',
      old_data: null,
      new_data: { email: invitee.email, role: 'viewer', permissions: { grant: [], deny: [] } },
    });

    const updateRow = await onlyRow(org, 'member.update', invitee.id);
    expectUserActor(updateRow, org.owner, updated);
    expect(updateRow).toMatchObject({ old_data: { role: 'viewer' }, new_data: { role: 'member' } });

    const deleteRow = await onlyRow(org, 'member.delete', invitee.id);
    expectUserActor(deleteRow, org.owner, removed);
    expect(deleteRow).toMatchObject({ old_data: { email: invitee.email, role: 'member' }, new_data: null });

    // Filtered by resource, the member's whole story, newest first.
    const story = await activity(org, { resource_type: 'member', resource_id: invitee.id });
    expect(story.map((r) => r.action)).toEqual(['member.delete', 'member.update', 'member.create']);
  });

  it('writes api_key.create without the secret or its hash, and api_key.revoke', async () => {
    const org = await newOrg();
    const created = await call('POST', `/v1/orgs/${org.slug}/api-keys`, org.owner.token, {
      name: 'audited key',
      scopes: ['organization:read'],
    });
    expect(created.status).toBe(201);
    const secret: string = created.body.key;

    const createRow = await onlyRow(org, 'api_key.create', created.body.id);
    expectUserActor(createRow, org.owner, created);
    expect(createRow.resource_type).toBe('api_key');
    expect(createRow.new_data).toMatchObject({
      id: created.body.id,
      name: 'audited key',
      prefix: created.body.prefix,
      scopes: ['organization:read'],
    });
    expect(createRow.new_data).not.toHaveProperty('key');
    expect(createRow.new_data).not.toHaveProperty('key_hash');
    const everything = JSON.stringify(await activity(org));
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(secret.slice(created.body.prefix.length));

    const revoked = await call('DELETE', `/v1/orgs/${org.slug}/api-keys/${created.body.id}`, org.owner.token);
    expect(revoked.status).toBe(204);
    const revokeRow = await onlyRow(org, 'api_key.revoke', created.body.id);
    expectUserActor(revokeRow, org.owner, revoked);
    expect(revokeRow.old_data).toEqual({ revoked_at: null });
    expect(revokeRow.new_data).toEqual({ revoked_at: expect.any(String) });

    // Revoking again changes nothing and writes nothing.
    expect((await call('DELETE', `/v1/orgs/${org.slug}/api-keys/${created.body.id}`, org.owner.token)).status).toBe(
      204,
    );
    expect(await activity(org, { action: 'api_key.revoke' })).toHaveLength(1);
  });

  it('records an API key actor as api_key, with the key as actor and its creator as user', async () => {
    const org = await newOrg();
    const admin = await joinAs(org, 'admin');
    const key = await api('POST', `/v1/orgs/${org.slug}/api-keys`, {
      token: admin.token,
      body: { name: 'automation', scopes: ['organization:update'] },
    });
    expect(key.status).toBe(201);
    const res = await call('PATCH', `/v1/orgs/${org.slug}`, key.body.key, { description: 'Set by a key' });
    expect(res.status).toBe(200);

    const row = await onlyRow(org, 'organization.update', org.id);
    expect(row).toMatchObject({
      actor_type: 'api_key',
      actor_id: key.body.id,
      user_id: admin.id,
      request_id: res.headers.get('x-request-id'),
      ip_address: CLIENT['cf-connecting-ip'],
      new_data: { description: 'Set by a key' },
    });
  });

  it('takes a client-sent x-request-id as the request id of the row', async () => {
    const org = await newOrg();
    const requestId = `client-${crypto.randomUUID()}`;
    const res = await api('PATCH', `/v1/orgs/${org.slug}`, {
      token: org.owner.token,
      body: { name: 'Traced' },
      headers: { 'x-request-id': requestId },
    });
    expect(res.headers.get('x-request-id')).toBe(requestId);
    expect((await onlyRow(org, 'organization.update', org.id)).request_id).toBe(requestId);
  });
});

describe('audit: what writes nothing', () => {
  it('writes no row for a PATCH that changes nothing', async () => {
    const { org } = await createOrg(await newUser('auditor'));
    const res = await call('PATCH', `/v1/orgs/${org.slug}`, org.owner.token, {
      name: `Audit ${org.slug}`,
      description: 'Before',
    });
    expect(res.status).toBe(200);
    expect(res.body.name).toBe(`Audit ${org.slug}`);
    expect(await activity(org, { action: 'organization.update' })).toHaveLength(0);

    const member = await joinAs(org, 'member');
    expect(
      (await call('PATCH', `/v1/orgs/${org.slug}/members/${member.id}`, org.owner.token, { role: 'member' })).status,
    ).toBe(200);
    expect(await activity(org, { action: 'member.update' })).toHaveLength(0);
  });

  it('writes no organization.update for a slug already taken (409)', async () => {
    const taken = await newOrg();
    const { org } = await createOrg(await newUser('auditor'));
    expectProblem(await call('PATCH', `/v1/orgs/${org.slug}`, org.owner.token, { slug: taken.slug }), 409, 'conflict');
    expect(await activity(org, { action: 'organization.update' })).toHaveLength(0);
    expect((await api('GET', `/v1/orgs/${org.slug}`, { token: org.owner.token })).body.slug).toBe(org.slug);
  });

  it('writes no member.update when demoting the last owner fails (409)', async () => {
    const org = await newOrg();
    expectProblem(
      await call('PATCH', `/v1/orgs/${org.slug}/members/${org.owner.id}`, org.owner.token, { role: 'admin' }),
      409,
      'conflict',
    );
    expect(await activity(org, { action: 'member.update' })).toHaveLength(0);
    expectProblem(
      await call('DELETE', `/v1/orgs/${org.slug}/members/${org.owner.id}`, org.owner.token),
      409,
      'conflict',
    );
    expect(await activity(org, { action: 'member.delete' })).toHaveLength(0);
  });

  it('writes no second member.create for someone already a member (409)', async () => {
    const org = await newOrg();
    const member = await joinAs(org, 'member');
    expectProblem(
      await call('POST', `/v1/orgs/${org.slug}/members`, org.owner.token, { email: member.email, role: 'admin' }),
      409,
      'conflict',
    );
    expect(await activity(org, { action: 'member.create', resource_id: member.id })).toHaveLength(1);
  });

  it('writes no row for a refused mutation (403)', async () => {
    const org = await newOrg();
    const member = await joinAs(org, 'member');
    expectProblem(await call('PATCH', `/v1/orgs/${org.slug}`, member.token, { name: 'Hijacked' }), 403, 'forbidden');
    expect(await activity(org, { action: 'organization.update' })).toHaveLength(0);
  });
});

describe('audit: reading the log', () => {
  it('answers 403 to a viewer and a member, 200 to an admin', async () => {
    const org = await newOrg();
    const viewer = await joinAs(org, 'viewer');
    const member = await joinAs(org, 'member');
    const admin = await joinAs(org, 'admin');
    expectProblem(await api('GET', `/v1/orgs/${org.slug}/activity`, { token: viewer.token }), 403, 'forbidden');
    expectProblem(await api('GET', `/v1/orgs/${org.slug}/activity`, { token: member.token }), 403, 'forbidden');
    expect((await api('GET', `/v1/orgs/${org.slug}/activity`, { token: admin.token })).status).toBe(200);
  });

  it('shows only its own organization’s rows, and answers 404 to outsiders', async () => {
    const org = await newOrg();
    const other = await newOrg();
    const rows = await activity(org);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => r.organization_id === org.id)).toBe(true);
    expectProblem(await api('GET', `/v1/orgs/${other.slug}/activity`, { token: org.owner.token }), 404, 'not_found');
  });

  it('filters by resource_type, resource_id, user_id and action', async () => {
    const org = await newOrg();
    const admin = await joinAs(org, 'admin');
    const invitee = await newUser('filtered');
    expect(
      (
        await api('POST', `/v1/orgs/${org.slug}/members`, {
          token: admin.token,
          body: { email: invitee.email, role: 'viewer' },
        })
      ).status,
    ).toBe(201);
    expect(
      (await api('PATCH', `/v1/orgs/${org.slug}`, { token: admin.token, body: { name: 'Filtered' } })).status,
    ).toBe(200);

    expect((await activity(org, { resource_type: 'organization' })).map((r) => r.action)).toEqual([
      'organization.update',
      'organization.create',
    ]);
    expect((await activity(org, { resource_type: 'member' })).map((r) => r.resource_id)).toEqual([
      invitee.id,
      admin.id,
    ]);
    expect((await activity(org, { resource_id: invitee.id })).map((r) => r.action)).toEqual(['member.create']);
    expect((await activity(org, { user_id: admin.id })).map((r) => r.action)).toEqual([
      'organization.update',
      'member.create',
    ]);
    expect((await activity(org, { user_id: org.owner.id })).map((r) => r.action)).toEqual([
      'member.create',
      'organization.create',
    ]);
    expect(await activity(org, { action: 'member.delete' })).toEqual([]);
    expectProblem(
      await api('GET', `/v1/orgs/${org.slug}/activity?user_id=not-a-uuid`, { token: org.owner.token }),
      400,
      'invalid_request',
    );
  });

  it('filters by from (inclusive) and to (exclusive)', async () => {
    const org = await newOrg();
    for (const name of ['One', 'Two', 'Three']) {
      await pause(5); // distinct timestamps
      expect((await api('PATCH', `/v1/orgs/${org.slug}`, { token: org.owner.token, body: { name } })).status).toBe(200);
    }
    const updates = await activity(org, { action: 'organization.update' });
    expect(updates.map((r) => r.new_data!.name)).toEqual(['Three', 'Two', 'One']);
    const middle = updates[1]!.created_at;

    const from = await activity(org, { action: 'organization.update', from: middle });
    expect(from.map((r) => r.new_data!.name)).toEqual(['Three', 'Two']);
    const to = await activity(org, { action: 'organization.update', to: middle });
    expect(to.map((r) => r.new_data!.name)).toEqual(['One']);
    const window = await activity(org, { from: updates[2]!.created_at, to: updates[0]!.created_at });
    expect(window.map((r) => r.new_data!.name)).toEqual(['Two', 'One']);

    // Any offset is accepted and compared as the same instant.
    const shifted = new Date(Date.parse(middle) + 2 * 3_600_000).toISOString().replace('Z', '+02:00');
    expect(
      (await activity(org, { action: 'organization.update', from: shifted })).map((r) => r.new_data!.name),
    ).toEqual(['Three', 'Two']);
    // A date is its midnight UTC: today's rows are from today and before tomorrow.
    const today = middle.slice(0, 10);
    const tomorrow = new Date(Date.parse(today) + 86_400_000).toISOString().slice(0, 10);
    expect(
      (await activity(org, { action: 'organization.update', from: today, to: tomorrow })).map((r) => r.new_data!.name),
    ).toEqual(['Three', 'Two', 'One']);
    expect(await activity(org, { action: 'organization.update', to: today })).toEqual([]);
    expectProblem(
      await api('GET', `/v1/orgs/${org.slug}/activity?from=yesterday`, { token: org.owner.token }),
      400,
      'invalid_request',
    );
    expectProblem(
      await api('GET', `/v1/orgs/${org.slug}/activity?from=2026-02-30`, { token: org.owner.token }),
      400,
      'invalid_request',
    );
  });

  it('pages through every row, newest first, without repeats', async () => {
    const org = await newOrg();
    for (const name of ['A', 'B', 'C', 'D']) {
      expect((await api('PATCH', `/v1/orgs/${org.slug}`, { token: org.owner.token, body: { name } })).status).toBe(200);
    }
    const all = await activity(org);
    expect(all).toHaveLength(5); // organization.create + 4 updates

    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const query: string = new URLSearchParams({ limit: '2', ...(cursor ? { cursor } : {}) }).toString();
      const res = await api('GET', `/v1/orgs/${org.slug}/activity?${query}`, { token: org.owner.token });
      expect(res.status).toBe(200);
      expect(res.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.data.map((r: Activity) => r.id));
      cursor = res.body.next_cursor;
      if (!cursor) break;
    }
    expect(seen).toEqual(all.map((r) => r.id));
    expect([...seen].sort().reverse()).toEqual(seen);
  });
});

describe('records made through the services directly', () => {
  it('are audited like those made over HTTP, by the acting user and the request', async () => {
    const org = await newOrg();
    const ctx = await ownerContext(org);
    const customer = await make.customer(ctx, { name: 'Ada' });
    const project = await make.project(ctx, { customer_id: customer.id });
    const task = await make.task(ctx, project.id);
    const content = await make.content(ctx, { title: 'Hello' });
    const by = { user_id: org.owner.id, actor_type: 'user', request_id: ctx.request.requestId, old_data: null };
    await expectAuditRow(
      org,
      { action: 'customer.create', resourceId: customer.id },
      { ...by, new_data: { name: 'Ada' } },
    );
    await expectAuditRow(
      org,
      { action: 'project.create', resourceId: project.id },
      { ...by, new_data: { name: 'Project' } },
    );
    await expectAuditRow(org, { action: 'task.create', resourceId: task.id }, { ...by, new_data: { title: 'Task' } });
    await expectAuditRow(
      org,
      { action: 'content.create', resourceId: content.id },
      { ...by, new_data: { title: 'Hello' } },
    );
  });
});
