// Authentication (docs/architecture.md, "A request's path"): how a bearer token becomes a user, and every way it
// is refused. Requests that need a different configuration go through createApp().request with
// an edited env; the rest go through SELF like any client.
import { createExecutionContext, env, fetchMock, SELF, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/app';
import { base64Decode, base64UrlEncode } from '../src/lib/crypto';
import { api, expectProblem, newOrg, newUser, readResponse, signToken, type ApiResponse } from './helpers';

const encoder = new TextEncoder();
const now = () => Math.floor(Date.now() / 1000);
const uniqueSub = (label: string) => `user_${label}_${crypto.randomUUID().slice(0, 8)}`;
const uniqueEmail = (label: string) => `${label}-${crypto.randomUUID().slice(0, 8)}@strive.test`;

/** The app as built for production, called with a modified env (and a real execution context). */
async function appRequest(path: string, init: RequestInit, bindings: object): Promise<ApiResponse> {
  const app = createApp();
  const ctx = createExecutionContext();
  const response = await app.request(`https://strive.test${path}`, init, bindings, ctx);
  await waitOnExecutionContext(ctx);
  return readResponse(response);
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

function expectUnauthenticated(res: ApiResponse, code = 'unauthenticated') {
  expectProblem(res, 401, code);
  expect(res.headers.get('www-authenticate')).toBe('Bearer');
}

/** A session token of the right shape, signed by a key that is not Clerk's (not CLERK_JWT_KEY). */
async function tokenFromAnotherKey(claims: Record<string, unknown>): Promise<string> {
  const pair = (await crypto.subtle.generateKey(
    { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    false,
    ['sign', 'verify'],
  )) as CryptoKeyPair;
  const part = (value: object) => base64UrlEncode(encoder.encode(JSON.stringify(value)));
  const t = now();
  // Same `kid` as the real key: only the signature can tell them apart.
  const payload = { iss: 'https://clerk.strive.test', iat: t, nbf: t - 5, exp: t + 600, ...claims };
  const input = `${part({ alg: 'RS256', typ: 'JWT', kid: 'test' })}.${part(payload)}`;
  const signature = await crypto.subtle.sign('RSASSA-PKCS1-v1_5', pair.privateKey, encoder.encode(input));
  return `${input}.${base64UrlEncode(new Uint8Array(signature))}`;
}

/** CLERK_JWT_KEY (SPKI PEM) as the JWK Clerk's JWKS endpoint would publish for it. */
async function testPublicJwk() {
  const der = base64Decode(env.CLERK_JWT_KEY.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''));
  const key = await crypto.subtle.importKey('spki', der, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, true, [
    'verify',
  ]);
  const { n, e } = (await crypto.subtle.exportKey('jwk', key)) as JsonWebKey;
  return { use: 'sig', kty: 'RSA', kid: 'test', alg: 'RS256', n, e };
}

describe('refused credentials', () => {
  it('refuses a request without credentials, naming the Bearer scheme', async () => {
    expectUnauthenticated(await api('GET', '/v1/me'));
  });

  it('refuses an expired token', async () => {
    const t = now();
    const token = await signToken({
      sub: uniqueSub('expired'),
      email: uniqueEmail('expired'),
      iat: t - 700,
      nbf: t - 705,
      exp: t - 60,
    });
    expectUnauthenticated(await api('GET', '/v1/me', { token }));
  });

  it('refuses a token not yet valid', async () => {
    const t = now();
    const token = await signToken({
      sub: uniqueSub('future'),
      email: uniqueEmail('future'),
      iat: t,
      nbf: t + 600,
      exp: t + 1200,
    });
    expectUnauthenticated(await api('GET', '/v1/me', { token }));
  });

  it('refuses a token signed by another key', async () => {
    const token = await tokenFromAnotherKey({ sub: uniqueSub('forged'), email: uniqueEmail('forged') });
    expectUnauthenticated(await api('GET', '/v1/me', { token }));
  });

  it('refuses a token whose payload was altered after signing', async () => {
    const token = await signToken({ sub: uniqueSub('tampered'), email: uniqueEmail('tampered') });
    const [header, , signature] = token.split('.');
    const payload = base64UrlEncode(
      encoder.encode(
        JSON.stringify({ sub: uniqueSub('victim'), email: uniqueEmail('victim'), iat: now(), exp: now() + 600 }),
      ),
    );
    expectUnauthenticated(await api('GET', '/v1/me', { token: `${header}.${payload}.${signature}` }));
  });

  it('refuses the Basic scheme', async () => {
    const res = await api('GET', '/v1/me', { headers: { authorization: `Basic ${btoa('alice:secret')}` } });
    expectUnauthenticated(res);
  });

  it.each([
    ['not a JWT', 'Bearer not-a-jwt'],
    ['three garbage parts', 'Bearer aaa.bbb.ccc'],
    ['an empty bearer', 'Bearer '],
    ['two tokens', 'Bearer a.b.c d.e.f'],
  ])('refuses a malformed bearer: %s', async (_, authorization) => {
    expectUnauthenticated(await api('GET', '/v1/me', { headers: { authorization } }));
  });

  it('refuses an unknown API key', async () => {
    const org = await newOrg();
    const res = await api('GET', `/v1/orgs/${org.slug}`, { token: `stk_${crypto.randomUUID().replace(/-/g, '')}` });
    expectUnauthenticated(res);
  });
});

describe('users from tokens', () => {
  it('provisions an unknown user from the claims on first use', async () => {
    const sub = uniqueSub('fresh');
    const email = uniqueEmail('Fresh');
    // `picture` is a Clerk claim signToken's type does not list; it signs whatever it is given.
    const claims = { sub, email, name: 'Fresh Person', picture: 'https://img.clerk.test/fresh.png' };
    const token = await signToken(claims);
    const first = await api('GET', '/v1/me', { token });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body).toMatchObject({
      email: email.toLowerCase(),
      name: 'Fresh Person',
      avatar_url: 'https://img.clerk.test/fresh.png',
      role: 'employee',
      is_active: true,
      memberships: [],
    });
    expect(first.body.clerk_user_id).toBe(sub);
    // The second request finds the same row, it does not make another.
    const again = await api('GET', '/v1/me', { token: await signToken({ sub, email }) });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect(again.body.name).toBe('Fresh Person');
  });

  it('answers user_not_synced for an unknown user whose token has no email', async () => {
    const token = await signToken({ sub: uniqueSub('noemail'), name: 'No Email' });
    expectUnauthenticated(await api('GET', '/v1/me', { token }), 'user_not_synced');
  });

  it('still knows a user without an email claim once the catalog has them', async () => {
    const user = await newUser('known');
    const res = await api('GET', '/v1/me', { token: await signToken({ sub: user.sub }) });
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(user.id);
  });

  it('refuses a deactivated user, on /v1/me and inside an organization', async () => {
    const org = await newOrg();
    const user = org.owner;
    await env.CATALOG.prepare('UPDATE users SET is_active = 0 WHERE id = ?').bind(user.id).run();
    expectUnauthenticated(await api('GET', '/v1/me', { token: user.token }));
    expectUnauthenticated(await api('POST', '/v1/orgs', { token: user.token, body: { name: 'Nope' } }));
    // The organization route is the first of this user on it: no cached access to hide behind.
    expectUnauthenticated(await api('GET', `/v1/orgs/${org.slug}/members`, { token: user.token }));
  });

  it("does not let a new sign-in take over another Clerk user's email", async () => {
    const user = await newUser('taken');
    const token = await signToken({ sub: uniqueSub('thief'), email: user.email });
    expectUnauthenticated(await api('GET', '/v1/me', { token }));
    const owner = await api('GET', '/v1/me', { token: user.token });
    expect(owner.body.id).toBe(user.id);
  });

  it('lets an invited placeholder be claimed by the first sign-in with that email', async () => {
    const org = await newOrg();
    const email = uniqueEmail('invitee');
    const invited = await api('POST', `/v1/orgs/${org.slug}/members`, {
      token: org.owner.token,
      body: { email, role: 'member' },
    });
    expect(invited.status, JSON.stringify(invited.body)).toBe(201);
    const placeholderId = invited.body.user_id;
    expect(invited.body.user.id).toBe(placeholderId);

    const token = await signToken({ sub: uniqueSub('invitee'), email, name: 'Invitee' });
    const me = await api('GET', '/v1/me', { token });
    expect(me.status, JSON.stringify(me.body)).toBe(200);
    expect(me.body.id).toBe(placeholderId);
    expect(me.body.name).toBe('Invitee');
    expect(me.body.memberships).toEqual([
      { organization: { id: org.id, slug: org.slug, name: `Org ${org.slug}` }, role: 'member' },
    ]);
    const inside = await api('GET', `/v1/orgs/${org.slug}`, { token });
    expect(inside.status).toBe(200);
    expect(inside.body.role).toBe('member');
  });

  it('provisions a user and claims an invitation only with an email the token marks verified', async () => {
    const org = await newOrg();
    const email = uniqueEmail('unverified');
    const invited = await api('POST', `/v1/orgs/${org.slug}/members`, {
      token: org.owner.token,
      body: { email, role: 'admin' },
    });
    expect(invited.status).toBe(201);
    const placeholder = () =>
      env.CATALOG.prepare('SELECT clerk_user_id FROM users WHERE email = ?')
        .bind(email)
        .first<{ clerk_user_id: string | null }>();
    const sub = uniqueSub('outsider');
    // Clerk's session token carries `email_verified` only when the template adds it: absent is not verified.
    for (const email_verified of [false, 'false', undefined]) {
      const token = await signToken({ sub, email, email_verified });
      expectUnauthenticated(await api('GET', '/v1/me', { token }), 'user_not_synced');
      expectUnauthenticated(await api('GET', `/v1/orgs/${org.slug}`, { token }), 'user_not_synced');
      expect((await placeholder())!.clerk_user_id, String(email_verified)).toBeNull();
    }
    // Clerk's shortcode keeps the boolean; its text form is taken too.
    const verified = await api('GET', `/v1/orgs/${org.slug}`, {
      token: await signToken({ sub, email, email_verified: 'true' }),
    });
    expect(verified.status, JSON.stringify(verified.body)).toBe(200);
    expect(verified.body.role).toBe('admin');
    expect((await placeholder())!.clerk_user_id).toBe(sub);
  });

  it('claims an invited placeholder on an organization route as well as on /v1/me', async () => {
    const org = await newOrg();
    const email = uniqueEmail('direct');
    const invited = await api('POST', `/v1/orgs/${org.slug}/members`, {
      token: org.owner.token,
      body: { email, role: 'viewer' },
    });
    expect(invited.status).toBe(201);
    const token = await signToken({ sub: uniqueSub('direct'), email });
    const inside = await api('GET', `/v1/orgs/${org.slug}`, { token });
    expect(inside.status, JSON.stringify(inside.body)).toBe(200);
    expect(inside.body.role).toBe('viewer');
    const me = await api('GET', '/v1/me', { token });
    expect(me.body.id).toBe(invited.body.user_id);
  });
});

describe('configuration', () => {
  afterEach(() => {
    fetchMock.deactivate();
    fetchMock.enableNetConnect();
  });

  it('checks azp against CLERK_AUTHORIZED_PARTIES', async () => {
    const bindings = { ...env, CLERK_AUTHORIZED_PARTIES: 'https://app.strive.dev, https://admin.strive.dev' };
    const sub = uniqueSub('azp');
    const email = uniqueEmail('azp');
    const evil = await signToken({ sub, email, azp: 'https://evil.test' });
    expectUnauthenticated(await appRequest('/v1/me', bearer(evil), bindings));
    const good = await signToken({ sub, email, azp: 'https://app.strive.dev' });
    const res = await appRequest('/v1/me', bearer(good), bindings);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.email).toBe(email);
    const other = await signToken({ sub, email, azp: 'https://admin.strive.dev' });
    expect((await appRequest('/v1/me', bearer(other), bindings)).status).toBe(200);
  });

  it("verifies against Clerk's JWKS when only CLERK_SECRET_KEY is set", async () => {
    fetchMock.activate();
    fetchMock.disableNetConnect();
    const jwk = await testPublicJwk();
    let sentHeaders: unknown;
    fetchMock
      .get('https://api.clerk.com')
      .intercept({ path: '/v1/jwks', method: 'GET' })
      .reply(
        200,
        (request) => {
          sentHeaders = request.headers;
          return { keys: [jwk] };
        },
        { headers: { 'content-type': 'application/json' } },
      );

    const { CLERK_JWT_KEY: _pem, ...rest } = env;
    const bindings = { ...rest, CLERK_JWT_KEY: undefined, CLERK_SECRET_KEY: 'sk_test_strive_jwks_mode' };
    const email = uniqueEmail('jwks');
    const token = await signToken({ sub: uniqueSub('jwks'), email });
    const res = await appRequest('/v1/me', bearer(token), bindings);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.email).toBe(email);
    fetchMock.assertNoPendingInterceptors();
    // The SDK authenticates to Clerk's Backend API with the secret key.
    expect(new Headers(sentHeaders as HeadersInit).get('authorization')).toBe('Bearer sk_test_strive_jwks_mode');

    // A token from another key is still refused in JWKS mode.
    const forged = await tokenFromAnotherKey({ sub: uniqueSub('jwks-forged'), email: uniqueEmail('jwks-forged') });
    expectUnauthenticated(await appRequest('/v1/me', bearer(forged), bindings));
  });

  it('answers 503 not_configured without CLERK_JWT_KEY and CLERK_SECRET_KEY', async () => {
    const bindings = { ...env, CLERK_JWT_KEY: undefined, CLERK_SECRET_KEY: undefined };
    const token = await signToken({ sub: uniqueSub('unconfigured'), email: uniqueEmail('unconfigured') });
    expectProblem(await appRequest('/v1/me', bearer(token), bindings), 503, 'not_configured');
  });
});

