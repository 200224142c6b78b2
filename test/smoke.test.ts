import { describe, expect, it } from 'vitest';
import { api, newOrg, newUser } from './helpers';

describe('smoke', () => {
  it('serves /health', async () => {
    const res = await api('GET', '/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });
  it('creates an org and reads it', async () => {
    const org = await newOrg();
    const res = await api('GET', `/v1/orgs/${org.slug}`, { token: org.owner.token });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.role).toBe('owner');
    const me = await api('GET', '/v1/me', { token: org.owner.token });
    expect(me.body.memberships).toHaveLength(1);
  });
  it('user', async () => { await newUser(); });
});
