// The web console at /app: its files through the CONSOLE assets binding (built by `npm test`
// first), its configuration, and the dev sign-in, which must not exist outside local dev.
import { createExecutionContext, env, SELF, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../src/index';
import { clerkFrontendApi } from '../src/modules/console/routes';
import { api, expectProblem, readResponse } from './helpers';

/** What scripts/dev-identity.mjs gives alice@acme.test: the Clerk id the dev seed stores for Alice. */
const SEEDED_ALICE_CLERK_ID = 'user_dev_e383094d4770a80f73a6e0b2';

/** The Worker with a dev signing key, as `npm run dev` runs it (.dev.vars); tests run without one. */
async function devFetch(
  url: string,
  init?: RequestInit,
  bindings: Partial<Env> & Record<string, unknown> = { DEV_SESSION_SIGNING_KEY: env.TEST_SIGNING_KEY },
) {
  const ctx = createExecutionContext();
  const response = await worker.fetch!(new Request(url, init) as never, { ...env, ...bindings } as never, ctx);
  await waitOnExecutionContext(ctx);
  return readResponse(response as unknown as Response);
}

const signIn = (origin: string, email: unknown, bindings?: Record<string, unknown>) =>
  devFetch(
    `${origin}/app/dev-session`,
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email }) },
    bindings,
  );

describe('the console files', () => {
  it('serves the app at /app/ with a script policy of its own files', async () => {
    const res = await SELF.fetch('https://strive.test/app/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    const html = await res.text();
    expect(html).toContain('<div id="root">');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self';");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');

    const script = /src="(\/app\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const js = await SELF.fetch(`https://strive.test${script}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toContain('javascript');
  });

  it('answers any page of the app with its index.html, which routes in the browser', async () => {
    const res = await SELF.fetch('https://strive.test/app/acme/board/019a0000-0000-7000-8000-000000000601', {
      headers: { accept: 'text/html', 'sec-fetch-mode': 'navigate' },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<div id="root">');
  });

  it('redirects /app to /app/', async () => {
    const res = await SELF.fetch('https://strive.test/app', { redirect: 'manual' });
    expect(res.status).toBe(308);
    expect(res.headers.get('location')).toBe('/app/');
  });

  it('leaves the API its paths: an unknown path is still a problem, not the app', async () => {
    expectProblem(await api('GET', '/assets/index.js'), 404, 'not_found');
    expectProblem(await api('GET', '/index.html'), 404, 'not_found');
  });
});

describe('configuration', () => {
  it('offers no sign-in without Clerk or a dev key', async () => {
    const res = await api('GET', '/app/config.json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ sign_in: 'none', clerk_publishable_key: null });
  });

  it("offers Clerk's sign-in with a publishable key, and lets Clerk's scripts in", async () => {
    // pk_test_ + base64("clerk.example.com$")
    const key = `pk_test_${btoa('clerk.example.com$')}`;
    expect(clerkFrontendApi(key)).toBe('clerk.example.com');
    const config = await devFetch('https://strive.test/app/config.json', undefined, { CLERK_PUBLISHABLE_KEY: key });
    expect(config.body).toEqual({ sign_in: 'clerk', clerk_publishable_key: key });
    const page = await devFetch('https://strive.test/app/', undefined, { CLERK_PUBLISHABLE_KEY: key });
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self' https://clerk.example.com;");
  });

  it('refuses a publishable key that does not name a host', () => {
    expect(clerkFrontendApi('pk_test_' + btoa('evil.com; script-src *$'))).toBeNull();
    expect(clerkFrontendApi('sk_test_abc')).toBeNull();
  });
});

describe('dev sign-in', () => {
  it('mints a session for a seeded email on a loopback host with the dev key', async () => {
    const config = await devFetch('http://127.0.0.1:8787/app/config.json');
    expect(config.body.sign_in).toBe('dev');

    const res = await signIn('http://127.0.0.1:8787', 'Alice@acme.test');
    expect(res.status).toBe(200);
    expect(Date.parse(res.body.expires_at) - Date.now()).toBeGreaterThan(3500_000);
    const claims = JSON.parse(atob(res.body.token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    expect(claims).toMatchObject({
      sub: SEEDED_ALICE_CLERK_ID,
      email: 'alice@acme.test',
      azp: 'http://127.0.0.1:8787',
    });

    // A real session: the API takes it.
    const me = await api('GET', '/v1/me', { token: res.body.token });
    expect(me.status).toBe(200);
    expect(me.body.email).toBe('alice@acme.test');
  });

  it('does not exist without the dev key', async () => {
    const res = await signIn('http://127.0.0.1:8787', 'alice@acme.test', { DEV_SESSION_SIGNING_KEY: undefined });
    expectProblem(res, 404, 'not_found');
    expectProblem(await api('POST', '/app/dev-session', { body: { email: 'alice@acme.test' } }), 404, 'not_found');
  });

  it('does not exist on a host other than loopback, even with the key', async () => {
    expectProblem(await signIn('https://strive.example.com', 'alice@acme.test'), 404, 'not_found');
    const config = await devFetch('https://strive.example.com/app/config.json');
    expect(config.body.sign_in).toBe('none');
  });

  it('needs an email', async () => {
    const res = await signIn('http://localhost:8787', 'not an email');
    expectProblem(res, 400, 'invalid_request');
    expect(res.body.errors[0].path).toBe('email');
  });
});