describe('WebSocket upgrades', () => {
  /** A board socket's path: one of the two routes that take a token in the query. */
  async function boardSocketPath(owner?: Awaited<ReturnType<typeof newUser>>) {
    const org = await newOrg(owner);
    const project = await api('POST', `/v1/orgs/${org.slug}/projects`, {
      token: org.owner.token,
      body: { name: 'Sockets' },
    });
    return { org, path: `/v1/orgs/${org.slug}/projects/${project.body.id}/board/ws` };
  }

  it('accept the token as ?token= on an upgrade of a socket route', async () => {
    const { org, path } = await boardSocketPath();
    const res = await SELF.fetch(`https://strive.test${path}?token=${encodeURIComponent(org.owner.token)}`, {
      headers: { upgrade: 'websocket' },
    });
    expect(res.status).toBe(101);
    res.webSocket!.accept();
    res.webSocket!.close(1000, 'done');
  });

  it('refuse ?token= on an upgrade of any other route', async () => {
    const org = await newOrg();
    const token = encodeURIComponent(org.owner.token);
    for (const path of [
      '/v1/me',
      `/v1/orgs/${org.slug}`,
      `/v1/orgs/${org.slug}/activity`,
      `/v1/orgs/${org.slug}/projects/${crypto.randomUUID()}/board`,
    ]) {
      expectUnauthenticated(await appRequest(`${path}?token=${token}`, { headers: { upgrade: 'websocket' } }, env));
    }
  });

  it('ignore ?token= without the upgrade header', async () => {
    const { org, path } = await boardSocketPath();
    expectUnauthenticated(await appRequest(`${path}?token=${encodeURIComponent(org.owner.token)}`, {}, env));
    expectUnauthenticated(await api('GET', `/v1/me?token=${encodeURIComponent(org.owner.token)}`));
  });

  it('prefer the Authorization header to ?token= on an upgrade', async () => {
    const { org, path } = await boardSocketPath();
    const res = await appRequest(
      `${path}?token=${encodeURIComponent(org.owner.token)}`,
      { headers: { upgrade: 'websocket', authorization: 'Bearer not-a-jwt' } },
      env,
    );
    expectUnauthenticated(res);
  });

  it('refuse a bad ?token= on an upgrade', async () => {
    const { path } = await boardSocketPath();
    expectUnauthenticated(await appRequest(`${path}?token=not-a-jwt`, { headers: { upgrade: 'websocket' } }, env));
  });
});
