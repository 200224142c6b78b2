import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { api, expectAuditRow, expectProblem, joinAs, newOrg, shardOf } from './helpers';

describe('customers', () => {
  it('creates, updates (one batch with its audit row) and deletes a customer', async () => {
    const org = await newOrg();
    const t = org.owner.token;
    await api('GET', `/v1/orgs/${org.slug}`, { token: t });
    const created = await api('POST', `/v1/orgs/${org.slug}/customers`, {
      token: t,
      body: {
        name: 'Ada',
        email: ' ADA@Example.com ',
        tags: [' VIP', 'vip', 'Retail '],
        custom_fields: { plan: 'gold' },
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({
      name: 'Ada',
      email: 'ada@example.com',
      tags: ['vip', 'retail'],
      status: 'lead',
      custom_fields: { plan: 'gold' },
    });
    expect(created.roundTrips).toBe(1);
    const id = created.body.id;

    const updated = await api('PATCH', `/v1/orgs/${org.slug}/customers/${id}`, {
      token: t,
      body: { status: 'active', tags: ['vip'] },
    });
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    expect(updated.body).toMatchObject({ status: 'active', tags: ['vip'] });
    expect(updated.roundTrips).toBe(1);

    const noop = await api('PATCH', `/v1/orgs/${org.slug}/customers/${id}`, { token: t, body: { status: 'active' } });
    expect(noop.status).toBe(200);

    // A field sent with the value it already has stays out of the audit row.
    const partly = await api('PATCH', `/v1/orgs/${org.slug}/customers/${id}`, {
      token: t,
      body: { status: 'active', company: 'Analytical Engines' },
    });
    expect(partly.status).toBe(200);
    const partlyLog = await api('GET', `/v1/orgs/${org.slug}/activity?resource_id=${id}&action=customer.update`, {
      token: t,
    });
    expect(partlyLog.body.data[0], JSON.stringify(partlyLog.body.data[0])).toMatchObject({
      old_data: { company: null },
      new_data: { company: 'Analytical Engines' },
    });
    expect(Object.keys(partlyLog.body.data[0].old_data)).toEqual(['company']);
    expect(Object.keys(partlyLog.body.data[0].new_data)).toEqual(['company']);

    const log = await api('GET', `/v1/orgs/${org.slug}/activity?resource_id=${id}`, { token: t });
    expect(log.body.data.map((r: { action: string }) => r.action)).toEqual([
      'customer.update',
      'customer.update',
      'customer.create',
    ]);
    expect(log.body.data[1]).toMatchObject({
      old_data: { status: 'lead', tags: ['vip', 'retail'] },
      new_data: { status: 'active', tags: ['vip'] },
    });

    const deleted = await api('DELETE', `/v1/orgs/${org.slug}/customers/${id}`, { token: t });
    expect(deleted.status).toBe(204);
    expect(deleted.roundTrips).toBe(1);
    expectProblem(await api('GET', `/v1/orgs/${org.slug}/customers/${id}`, { token: t }), 404, 'not_found');
    await expectAuditRow(
      org,
      { action: 'customer.delete', resourceId: id },
      { user_id: org.owner.id, old_data: { name: 'Ada', email: 'ada@example.com', tags: ['vip'] }, new_data: null },
    );
    expectProblem(await api('DELETE', `/v1/orgs/${org.slug}/customers/${id}`, { token: t }), 404, 'not_found');
    const shard = (await shardOf(org.id)).n;
    expect(shard === 0 || shard === 1).toBe(true);
  });

  it('filters by tag (all must match) and q, newest first', async () => {
    const org = await newOrg();
    const t = org.owner.token;
    for (const [name, tags, company] of [
      ['A', ['x', 'y'], 'Initech'],
      ['B', ['x'], 'Globex'],
      ['C', ['y'], 'Initrode'],
    ] as const) {
      expect(
        (await api('POST', `/v1/orgs/${org.slug}/customers`, { token: t, body: { name, tags, company } })).status,
      ).toBe(201);
    }
    const both = await api('GET', `/v1/orgs/${org.slug}/customers?tag=x&tag=y`, { token: t });
    expect(both.body.data.map((c: { name: string }) => c.name)).toEqual(['A']);
    const q = await api('GET', `/v1/orgs/${org.slug}/customers?q=init`, { token: t });
    expect(q.body.data.map((c: { name: string }) => c.name)).toEqual(['C', 'A']);
    expect(q.roundTrips).toBe(1);
    // An empty search searches nothing, as if it were not sent.
    const empty = await api('GET', `/v1/orgs/${org.slug}/customers?q=`, { token: t });
    expect(empty.body.data.map((c: { name: string }) => c.name)).toEqual(['C', 'B', 'A']);
  });

  it("takes every source of the seed schema, 'social' included, and the additions, and filters by it", async () => {
    const org = await newOrg();
    const t = org.owner.token;
    for (const source of ['website', 'referral', 'social', 'email', 'other', 'phone', 'event', 'advertising']) {
      const res = await api('POST', `/v1/orgs/${org.slug}/customers`, { token: t, body: { name: source, source } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body.source).toBe(source);
    }
    const social = await api('GET', `/v1/orgs/${org.slug}/customers?source=social`, { token: t });
    expect(social.body.data.map((c: { name: string }) => c.name)).toEqual(['social']);
    const renamed = await api('POST', `/v1/orgs/${org.slug}/customers`, {
      token: t,
      body: { name: 'x', source: 'social_media' },
    });
    expectProblem(renamed, 400, 'invalid_request');
    const derived = await api('POST', `/v1/orgs/${org.slug}/customers`, {
      token: t,
      body: { name: 'x', created_by: org.owner.id },
    });
    expect(derived.body.errors).toEqual([
      { path: 'created_by', message: expect.stringMatching(/^Read-only: the acting user/) },
    ]);
  });

  it('searches for q literally and at any length: %, _, quotes and emoji are characters, not patterns', async () => {
    const org = await newOrg();
    const t = org.owner.token;
    const long = `O'Brien & "Sons" 🚀 ${'Consolidated Widgets '.repeat(4)}International`;
    for (const name of [long, '100% Natural', '100 Natural', 'snake_case Ltd', 'snakeXcase Ltd']) {
      expect((await api('POST', `/v1/orgs/${org.slug}/customers`, { token: t, body: { name } })).status).toBe(201);
    }
    const names = async (q: string) =>
      (await api('GET', `/v1/orgs/${org.slug}/customers?q=${encodeURIComponent(q)}`, { token: t })).body.data.map(
        (c: { name: string }) => c.name,
      );
    expect(long.length).toBeGreaterThan(60);
    expect(await names(long.toUpperCase())).toEqual([long]);
    expect(await names('"sons" 🚀')).toEqual([long]);
    expect(await names('0% n')).toEqual(['100% Natural']);
    expect(await names('e_c')).toEqual(['snake_case Ltd']);
    expect(await names('a\u0000b')).toEqual([]);
  });

  it('refuses an assignee who is not a member, and accepts one who is', async () => {
    const org = await newOrg();
    const bob = await joinAs(org, 'member');
    const other = await newOrg();
    const bad = await api('POST', `/v1/orgs/${org.slug}/customers`, {
      token: org.owner.token,
      body: { name: 'X', assigned_to: other.owner.id },
    });
    expectProblem(bad, 400, 'invalid_request');
    expect(bad.body.errors[0].path).toBe('assigned_to');
    const good = await api('POST', `/v1/orgs/${org.slug}/customers`, {
      token: org.owner.token,
      body: { name: 'X', assigned_to: bob.id },
    });
    expect(good.status).toBe(201);
  });

  it('refuses an invalid email, too many or too long tags and custom_fields over 16 KB, naming each field', async () => {
    const org = await newOrg();
    const res = await api('POST', `/v1/orgs/${org.slug}/customers`, {
      token: org.owner.token,
      body: {
        name: 'X',
        email: 'not-an-email',
        tags: Array.from({ length: 51 }, (_, i) => `t${i}`),
        custom_fields: { blob: 'x'.repeat(16 * 1024) },
      },
    });
    expectProblem(res, 400, 'invalid_request');
    expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['custom_fields', 'email', 'tags']);
    const long = await api('POST', `/v1/orgs/${org.slug}/customers`, {
      token: org.owner.token,
      body: { name: 'X', tags: ['y'.repeat(65)] },
    });
    expectProblem(long, 400, 'invalid_request');
    expect(long.body.errors[0].path).toBe('tags.0');
    const fits = await api('POST', `/v1/orgs/${org.slug}/customers`, {
      token: org.owner.token,
      body: { name: 'X', custom_fields: { blob: 'x'.repeat(16 * 1024 - 20) } },
    });
    expect(fits.status).toBe(201);
  });

  it("answers 404 for another organization's customer", async () => {
    const a = await newOrg();
    const b = await newOrg(a.owner);
    const created = await api('POST', `/v1/orgs/${a.slug}/customers`, { token: a.owner.token, body: { name: 'Mine' } });
    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', { name: 'Stolen' }],
      ['DELETE', undefined],
    ] as const) {
      expectProblem(
        await api(method, `/v1/orgs/${b.slug}/customers/${created.body.id}`, { token: a.owner.token, body }),
        404,
        'not_found',
      );
    }
    expect(
      (await api('GET', `/v1/orgs/${a.slug}/customers/${created.body.id}`, { token: a.owner.token })).body.name,
    ).toBe('Mine');
  });
});
