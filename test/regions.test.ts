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
