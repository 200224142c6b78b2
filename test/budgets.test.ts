// D1 round trips per request, counted by the wrapped bindings (x-d1-round-trips), against the
// budgets of docs/architecture.md. A change that adds a query to a hot path fails here.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { api, joinAs, newOrg, newUser, type ApiResponse, type TestOrg } from './helpers';

describe('D1 round-trip budgets', () => {
  it('answers /health without touching D1', async () => {
    // The root's own routes open no D1 sessions at all: nothing is counted, so no count is sent.
    expect((await api('GET', '/health')).headers.get('x-d1-round-trips')).toBeNull();
  });

  it('serves a tenant read in 2 round trips cold (catalog + shard) and 1 warm', async () => {
    const org = await newOrg();
    const cold = await api('GET', `/v1/orgs/${org.slug}/activity`, { token: org.owner.token });
    const warm = await api('GET', `/v1/orgs/${org.slug}/activity`, { token: org.owner.token });
    expect([cold.status, warm.status]).toEqual([200, 200]);
    expect(cold.roundTrips).toBe(2);
    expect(warm.roundTrips).toBe(1);
  });

  it('caches access per organization reference: by id it is a cold read again', async () => {
    const org = await newOrg();
    await api('GET', `/v1/orgs/${org.slug}/activity`, { token: org.owner.token });
    expect((await api('GET', `/v1/orgs/${org.id}/activity`, { token: org.owner.token })).roundTrips).toBe(2);
  });

  it.each(['members', 'api-keys', 'activity'])('lists %s in 1 query when warm (no count, no N+1)', async (list) => {
    const org = await newOrg();
    await api('GET', `/v1/orgs/${org.slug}`, { token: org.owner.token }); // warms the access cache
    const res = await api('GET', `/v1/orgs/${org.slug}/${list}?limit=5`, { token: org.owner.token });
    expect(res.status).toBe(200);
    expect(res.roundTrips).toBe(1);
  });

  it('answers /v1/me with memberships in 1 query', async () => {
    const user = await newUser();
    expect((await api('GET', '/v1/me', { token: user.token })).roundTrips).toBe(1);
  });

  it('writes an API key in 2 round trips warm: its audit row on the shard, the key in the catalog', async () => {
    const org = await newOrg();
    await api('GET', `/v1/orgs/${org.slug}`, { token: org.owner.token });
    const res = await api('POST', `/v1/orgs/${org.slug}/api-keys`, {
      token: org.owner.token,
      body: { name: 'ci', scopes: ['organization:read'] },
    });
    expect(res.status).toBe(201);
    expect(res.roundTrips).toBe(2);
  });

  it('updates an organization in 3 round trips warm (read for the diff, audit row, update) and a no-op in 1', async () => {
    const org = await newOrg();
    await api('GET', `/v1/orgs/${org.slug}`, { token: org.owner.token });
    const update = await api('PATCH', `/v1/orgs/${org.slug}`, {
      token: org.owner.token,
      body: { description: 'changed' },
    });
    expect(update.status).toBe(200);
    expect(update.roundTrips).toBe(3);
    // The update purged this isolate's cached access (its name or slug may have changed).
    await api('GET', `/v1/orgs/${org.slug}`, { token: org.owner.token });
    const noop = await api('PATCH', `/v1/orgs/${org.slug}`, {
      token: org.owner.token,
      body: { description: 'changed' },
    });
    expect(noop.roundTrips).toBe(1);
  });

  it('creates an organization in 3 round trips: the user, one catalog batch, its audit row', async () => {
    const user = await newUser();
    const res = await api('POST', '/v1/orgs', {
      token: user.token,
      body: { name: `Budget ${crypto.randomUUID().slice(0, 8)}` },
    });
    expect(res.status).toBe(201);
    expect(res.roundTrips).toBe(3);
  });

  it('adds 2 catalog round trips for an Idempotency-Key (claim, then store the answer)', async () => {
    const user = await newUser();
    const res = await api('POST', '/v1/orgs', {
      token: user.token,
      body: { name: `Idem ${crypto.randomUUID().slice(0, 8)}` },
      headers: { 'idempotency-key': crypto.randomUUID() },
    });
    expect(res.status).toBe(201);
    expect(res.roundTrips).toBe(5);
  });

  it('adds the same 2 to a DELETE, and a replay costs the claim and the read of the first answer', async () => {
    const org = await newOrg();
    const created = await api('POST', `/v1/orgs/${org.slug}/customers`, {
      token: org.owner.token,
      body: { name: 'Gone' },
    });
    const key = crypto.randomUUID();
    const del = () =>
      api('DELETE', `/v1/orgs/${org.slug}/customers/${created.body.id}`, {
        token: org.owner.token,
        headers: { 'idempotency-key': key },
      });
    const first = await del();
    expect(first.status).toBe(204);
    expect(first.roundTrips).toBe(1 + 2);
    const replay = await del();
    expect(replay.status).toBe(204);
    expect(replay.roundTrips).toBe(2);
  });
});

/**
 * Far hops: the Worker's trips to a D1 primary or to an object placed at the data (x-d1-far-hops).
 * readResponse (helpers.ts) holds every response to at most one; here each write that used to make
 * several states both of its numbers. `beside`: run by the organization's writer (realtime/beside.ts).
 */
