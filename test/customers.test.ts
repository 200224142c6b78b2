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

  // Full-text search: every word of q must begin a word of name, email or company (tokens, not
  // substrings: "ace" no longer finds "Lovelace"). Whatever is typed is text, never FTS5 syntax.
  it('searches words and word beginnings of name, email and company; any characters are text, not syntax', async () => {
    const org = await newOrg();
    const t = org.owner.token;
    const long = `O'Brien & "Sons" 🚀 ${'Consolidated Widgets '.repeat(4)}International`;
    const people = [
      [long, null, null],
      ['100% Natural', null, null],
      ['snake_case Ltd', null, null],
      ['Ada Lovelace', 'ada@analytical.example', 'Engines (NEAR) Ltd'],
      ['Zoë Ørsted-Müller', 'zoe@example.com', null],
      ['Ren 東京', null, 'AND OR NOT'],
    ] as const;
    for (const [name, email, company] of people) {
      const res = await api('POST', `/v1/orgs/${org.slug}/customers`, { token: t, body: { name, email, company } });
      expect(res.status).toBe(201);
    }
    const search = (q: string) => api('GET', `/v1/orgs/${org.slug}/customers?q=${encodeURIComponent(q)}`, { token: t });
    const names = async (q: string) => {
      const res = await search(q);
      expect(res.status, `q=${JSON.stringify(q)}: ${JSON.stringify(res.body)}`).toBe(200);
      return res.body.data.map((c: { name: string }) => c.name);
    };
    expect(long.length).toBeGreaterThan(60);
    expect(await names(long.toUpperCase())).toEqual([long]);
    expect(await names('"sons" 🚀')).toEqual([long]);
    expect(await names('100% n')).toEqual(['100% Natural']);
    expect(await names('snake_case')).toEqual(['snake_case Ltd']);
    expect(await names('ad lov')).toEqual(['Ada Lovelace']);
    expect(await names('ace')).toEqual([]);
    expect(await names('a')).toEqual(['Ren 東京', 'Ada Lovelace']); // 'AND' begins with a
    expect(await names('ada@analytical.example')).toEqual(['Ada Lovelace']);
    expect(await names('ZOE ørsted muller')).toEqual(['Zoë Ørsted-Müller']);
    expect(await names('東京')).toEqual(['Ren 東京']);
    // FTS5's operators and syntax, typed: searched as words, never parsed (an unquoted one is a 500 or another query).
    for (const q of [
      'NEAR(ada lovelace)',
      'engines NEAR ltd',
      'ada*',
      '-ada',
      '^ada',
      'ada:lovelace',
      '(ada)',
      '"ada',
      'ada"',
    ]) {
      expect(await names(q), q).toEqual(['Ada Lovelace']);
    }
    expect(await names('AND OR NOT')).toEqual(['Ren 東京']);
    expect(await names('ada OR zoe')).toEqual([]);
    expect(await names('a\u0000b')).toEqual([]);
    expect(await names(`${'x'.repeat(100)} ${'y'.repeat(99)}`)).toEqual([]);
    // Nothing to search for: refused, naming q.
    for (const q of ['%', '*', '"', '-:^()', '🚀🚀']) {
      const refused = await search(q);
      expectProblem(refused, 400, 'invalid_request');
      expect(refused.body.errors).toEqual([{ path: 'q', message: 'No letter or digit to search for.' }]);
    }
  });

  it('keeps the search index in step with creates, updates and deletes, and within the organization', async () => {
    const org = await newOrg();
    const other = await newOrg();
    const t = org.owner.token;
    const names = async (q: string, o = org) =>
      (
        await api('GET', `/v1/orgs/${o.slug}/customers?q=${encodeURIComponent(q)}`, { token: o.owner.token })
      ).body.data.map((c: { name: string }) => c.name);
    await api('POST', `/v1/orgs/${other.slug}/customers`, { token: other.owner.token, body: { name: 'Grace Hopper' } });
    const created = await api('POST', `/v1/orgs/${org.slug}/customers`, { token: t, body: { name: 'Grace Hopper' } });
    expect(await names('grace')).toEqual(['Grace Hopper']);
    await api('PATCH', `/v1/orgs/${org.slug}/customers/${created.body.id}`, {
      token: t,
      body: { name: 'Grace Brewster', company: 'Navy' },
    });
    expect(await names('hopper')).toEqual([]);
    expect(await names('brewster navy')).toEqual(['Grace Brewster']);
    expect(await names('hopper', other)).toEqual(['Grace Hopper']);
    await api('DELETE', `/v1/orgs/${org.slug}/customers/${created.body.id}`, { token: t });
    expect(await names('grace')).toEqual([]);
    expect(await names('grace', other)).toEqual(['Grace Hopper']);
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
