// Placement by region (issue 16): an organization's shard is in the region it asks for, or the one
// nearest its creator; `shards` rows say where each SHARD_n lives (locally: scripts/local-shards.sql).
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { regionsFor } from '../src/db/places';
import { api, expectProblem, newOrg, newUser } from './helpers';

const shardOf = async (orgId: string) =>
  (await env.CATALOG.prepare('SELECT shard FROM organizations WHERE id = ?').bind(orgId).first<{ shard: number }>())!
    .shard;

const create = (token: string, body: Record<string, unknown>) =>
  api('POST', '/v1/orgs', { token, body: { name: `Region ${crypto.randomUUID().slice(0, 8)}`, ...body } });

describe('placement by region', () => {
  it("places an organization on a shard of the region asked for, and shows it as the organization's data_region", async () => {
    const owner = await newUser();
    for (const [region, shard] of [
      ['weur', 1],
      ['eu', 2],
      ['enam', 0],
    ] as const) {
      const created = await create(owner.token, { data_region: region });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(created.body.data_region).toBe(region);
      expect(await shardOf(created.body.id)).toBe(shard);
      const read = await api('GET', `/v1/orgs/${created.body.slug}`, { token: owner.token });
      expect(read.body.data_region).toBe(region);
    }
  });

  it('without data_region, takes the region nearest the request (DEFAULT_DATA_REGION locally), never eu', async () => {
    const created = await create((await newUser()).token, {});
    expect(created.status).toBe(201);
    expect(created.body.data_region).toBe('enam');
    expect(await shardOf(created.body.id)).toBe(0);
  });

  it('orders the regions a request may go to by distance: the nearest first, eu only when asked for', () => {
    expect(regionsFor(undefined, { continent: 'EU', longitude: '2.35' }, 'enam')[0]).toBe('weur');
    expect(regionsFor(undefined, { continent: 'EU', longitude: '24.9' }, 'enam')[0]).toBe('eeur');
    expect(regionsFor(undefined, { continent: 'NA', longitude: '-122.4' }, 'enam')[0]).toBe('wnam');
    expect(regionsFor(undefined, { continent: 'AS', longitude: '139.7' }, 'enam').slice(0, 2)).toEqual(['apac', 'oc']);
    expect(regionsFor(undefined, undefined, 'weur')[0]).toBe('weur');
    expect(regionsFor(undefined, { continent: 'EU', longitude: '2.35' }, 'enam')).not.toContain('eu');
    expect(regionsFor('eu', { continent: 'NA', longitude: '-74' }, 'enam')).toEqual(['eu']);
  });

  it('answers 422 naming data_region and the regions on offer when the region asked for has no open shard', async () => {
    const owner = await newUser();
    const res = await create(owner.token, { data_region: 'apac' });
    expectProblem(res, 422, 'region_unavailable');
    expect(res.body.errors[0].path).toBe('data_region');
    expect(res.body.detail).toContain('apac');
    expect(res.body.detail).toContain('enam, eu, weur');
    // A closed shard takes no new organizations; the others go on.
    await env.CATALOG.prepare('UPDATE shards SET open = 0 WHERE shard = 1').run();
    try {
      const closed = await create(owner.token, { data_region: 'weur' });
      expectProblem(closed, 422, 'region_unavailable');
      expect(closed.body.detail).toContain('enam, eu.');
    } finally {
      await env.CATALOG.prepare('UPDATE shards SET open = 1 WHERE shard = 1').run();
    }
    const { count } = (await env.CATALOG.prepare(
      "SELECT count(*) AS count FROM organizations WHERE name LIKE 'Region %'",
    ).first<{ count: number }>())!;
    expect((await create(owner.token, {})).status).toBe(201);
    const after = (await env.CATALOG.prepare(
      "SELECT count(*) AS count FROM organizations WHERE name LIKE 'Region %'",
    ).first<{ count: number }>())!;
    expect(after.count).toBe(count + 1); // the refused ones left nothing behind
  });

  it('refuses an unknown region (400) and a change of data_region on PATCH, which is a move (400)', async () => {
    const org = await newOrg();
    expectProblem(await create(org.owner.token, { data_region: 'mars' }), 400, 'invalid_request');
    const patch = await api('PATCH', `/v1/orgs/${org.slug}`, { token: org.owner.token, body: { data_region: 'weur' } });
    expectProblem(patch, 400, 'invalid_request');
    expect(JSON.stringify(patch.body)).toContain('move');
  });
});

