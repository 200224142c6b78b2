// D1 round trips per request, counted by the wrapped bindings (x-d1-round-trips), against the
// budgets of docs/architecture.md. A change that adds a query to a hot path fails here.
import { describe, expect, it } from 'vitest';
import { api, newOrg, newUser } from './helpers';

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
