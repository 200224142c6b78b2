// The typed sub-apps (src/app.ts): each path meets its own app's chain, and only that one.
import { describe, expect, it } from 'vitest';
import { api, expectProblem, newOrg, newUser } from './helpers';

describe('the request pipelines', () => {
  it('public app: a bearer is not asked for, nor refused when wrong; embeddable headers, no cookie', async () => {
    const org = await newOrg();
    const res = await api('GET', `/v1/public/${org.slug}/content`, {
      token: 'not-a-token',
      headers: { origin: 'https://blog.example' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it('webhooks app: no bearer asked for (the signature is refused instead)', async () => {
    const res = await api('POST', '/v1/webhooks/stripe', { body: {} });
    expectProblem(res, 401, 'unauthenticated');
    expect(res.body.detail).toContain('signature');
    expect(res.headers.get('cross-origin-resource-policy')).toBe('same-origin');
  });

  it('tenant app: authenticate runs before the tenant is resolved, then the organization is looked up', async () => {
    const org = await newOrg();
    // No credentials: 401 before anything learns whether the organization exists.
    expectProblem(await api('GET', `/v1/orgs/${org.slug}/projects`), 401, 'unauthenticated');
    expectProblem(await api('GET', '/v1/orgs/no-such-org/projects'), 401, 'unauthenticated');
    // Authenticated, not a member: the organization is not found (resolveTenant).
    const stranger = await newUser('stranger');
    expectProblem(await api('GET', `/v1/orgs/${org.slug}/projects`, { token: stranger.token }), 404, 'not_found');
    const own = await api('GET', `/v1/orgs/${org.slug}/projects`, { token: org.owner.token });
    expect(own.status).toBe(200);
    expect(own.headers.get('cross-origin-resource-policy')).toBe('same-origin');
  });

  it('user app: authenticated, no organization resolved', async () => {
    expectProblem(await api('GET', '/v1/me'), 401, 'unauthenticated');
    const user = await newUser('me');
    expect((await api('GET', '/v1/me', { token: user.token })).status).toBe(200);
  });

  it('the JSON body limit and Idempotency-Key are per route: the streamed upload skips both', async () => {
    const org = await newOrg();
    const big = 'x'.repeat(1024 * 1024 + 1);
    const json = await api('POST', `/v1/orgs/${org.slug}/customers`, { token: org.owner.token, body: big });
    expectProblem(json, 413, 'payload_too_large');
    const upload = await api('POST', `/v1/orgs/${org.slug}/assets?name=big.txt`, {
      token: org.owner.token,
      body: big,
      headers: { 'content-type': 'text/plain', 'idempotency-key': 'not checked here' },
    });
    expect(upload.status).toBe(201);
  });
});