describe('shard capacity: GET and PATCH /v1/admin/shards', () => {
  const admin = async () => {
    const user = await newUser('admin');
    await env.CATALOG.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(user.id).run();
    return user;
  };

  it('shows each shard with its place, organizations, rows and bytes against the D1 limit; platform admins only', async () => {
    const org = await newOrg(undefined, { data_region: 'weur' });
    const by = await admin();
    const res = await api('GET', '/v1/admin/shards', { token: by.token });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.data.map((s: { binding: string; region: string }) => [s.binding, s.region])).toEqual([
      ['SHARD_0', 'enam'],
      ['SHARD_1', 'weur'],
      ['SHARD_2', 'eu'],
    ]);
    const shard1 = res.body.data[1];
    const { count } = (await env.CATALOG.prepare('SELECT count(*) AS count FROM organizations WHERE shard = 1').first<{
      count: number;
    }>())!;
    expect(shard1).toMatchObject({ open: true, organizations: count, limit_bytes: 10_000_000_000 });
    expect(shard1.rows).toBeGreaterThan(0); // org's organization.create audit row at least
    expect(shard1.bytes).toBeGreaterThan(0);
    expect(shard1.used).toBeCloseTo(shard1.bytes / 10_000_000_000);
    // One more row on the shard shows in its count.
    await api('POST', `/v1/orgs/${org.slug}/customers`, { token: org.owner.token, body: { name: 'Counted' } });
    const again = await api('GET', '/v1/admin/shards', { token: by.token });
    expect(again.body.data[1].rows).toBeGreaterThan(shard1.rows);
    expectProblem(await api('GET', '/v1/admin/shards', { token: org.owner.token }), 403, 'forbidden');
  });

  it('closes a shard to new organizations and opens it again, audited in the platform activity log', async () => {
    const by = await admin();
    const owner = await newUser();
    try {
      const closed = await api('PATCH', '/v1/admin/shards/SHARD_1', { token: by.token, body: { open: false } });
      expect(closed.status, JSON.stringify(closed.body)).toBe(200);
      expect(closed.body).toMatchObject({ binding: 'SHARD_1', region: 'weur', open: false });
      expectProblem(await create(owner.token, { data_region: 'weur' }), 422, 'region_unavailable');
      // Closing it again changes nothing and writes no second row.
      await api('PATCH', '/v1/admin/shards/SHARD_1', { token: by.token, body: { open: false } });
    } finally {
      const opened = await api('PATCH', '/v1/admin/shards/SHARD_1', { token: by.token, body: { open: true } });
      expect(opened.body.open).toBe(true);
    }
    expect((await create(owner.token, { data_region: 'weur' })).status).toBe(201);
    const { results } = await env.CATALOG.prepare(
      "SELECT action, resource_type, old_data, new_data FROM platform_activity_logs WHERE user_id = ? AND resource_type = 'shard' " +
        'ORDER BY id',
    )
      .bind(by.id)
      .all();
    expect(results).toEqual([
      { action: 'shard.close', resource_type: 'shard', old_data: '{"open":true}', new_data: '{"open":false}' },
      { action: 'shard.open', resource_type: 'shard', old_data: '{"open":false}', new_data: '{"open":true}' },
    ]);
    expectProblem(
      await api('PATCH', '/v1/admin/shards/SHARD_9', { token: by.token, body: { open: true } }),
      404,
      'not_found',
    );
    expectProblem(
      await api('PATCH', '/v1/admin/shards/SHARD_1', { token: by.token, body: { open: 'no' } }),
      400,
      'invalid_request',
    );
    expectProblem(
      await api('PATCH', '/v1/admin/shards/SHARD_1', { token: owner.token, body: { open: false } }),
      403,
      'forbidden',
    );
  });
});
