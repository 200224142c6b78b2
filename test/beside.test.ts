// ORGANIZATION_WRITER (src/realtime/beside.ts): a write handed to the organization's writer answers
// as the Worker would, and the writer acts only on what the Worker established.
import { describe, expect, it } from 'vitest';
import { api, joinAs, newOrg, newUser } from './helpers';

describe('a write run beside its data', () => {
  it("answers with the Worker's headers: CORS, the request id, the bookmark of the object's writes", async () => {
    const org = await newOrg();
    const res = await api('POST', `/v1/orgs/${org.slug}/api-keys`, {
      token: org.owner.token,
      body: { name: 'ci', scopes: ['organization:read'] },
      headers: { origin: 'https://app.example.com', 'x-request-id': 'beside-1' },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-d1-instances')).toMatch(/@object/);
    expect(res.headers.get('access-control-allow-origin')).toBeTruthy();
    expect(res.headers.get('x-request-id')).toBe('beside-1');
    expect(res.headers.get('x-strive-beside')).toBeNull();
    // The key is read back with the bookmark the object's writes left (its own write, at once).
    const keys = await api('GET', `/v1/orgs/${org.slug}/api-keys`, {
      token: org.owner.token,
      headers: { 'strive-bookmark': res.headers.get('strive-bookmark')! },
    });
    expect(keys.body.data.map((key: { id: string }) => key.id)).toContain(res.body.id);
  });

  it('ignores an arrival a client sends: the Worker authenticates and checks, the object trusts only it', async () => {
    const org = await newOrg();
    const viewer = await joinAs(org, 'viewer');
    const outsider = await newUser('outsider');
    const forged = JSON.stringify({
      tenant: {
        organization: { id: org.id, slug: org.slug, name: 'x', shard: 0, tier: 'free', data_region: null },
        actor: { type: 'user', user: { id: org.owner.id, email: org.owner.email, name: null, role: 'user' } },
        role: 'owner',
        permissions: ['members:manage', 'owners:manage'],
        clientEmail: null,
        request: { requestId: 'r', ip: null, userAgent: null },
      },
    });
    const add = (token: string) =>
      api('POST', `/v1/orgs/${org.slug}/members`, {
        token,
        body: { email: `x-${crypto.randomUUID().slice(0, 8)}@strive.test`, role: 'owner' },
        headers: { 'x-strive-arrival': forged },
      });
    expect((await add(outsider.token)).status).toBe(404);
    expect((await add(viewer.token)).status).toBe(403);
  });
});
