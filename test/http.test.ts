// Cross-cutting HTTP behaviour (docs/api/README.md, docs/api/errors.md): request ids, body limits and
// content types, validation that names every field, CORS, security headers, the OpenAPI document
// and the docs page, and a 500 that gives nothing away.
import { createExecutionContext, env, SELF, waitOnExecutionContext } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app';
import { api, expectProblem, newOrg, newUser, type TestOrg, type TestUser } from './helpers';

let user: TestUser;
let org: TestOrg;

beforeAll(async () => {
  user = await newUser('http');
  org = await newOrg(user);
});

const paths = (res: { body: { errors?: { path: string }[] } }) => (res.body.errors ?? []).map((e) => e.path).sort();

describe('x-request-id', () => {
  it('is on a success', async () => {
    const res = await api('GET', '/health');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('is on a 404 problem, and the body quotes it', async () => {
    const res = await api('GET', '/v1/no-such-route', { token: user.token });
    expectProblem(res, 404, 'not_found');
    expect(res.body.request_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('is on a 401 problem, and the body quotes it', async () => {
    const res = await api('GET', '/v1/me');
    expectProblem(res, 401, 'unauthenticated');
    expect(res.body.request_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('is different on every request', async () => {
    const [a, b] = await Promise.all([api('GET', '/health'), api('GET', '/health')]);
    expect(a.headers.get('x-request-id')).not.toBe(b.headers.get('x-request-id'));
  });

  it('echoes an incoming id, on successes and problems alike', async () => {
    const id = `client-${crypto.randomUUID()}`;
    const ok = await api('GET', '/v1/me', { token: user.token, headers: { 'x-request-id': id } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-request-id')).toBe(id);
    const refused = await api('GET', '/v1/me', { headers: { 'x-request-id': id } });
    expect(refused.headers.get('x-request-id')).toBe(id);
    expect(refused.body.request_id).toBe(id);
  });

  it('replaces an incoming id that is not a plain token (no header injection into logs)', async () => {
    const res = await api('GET', '/health', { headers: { 'x-request-id': 'a b<script>' } });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('request bodies', () => {
  it('answers 400 invalid_request to malformed JSON', async () => {
    const res = await api('POST', '/v1/orgs', { token: user.token, body: '{"name": "Broken",' });
    expectProblem(res, 400, 'invalid_request');
    expect(res.body.errors).toEqual([{ path: 'body', message: expect.stringContaining('Malformed JSON') }]);
  });

  it('answers 413 payload_too_large to a JSON body over 1 MB', async () => {
    const body = JSON.stringify({ name: 'Big', description: 'x'.repeat(1024 * 1024) });
    const res = await api('POST', '/v1/orgs', { token: user.token, body });
    expectProblem(res, 413, 'payload_too_large');
  });

  it('answers 413 to a streamed body over 1 MB that declares no length', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 0) controller.enqueue(new TextEncoder().encode('{"name":"Big","description":"'));
        if (sent >= 20) {
          controller.enqueue(new TextEncoder().encode('"}'));
          controller.close();
          return;
        }
        controller.enqueue(chunk);
        sent++;
      },
    });
    // In process: through SELF the refused upload's unread remainder surfaces as a dropped connection.
    const ctx = createExecutionContext();
    const response = await createApp().request(
      'https://strive.test/v1/orgs',
      {
        method: 'POST',
        headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
        body: stream,
      },
      env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(response.status).toBe(413);
    expect(((await response.json()) as { code: string }).code).toBe('payload_too_large');
  });

  it('accepts a JSON body just under the limit up to validation', async () => {
    // Under 1 MB the body is read and validated: the over-long description is a 400, not a 413.
    const body = JSON.stringify({ name: 'Big', description: 'x'.repeat(1000 * 1000) });
    const res = await api('POST', '/v1/orgs', { token: user.token, body });
    expectProblem(res, 400, 'invalid_request');
    expect(paths(res)).toEqual(['description']);
  });

  it('answers 415 unsupported_media_type to a text/plain body on a JSON route', async () => {
    const res = await api('POST', '/v1/orgs', {
      token: user.token,
      body: JSON.stringify({ name: 'Plain' }),
      headers: { 'content-type': 'text/plain' },
    });
    expectProblem(res, 415, 'unsupported_media_type');
  });

  it('names each unknown field', async () => {
    const res = await api('POST', '/v1/orgs', {
      token: user.token,
      body: { name: 'Extra', colour: 'red', owner_id: 'me' },
    });
    expectProblem(res, 400, 'invalid_request');
    expect(res.body.errors).toEqual(
      expect.arrayContaining([
        { path: 'colour', message: expect.any(String) },
        { path: 'owner_id', message: expect.any(String) },
      ]),
    );
    expect(paths(res)).toEqual(['colour', 'owner_id']);
  });

  it('lists every invalid field, not just the first', async () => {
    const res = await api('PATCH', `/v1/orgs/${org.slug}`, {
      token: user.token,
      body: { name: '', slug: 'Not A Slug', website: 'not a url', settings: 'nope' },
    });
    expectProblem(res, 400, 'invalid_request');
    expect(paths(res)).toEqual(['name', 'settings', 'slug', 'website']);
    for (const error of res.body.errors) expect(error.message).toEqual(expect.any(String));
  });

  it('names a bad query parameter', async () => {
    const res = await api('GET', `/v1/orgs/${org.slug}/members?limit=0&cursor=nope`, { token: user.token });
    expectProblem(res, 400, 'invalid_request');
    expect(paths(res)).toEqual(['cursor', 'limit']);
  });

  it('names an unknown enum value', async () => {
    const res = await api('POST', `/v1/orgs/${org.slug}/members`, {
      token: user.token,
      body: { email: 'enum@strive.test', role: 'emperor' },
    });
    expectProblem(res, 400, 'invalid_request');
    expect(paths(res)).toEqual(['role']);
  });
});

describe('a malformed id in the path', () => {
  // docs/api/errors.md: 404 not_found is an unknown resource, 400 a bad body or query. A path id that cannot
  // name anything names no resource: the same 404 as a well-formed id that matches nothing.
  const withoutRequestId = (body: Record<string, unknown>) => ({ ...body, request_id: undefined });

  it.each([
    ['GET', 'customers'],
    ['DELETE', 'customers'],
    ['GET', 'tasks'],
    ['GET', 'conversations'],
    ['GET', 'appointments'],
    ['DELETE', 'appointments'],
    ['GET', 'content'],
    ['DELETE', 'assets'],
  ])('%s /v1/orgs/{org}/%s/{id} answers 404 not_found like an unknown id', async (method, collection) => {
    const at = (id: string) => api(method, `/v1/orgs/${org.slug}/${collection}/${id}`, { token: user.token });
    const unknown = await at(crypto.randomUUID());
    expectProblem(unknown, 404, 'not_found');
    for (const malformed of ['abc', 'not-a-uuid', '0']) {
      const res = await at(malformed);
      expectProblem(res, 404, 'not_found');
      expect(res.body.errors).toBeUndefined();
      expect(withoutRequestId(res.body)).toEqual(withoutRequestId(unknown.body));
    }
  });

  it('is a 404 before the body is read: a PATCH with a valid body, and one with an invalid body', async () => {
    const at = (id: string, body: unknown) =>
      api('PATCH', `/v1/orgs/${org.slug}/customers/${id}`, { token: user.token, body });
    const unknown = await at(crypto.randomUUID(), { name: 'Ada' });
    expectProblem(unknown, 404, 'not_found');
    expect(withoutRequestId((await at('abc', { name: 'Ada' })).body)).toEqual(withoutRequestId(unknown.body));
    expectProblem(await at('abc', { name: '' }), 404, 'not_found');
  });

  it('is a 404 on the public asset route too', async () => {
    const at = (id: string) => api('GET', `/v1/public/${org.slug}/assets/${id}`);
    const unknown = await at(crypto.randomUUID());
    expectProblem(unknown, 404, 'not_found');
    expect(withoutRequestId((await at('abc')).body)).toEqual(withoutRequestId(unknown.body));
  });

  it('leaves a bad query a 400 naming the parameter', async () => {
    const res = await api('GET', `/v1/orgs/${org.slug}/customers?limit=0`, { token: user.token });
    expectProblem(res, 400, 'invalid_request');
    expect(paths(res)).toEqual(['limit']);
  });
});

describe('CORS', () => {
  it('answers a preflight with the headers clients send', async () => {
    const response = await SELF.fetch('https://strive.test/v1/orgs', {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, idempotency-key',
      },
    });
    expect(response.status).toBeLessThan(300);
    expect(response.headers.get('access-control-allow-origin')).toBeTruthy();
    const allowed = (response.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/\s*,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(['authorization', 'content-type', 'idempotency-key']));
    expect((response.headers.get('access-control-allow-methods') ?? '').split(/\s*,\s*/)).toEqual(
      expect.arrayContaining(['GET', 'POST', 'PATCH', 'DELETE']),
    );
  });

  it('lets browsers read x-request-id', async () => {
    const res = await api('GET', '/v1/me', { token: user.token, headers: { origin: 'https://app.example.com' } });
    expect(res.headers.get('access-control-allow-origin')).toBeTruthy();
    expect((res.headers.get('access-control-expose-headers') ?? '').toLowerCase()).toContain('x-request-id');
  });
});

describe('security headers', () => {
  it.each([
    ['a success', '/health'],
    ['a problem', '/v1/me'],
  ])('are on %s', async (_, path) => {
    const res = await api('GET', path);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
    expect(res.headers.get('x-frame-options')).toBeTruthy();
  });
});

describe('the OpenAPI document and the docs', () => {
  it('is OpenAPI 3.1 with every platform path and the bearer scheme', async () => {
    const res = await api('GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\.1\./);
    const documented = Object.keys(res.body.paths);
    expect(documented).toEqual(
      expect.arrayContaining([
        '/health',
        '/v1/me',
        '/v1/orgs',
        '/v1/orgs/{org}',
        '/v1/orgs/{org}/members',
        '/v1/orgs/{org}/members/{user_id}',
        '/v1/orgs/{org}/api-keys',
        '/v1/orgs/{org}/api-keys/{id}',
        '/v1/orgs/{org}/activity',
        '/v1/webhooks/clerk',
      ]),
    );
    expect(res.body.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    // Authenticated routes name the scheme; the public ones do not.
    expect(res.body.paths['/v1/me'].get.security).toEqual([{ bearer: [] }]);
    expect(res.body.paths['/health'].get.security).toBeUndefined();
    expect(res.body.paths['/v1/webhooks/clerk'].post.security).toBeUndefined();
    // Problems are documented as RFC 9457 bodies.
    expect(res.body.components.schemas.Problem).toBeDefined();
  });

  it('serves /docs as HTML', async () => {
    const res = await api('GET', '/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.body).toContain('/openapi.json');
  });
});

describe('unexpected errors', () => {
  const broken = {
    ...env,
    CATALOG: {
      prepare() {
        throw new Error('secret internal detail');
      },
      batch() {
        throw new Error('secret internal detail');
      },
    },
  };

  it.each(['/v1/me', `/v1/orgs/some-org`])('answer 500 internal without a stack or the message (%s)', async (path) => {
    const app = createApp();
    const ctx = createExecutionContext();
    const response = await app.request(
      `https://strive.test${path}`,
      { headers: { authorization: `Bearer ${user.token}` } },
      broken,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    const text = await response.text();
    expect(response.status).toBe(500);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(text).not.toContain('secret internal detail');
    expect(text).not.toMatch(/\bat \S+/);
    expect(text).not.toContain('Error:');
    const body = JSON.parse(text);
    expect(body).toMatchObject({ status: 500, code: 'internal' });
    expect(body.request_id).toBe(response.headers.get('x-request-id'));
  });
});