describe('far hops: one per write', () => {
  const warm = async (org: TestOrg) => api('GET', `/v1/orgs/${org.slug}`, { token: org.owner.token });
  const key = { 'idempotency-key': crypto.randomUUID() };

  const cases: [string, number, number, (org: TestOrg) => Promise<ApiResponse>][] = [
    [
      'POST member: the user, the audit row, one catalog batch (beside)',
      3,
      1,
      async (org) =>
        api('POST', `/v1/orgs/${org.slug}/members`, {
          token: org.owner.token,
          body: { email: `m-${crypto.randomUUID().slice(0, 8)}@strive.test`, role: 'member' },
        }),
    ],
    [
      'PATCH member: the member, the audit row, the update (beside)',
      3,
      1,
      async (org) => {
        const member = await joinAs(org, 'member');
        await warm(org);
        return api('PATCH', `/v1/orgs/${org.slug}/members/${member.id}`, {
          token: org.owner.token,
          body: { role: 'viewer' },
        });
      },
    ],
    [
      'DELETE member: the member with their keys, the audit rows, one catalog batch (beside)',
      3,
      1,
      async (org) => {
        const member = await joinAs(org, 'member');
        await warm(org);
        return api('DELETE', `/v1/orgs/${org.slug}/members/${member.id}`, { token: org.owner.token });
      },
    ],
    [
      'POST API key: the audit row, the key (beside)',
      2,
      1,
      (org) =>
        api('POST', `/v1/orgs/${org.slug}/api-keys`, {
          token: org.owner.token,
          body: { name: 'k', scopes: ['organization:read'] },
        }),
    ],
    [
      'DELETE API key: the key, the audit row, the revocation (beside)',
      3,
      1,
      async (org) => {
        const created = await api('POST', `/v1/orgs/${org.slug}/api-keys`, {
          token: org.owner.token,
          body: { name: 'k', scopes: ['organization:read'] },
        });
        return api('DELETE', `/v1/orgs/${org.slug}/api-keys/${created.body.id}`, { token: org.owner.token });
      },
    ],
    [
      'PATCH organization: the diff, the audit row, the update, the published slugs (beside)',
      4,
      1,
      (org) => api('PATCH', `/v1/orgs/${org.slug}`, { token: org.owner.token, body: { slug: `${org.slug}-moved` } }),
    ],
    [
      'DELETE organization: its subscription, the audit row, the deletion (beside)',
      3,
      1,
      (org) => api('DELETE', `/v1/orgs/${org.slug}`, { token: org.owner.token }),
    ],
    [
      'POST feed token: the audit row, the hash on the membership (beside)',
      2,
      1,
      (org) => api('POST', `/v1/orgs/${org.slug}/appointments/feed-token`, { token: org.owner.token }),
    ],
    [
      'DELETE feed token: the audit row, the hash cleared (beside)',
      2,
      1,
      (org) => api('DELETE', `/v1/orgs/${org.slug}/appointments/feed-token`, { token: org.owner.token }),
    ],
    [
      'POST asset: the storage reservation, then the row with its audit row and the release (beside)',
      2,
      1,
      (org) =>
        api('POST', `/v1/orgs/${org.slug}/assets?name=a.txt`, {
          token: org.owner.token,
          body: 'a',
          headers: { 'content-type': 'text/plain', 'content-length': '1' },
        }),
    ],
    [
      'a write with an Idempotency-Key: the claim, the write, the answer stored (beside)',
      3,
      1,
      (org) =>
        api('POST', `/v1/orgs/${org.slug}/customers`, { token: org.owner.token, body: { name: 'Once' }, headers: key }),
    ],
    [
      'PUT appointments webhook with an Idempotency-Key (beside)',
      3,
      1,
      (org) =>
        api('PUT', `/v1/orgs/${org.slug}/appointments/webhook`, {
          token: org.owner.token,
          body: { url: 'https://hooks.example.com/appointments' },
          headers: { 'idempotency-key': crypto.randomUUID() },
        }),
    ],
  ];

  it.each(cases)('%s: %i round trips, %i far hop', async (_, trips, far, request) => {
    const org = await newOrg();
    await warm(org);
    const res = await request(org);
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
    expect([res.roundTrips, res.farHops]).toEqual([trips, far]);
  });

  it('archives content as a platform moderator in 1 round trip, 1 far hop: the access audit is off the path', async () => {
    const org = await newOrg();
    const item = (await api('POST', `/v1/orgs/${org.slug}/content`, { token: org.owner.token, body: { title: 'x' } }))
      .body;
    const moderator = await newUser('moderator');
    await env.CATALOG.prepare("UPDATE users SET role = 'moderator' WHERE id = ?").bind(moderator.id).run();
    await api('GET', `/v1/orgs/${org.slug}`, { token: moderator.token });
    const res = await api('POST', `/v1/orgs/${org.slug}/content/${item.id}/archive`, { token: moderator.token });
    expect(res.status).toBe(200);
    expect([res.roundTrips, res.farHops]).toEqual([1, 1]);
  });

  it('creates an organization in 2 far hops, the one exception: its shard is chosen by its first trip', async () => {
    const user = await newUser();
    const res = await api('POST', '/v1/orgs', {
      token: user.token,
      body: { name: `Far ${crypto.randomUUID().slice(0, 8)}` },
    });
    expect(res.status).toBe(201);
    expect([res.roundTrips, res.farHops]).toEqual([3, 2]);
  });
});
