// Organization API keys: `stk_…` secrets shown once and stored hashed, scoped to a subset of the
// creator's permissions, confined to their organization, revocable, expiring, and tied to their
// creator's membership.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/lib/crypto';
import { uuidv7 } from '../src/lib/ids';
import { api, expectProblem, joinAs, newOrg, type TestOrg, type TestUser } from './helpers';

async function createKey(
  org: TestOrg,
  scopes: string[],
  by: TestUser = org.owner,
  extra: Record<string, unknown> = {},
) {
  const res = await api('POST', `/v1/orgs/${org.slug}/api-keys`, {
    token: by.token,
    body: { name: `key ${scopes.join(' ')}`, scopes, ...extra },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; key: string; prefix: string; scopes: string[]; created_by: string };
}

const listKeys = (org: TestOrg, token = org.owner.token) => api('GET', `/v1/orgs/${org.slug}/api-keys`, { token });

describe('API keys', () => {
  it('creates a key with an stk_ secret shown once; lists never show the secret or its hash', async () => {
    const org = await newOrg();
    const res = await api('POST', `/v1/orgs/${org.slug}/api-keys`, {
      token: org.owner.token,
      body: { name: 'CI deploys', scopes: ['organization:read', 'members:read', 'organization:read'] },
    });
    expect(res.status).toBe(201);
    expect(res.body.key).toMatch(/^stk_[A-Za-z0-9_-]{40,}$/);
    expect(res.body).toMatchObject({
      name: 'CI deploys',
      scopes: ['organization:read', 'members:read'], // duplicates dropped
      created_by: org.owner.id,
      expires_at: null,
      last_used_at: null,
      revoked_at: null,
    });
    expect(res.body.key.startsWith(res.body.prefix)).toBe(true);
    expect(res.body.prefix.length).toBeLessThan(res.body.key.length / 2);
    expect(res.body).not.toHaveProperty('key_hash');

    const list = await listKeys(org);
    expect(list.status).toBe(200);
    expect(list.body.data).toHaveLength(1);
    expect(list.body.data[0]).toMatchObject({ id: res.body.id, prefix: res.body.prefix });
    for (const item of list.body.data) {
      expect(item).not.toHaveProperty('key');
      expect(item).not.toHaveProperty('key_hash');
    }
    expect(JSON.stringify(list.body)).not.toContain(res.body.key);

    // Only the hash is stored.
    const row = await env.CATALOG.prepare('SELECT key_hash FROM api_keys WHERE id = ?')
      .bind(res.body.id)
      .first<{ key_hash: string }>();
    expect(row!.key_hash).toBe(await sha256Hex(res.body.key));
  });

  it('works as a Bearer token on its organization, by slug and by id', async () => {
    const org = await newOrg();
    const { key } = await createKey(org, ['organization:read']);
    const bySlug = await api('GET', `/v1/orgs/${org.slug}`, { token: key });
    expect(bySlug.status, JSON.stringify(bySlug.body)).toBe(200);
    expect(bySlug.body).toMatchObject({ id: org.id, slug: org.slug, role: null });
    expect((await api('GET', `/v1/orgs/${org.id}`, { token: key })).status).toBe(200);
  });

  it('answers 404 for another organization, as if it did not exist', async () => {
    const org = await newOrg();
    const other = await newOrg(org.owner); // same creator, still another organization
    const { key } = await createKey(org, ['organization:read']);
    expectProblem(await api('GET', `/v1/orgs/${other.slug}`, { token: key }), 404, 'not_found');
    expectProblem(await api('GET', `/v1/orgs/${other.id}/members`, { token: key }), 404, 'not_found');
  });

  it('answers 401 to an unknown stk_ secret', async () => {
    const org = await newOrg();
    expectProblem(await api('GET', `/v1/orgs/${org.slug}`, { token: `stk_${'A'.repeat(43)}` }), 401, 'unauthenticated');
  });

  it('answers 403 to a call outside the key’s scopes', async () => {
    const org = await newOrg();
    const { key } = await createKey(org, ['organization:read']);
    expectProblem(await api('GET', `/v1/orgs/${org.slug}/members`, { token: key }), 403, 'forbidden');
    expectProblem(await api('PATCH', `/v1/orgs/${org.slug}`, { token: key, body: { name: 'Nope' } }), 403, 'forbidden');
    const scoped = await createKey(org, ['members:read']);
    expect((await api('GET', `/v1/orgs/${org.slug}/members`, { token: scoped.key })).status).toBe(200);
  });

  it('refuses scopes beyond the creator’s permissions: an admin asking for billing:manage gets 403', async () => {
    const org = await newOrg();
    const admin = await joinAs(org, 'admin');
    const res = await api('POST', `/v1/orgs/${org.slug}/api-keys`, {
      token: admin.token,
      body: { name: 'too much', scopes: ['organization:read', 'billing:manage'] },
    });
    expectProblem(res, 403, 'forbidden');
    expect(res.body.detail).toContain('billing:manage');
    expect((await listKeys(org)).body.data).toHaveLength(0);
    // Within their permissions it works.
    await createKey(org, ['members:manage', 'api_keys:read'], admin);
  });

  it('answers 400 to an unknown scope, naming it', async () => {
    const org = await newOrg();
    const res = await api('POST', `/v1/orgs/${org.slug}/api-keys`, {
      token: org.owner.token,
      body: { name: 'typo', scopes: ['organization:read', 'everything:all'] },
    });
    expectProblem(res, 400, 'invalid_request');
    expect(res.body.errors).toEqual([expect.objectContaining({ path: 'scopes.1' })]);
  });

  it('answers 400 to an empty scope list and to an expires_at in the past', async () => {
    const org = await newOrg();
    expectProblem(
      await api('POST', `/v1/orgs/${org.slug}/api-keys`, {
        token: org.owner.token,
        body: { name: 'none', scopes: [] },
      }),
      400,
      'invalid_request',
    );
    const past = await api('POST', `/v1/orgs/${org.slug}/api-keys`, {
      token: org.owner.token,
      body: { name: 'past', scopes: ['organization:read'], expires_at: '2020-01-01T00:00:00Z' },
    });
    expectProblem(past, 400, 'invalid_request');
    expect(past.body.errors).toEqual([expect.objectContaining({ path: 'expires_at' })]);
  });

  it('refuses a member (no api_keys:manage) creating a key: 403', async () => {
    const org = await newOrg();
    const member = await joinAs(org, 'member');
    expectProblem(
      await api('POST', `/v1/orgs/${org.slug}/api-keys`, {
        token: member.token,
        body: { name: 'mine', scopes: ['organization:read'] },
      }),
      403,
      'forbidden',
    );
  });

  it('cannot reach /v1/me or create organizations (user-only routes): 403', async () => {
    const org = await newOrg();
    const { key } = await createKey(org, ['organization:read']);
    expectProblem(await api('GET', '/v1/me', { token: key }), 403, 'forbidden');
    expectProblem(await api('POST', '/v1/orgs', { token: key, body: { name: 'From a key' } }), 403, 'forbidden');
  });

  it('stops working once revoked (204, then 401); revoking twice is still 204', async () => {
    const org = await newOrg();
    const created = await createKey(org, ['organization:read']);
    expect((await api('GET', `/v1/orgs/${org.slug}`, { token: created.key })).status).toBe(200); // access now cached

    const revoke = await api('DELETE', `/v1/orgs/${org.slug}/api-keys/${created.id}`, { token: org.owner.token });
    expect(revoke.status).toBe(204);
    expectProblem(await api('GET', `/v1/orgs/${org.slug}`, { token: created.key }), 401, 'unauthenticated');

    const again = await api('DELETE', `/v1/orgs/${org.slug}/api-keys/${created.id}`, { token: org.owner.token });
    expect(again.status).toBe(204);
    const [listed] = (await listKeys(org)).body.data;
    expect(listed.revoked_at).toEqual(expect.any(String));
  });

  it('answers 404 to revoking a key of another organization, and leaves it working', async () => {
    const org = await newOrg();
    const other = await newOrg(org.owner);
    const created = await createKey(other, ['organization:read']);
    expectProblem(
      await api('DELETE', `/v1/orgs/${org.slug}/api-keys/${created.id}`, { token: org.owner.token }),
      404,
      'not_found',
    );
    expect((await api('GET', `/v1/orgs/${other.slug}`, { token: created.key })).status).toBe(200);
  });

  it('answers 401 to an expired key, on its own organization and on any other', async () => {
    const org = await newOrg();
    const other = await newOrg();
    const secret = `stk_expired_${crypto.randomUUID().replace(/-/g, '')}`;
    await env.CATALOG.prepare(
      `INSERT INTO api_keys (id, organization_id, created_by, name, prefix, key_hash, scopes, expires_at)
       VALUES (?, ?, ?, 'expired', ?, ?, ?, ?)`,
    )
      .bind(
        uuidv7(),
        org.id,
        org.owner.id,
        secret.slice(0, 12),
        await sha256Hex(secret),
        JSON.stringify(['organization:read']),
        new Date(Date.now() - 60_000).toISOString(),
      )
      .run();
    const res = await api('GET', `/v1/orgs/${org.slug}`, { token: secret });
    expectProblem(res, 401, 'unauthenticated');
    expect(res.body.detail).toMatch(/expired/);
    // Expired credentials are a 401 wherever they are sent, like revoked ones.
    expectProblem(await api('GET', `/v1/orgs/${other.slug}`, { token: secret }), 401, 'unauthenticated');
  });

  it('keeps working until a future expires_at', async () => {
    const org = await newOrg();
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const created = await createKey(org, ['organization:read'], org.owner, { expires_at: expiresAt });
    expect(created).toMatchObject({ expires_at: expiresAt });
    expect((await api('GET', `/v1/orgs/${org.slug}`, { token: created.key })).status).toBe(200);
  });

  it('records last_used_at after the key is used', async () => {
    const org = await newOrg();
    const created = await createKey(org, ['organization:read']);
    const before = Date.now();
    expect((await api('GET', `/v1/orgs/${org.slug}`, { token: created.key })).status).toBe(200);

    let lastUsed: string | null = null;
    for (let attempt = 0; attempt < 50 && !lastUsed; attempt++) {
      const [listed] = (await listKeys(org)).body.data;
      lastUsed = listed.last_used_at;
      if (!lastUsed) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(lastUsed).not.toBeNull();
    expect(Date.parse(lastUsed!)).toBeGreaterThanOrEqual(before - 1000);
  });

  it('stops working when its creator is removed from the organization', async () => {
    const org = await newOrg();
    const admin = await joinAs(org, 'admin');
    const created = await createKey(org, ['organization:read'], admin);
    expect((await api('GET', `/v1/orgs/${org.slug}`, { token: created.key })).status).toBe(200); // cached now

    expect((await api('DELETE', `/v1/orgs/${org.slug}/members/${admin.id}`, { token: org.owner.token })).status).toBe(
      204,
    );
    expectProblem(await api('GET', `/v1/orgs/${org.slug}`, { token: created.key }), 401, 'unauthenticated');
  });

  it('is revoked (audited) when its creator is removed, and does not come back when they are re-added, even as a viewer', async () => {
    const org = await newOrg();
    const admin = await joinAs(org, 'admin');
    const keys = [
      await createKey(org, ['organization:read'], admin),
      await createKey(org, ['organization:read', 'members:read'], admin),
    ];
    const owners = await createKey(org, ['organization:read']);

    expect((await api('DELETE', `/v1/orgs/${org.slug}/members/${admin.id}`, { token: org.owner.token })).status).toBe(
      204,
    );
    const listed = new Map(
      (await listKeys(org)).body.data.map((k: { id: string; revoked_at: string | null }) => [k.id, k.revoked_at]),
    );
    for (const key of keys) expect(listed.get(key.id)).not.toBeNull();
    expect(listed.get(owners.id)).toBeNull();
    for (const key of keys) {
      const log = await api('GET', `/v1/orgs/${org.slug}/activity?resource_id=${key.id}&action=api_key.revoke`, {
        token: org.owner.token,
      });
      expect(log.body.data).toHaveLength(1);
      expect(log.body.data[0]).toMatchObject({
        user_id: org.owner.id,
        new_data: { revoked_at: listed.get(key.id), reason: 'its creator left the organization' },
      });
    }

    const again = await api('POST', `/v1/orgs/${org.slug}/members`, {
      token: org.owner.token,
      body: { email: admin.email, role: 'viewer' },
    });
    expect(again.status).toBe(201);
    for (const key of keys)
      expectProblem(await api('GET', `/v1/orgs/${org.slug}`, { token: key.key }), 401, 'unauthenticated');
    expect((await api('GET', `/v1/orgs/${org.slug}`, { token: owners.key })).status).toBe(200);
  });

  it('revokes the keys of a member who leaves, and none when the removal is refused (the last owner)', async () => {
    const org = await newOrg();
    const member = await joinAs(org, 'member');
    await api('PATCH', `/v1/orgs/${org.slug}/members/${member.id}`, {
      token: org.owner.token,
      body: { permissions: { grant: ['api_keys:manage'] } },
    });
    const key = await createKey(org, ['organization:read'], member);
    expect((await api('DELETE', `/v1/orgs/${org.slug}/members/${member.id}`, { token: member.token })).status).toBe(
      204,
    );
    expect((await listKeys(org)).body.data.find((k: { id: string }) => k.id === key.id).revoked_at).not.toBeNull();

    const owners = await createKey(org, ['organization:read']);
    expectProblem(
      await api('DELETE', `/v1/orgs/${org.slug}/members/${org.owner.id}`, { token: org.owner.token }),
      409,
      'conflict',
    );
    expect((await listKeys(org)).body.data.find((k: { id: string }) => k.id === owners.id).revoked_at).toBeNull();
    expect((await api('GET', `/v1/orgs/${org.slug}`, { token: owners.key })).status).toBe(200);
    const log = await api('GET', `/v1/orgs/${org.slug}/activity?resource_id=${owners.id}`, { token: org.owner.token });
    expect(log.body.data.map((r: { action: string }) => r.action)).toEqual(['api_key.create']);
  });

  it('revokes every key of a removed member, however many (more than D1 binds parameters)', async () => {
    const org = await newOrg();
    const admin = await joinAs(org, 'admin');
    const ids = Array.from({ length: 120 }, () => uuidv7());
    await env.CATALOG.batch(
      ids.map((id) =>
        env.CATALOG.prepare(
          'INSERT INTO api_keys (id, organization_id, created_by, name, prefix, key_hash, scopes) VALUES (?, ?, ' +
            "?, 'bulk', 'stk_bulk', ?, '[\"organization:read\"]')",
        ).bind(id, org.id, admin.id, `hash-${id}`),
      ),
    );
    expect((await api('DELETE', `/v1/orgs/${org.slug}/members/${admin.id}`, { token: org.owner.token })).status).toBe(
      204,
    );
    const live = await env.CATALOG.prepare(
      'SELECT count(*) AS n FROM api_keys WHERE created_by = ? AND revoked_at IS NULL',
    )
      .bind(admin.id)
      .first<{ n: number }>();
    expect(live!.n).toBe(0);
    const log = await api('GET', `/v1/orgs/${org.slug}/activity?action=api_key.revoke&limit=100`, {
      token: org.owner.token,
    });
    expect(log.body.data).toHaveLength(100);
    expect(log.body.next_cursor).not.toBeNull();
  });

  it('never works for a later membership of its creator, even when it was not revoked', async () => {
    const org = await newOrg();
    const admin = await joinAs(org, 'admin');
    const key = await createKey(org, ['organization:read'], admin);
    // Removed without the revocation (a key created while its creator was being removed).
    await env.CATALOG.prepare('DELETE FROM organization_members WHERE organization_id = ? AND user_id = ?')
      .bind(org.id, admin.id)
      .run();
    expect(
      (
        await api('POST', `/v1/orgs/${org.slug}/members`, {
          token: org.owner.token,
          body: { email: admin.email, role: 'admin' },
        })
      ).status,
    ).toBe(201);
    expectProblem(await api('GET', `/v1/orgs/${org.slug}`, { token: key.key }), 401, 'unauthenticated');
  });

  it('loses what its creator loses: a demoted creator’s key cannot use the dropped permissions', async () => {
    const org = await newOrg();
    const admin = await joinAs(org, 'admin');
    const created = await createKey(org, ['organization:read', 'api_keys:read'], admin);
    expect((await api('GET', `/v1/orgs/${org.slug}/api-keys`, { token: created.key })).status).toBe(200);

    expect(
      (
        await api('PATCH', `/v1/orgs/${org.slug}/members/${admin.id}`, {
          token: org.owner.token,
          body: { role: 'member' },
        })
      ).status,
    ).toBe(200);
    expectProblem(await api('GET', `/v1/orgs/${org.slug}/api-keys`, { token: created.key }), 403, 'forbidden');
    expect((await api('GET', `/v1/orgs/${org.slug}`, { token: created.key })).status).toBe(200);
  });

  it('cannot remove its creator from the organization without members:manage (a key does not "leave")', async () => {
    const org = await newOrg();
    const admin = await joinAs(org, 'admin');
    const created = await createKey(org, ['organization:read'], admin);
    expectProblem(
      await api('DELETE', `/v1/orgs/${org.slug}/members/${admin.id}`, { token: created.key }),
      403,
      'forbidden',
    );
    const members = await api('GET', `/v1/orgs/${org.slug}/members`, { token: org.owner.token });
    expect(members.body.data.map((m: { user_id: string }) => m.user_id)).toContain(admin.id);
  });
});
