// The shared security suite: it runs over every tenant route the app registers, read from the
// OpenAPI document the app generates, so a new route joins by being registered.
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app';
import { isPermission } from '../src/auth/permissions';
import { SELF } from 'cloudflare:test';
import { CLOSE_CODES } from '../src/realtime/socket-room';
import type { Bindings } from '../src/env';
import { chatSessions } from '../src/realtime/chat-session';
import { boards } from '../src/realtime/kanban-client';
import {
  api,
  expectProblem,
  joinAs,
  newOrg,
  openSocket,
  readResponse,
  runAccessRecheck,
  type TestOrg,
  type TestUser,
  placeOf,
} from './helpers';

type Schema = {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  anyOf?: Schema[];
  format?: string;
  maxItems?: number;
  maxLength?: number;
};
type Parameter = { name: string; in: 'path' | 'query'; required?: boolean; schema: Schema };
type Operation = {
  'x-permission'?: string;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<string, unknown>;
  security?: unknown[];
};

const document = createApp().getOpenAPI31Document({ openapi: '3.1.0', info: { title: 'Strive', version: 'test' } });
const components = (document.components?.schemas ?? {}) as Record<string, Schema>;
const resolve = (schema: Schema): Schema =>
  schema.$ref ? resolve(components[schema.$ref.split('/').pop()!]!) : schema;

const operations = Object.entries(document.paths ?? {}).flatMap(([path, item]) =>
  (['get', 'post', 'patch', 'put', 'delete'] as const)
    .filter((method) => (item as Record<string, unknown>)[method])
    .map((method) => ({ method, path, op: (item as Record<string, Operation>)[method]! })),
);
const tenantRoutes = operations.filter((o) => o.path.startsWith('/v1/orgs/{org}'));
const name = (o: { method: string; path: string }) => `${o.method.toUpperCase()} ${o.path}`;

function urlFor(path: string, org: string, params: Record<string, string> = {}) {
  return path.replace(/\{(\w+)\}/g, (_, param: string) =>
    param === 'org' ? org : (params[param] ?? crypto.randomUUID()),
  );
}

/** A value of the wrong type for `schema`, which its validator must refuse. */
function wrongValueFor(schema: Schema): unknown {
  const type =
    resolve(schema).type ??
    resolve(schema)
      .anyOf?.map((s) => resolve(s).type)
      .find(Boolean);
  return type === 'string' || (Array.isArray(type) && type.includes('string')) ? 12345 : 'not-a-valid-value';
}

/** One invalid request per route with input, and the field the answer must name. */
function invalidInput(op: Operation): { body?: unknown; query?: string; field: string } | undefined {
  const bodySchema = op.requestBody?.content['application/json']?.schema;
  if (bodySchema) {
    const schema = resolve(bodySchema);
    const required = schema.required ?? [];
    if (required.length > 0) return { body: {}, field: required[0]! };
    const [field, property] = Object.entries(schema.properties ?? {})[0]!;
    return { body: { [field]: wrongValueFor(property) }, field };
  }
  // A required query parameter left out (e.g. an upload's `?name=`, whose body is not JSON).
  const required = op.parameters?.find((p) => p.in === 'query' && p.required);
  if (required) return { query: '', field: required.name };
  const query = op.parameters?.find((p) => p.in === 'query' && p.name === 'limit');
  if (query) return { query: 'limit=0', field: 'limit' };
  return undefined;
}

/** The path parameter naming the route's resource, besides `{org}`. */
const idParam = (op: Operation) => op.parameters?.find((p) => p.in === 'path' && p.name !== 'org')?.name;

describe('the OpenAPI document', () => {
  it('lists the tenant routes this suite covers', () => {
    expect(tenantRoutes.length).toBeGreaterThanOrEqual(10);
  });

  it.each(tenantRoutes.map((r) => [name(r), r] as const))(
    '%s names a real permission and documents its errors',
    (_, route) => {
      expect(isPermission(route.op['x-permission'] ?? '')).toBe(true);
      expect(route.op.security).toEqual([{ bearer: [] }]);
      for (const status of ['400', '401', '403', '404', '500']) expect(route.op.responses).toHaveProperty(status);
    },
  );
});

describe.each(tenantRoutes.map((r) => [name(r), r] as const))('%s', (_, { method, path, op }) => {
  let victim: TestOrg;
  let outsider: TestOrg;
  let denied: TestUser;

  beforeAll(async () => {
    victim = await newOrg();
    outsider = await newOrg();
    // An owner holds every permission; denying just this route's one isolates it.
    denied = await joinAs(victim, 'owner', { deny: [op['x-permission']!] });
  });

  it('answers 401 without credentials', async () => {
    expectProblem(
      await api(method, urlFor(path, victim.slug), { body: method === 'get' || method === 'delete' ? undefined : {} }),
      401,
      'unauthenticated',
    );
  });

  it('answers 401 with a bad token', async () => {
    expectProblem(await api(method, urlFor(path, victim.slug), { token: 'not.a.jwt' }), 401, 'unauthenticated');
  });

  it('answers 404 to a member of another organization, by slug and by id', async () => {
    for (const ref of [victim.slug, victim.id]) {
      expectProblem(
        await api(method, urlFor(path, ref), {
          token: outsider.owner.token,
          body: method === 'get' || method === 'delete' ? undefined : {},
        }),
        404,
        'not_found',
      );
    }
  });

  it('answers 403 to a member without the permission', async () => {
    const res = await api(method, urlFor(path, victim.slug), {
      token: denied.token,
      body: method === 'get' || method === 'delete' ? undefined : {},
    });
    // The permission is checked before the input: even an empty body is answered 403, not 400.
    expectProblem(res, 403, 'forbidden');
    expect(res.body.detail).toContain(op['x-permission']);
  });

  // Routes without input, or without an id in their path, have no such case (not a skipped one).
  const invalid = invalidInput(op);
  if (invalid)
    it('answers 400 naming the invalid field', async () => {
      const { body, query, field } = invalid;
      const url = urlFor(path, victim.slug) + (query ? `?${query}` : '');
      const res = await api(method, url, { token: victim.owner.token, body });
      expectProblem(res, 400, 'invalid_request');
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(field);
    });

  // `curl -X POST …/publish`: an action that takes no body, or an optional one, needs neither a
  // body nor a Content-Type (nor is an empty body with a JSON Content-Type malformed JSON).
  if (method === 'post' && !op.requestBody?.required)
    it('takes a POST without a body, with or without a Content-Type', async () => {
      for (const contentType of [{}, { 'content-type': 'application/json' }] as Record<string, string>[]) {
        // An empty body, as an HTTP/1.1 client's `Content-Length: 0` arrives (not a null one).
        const headers = { authorization: `Bearer ${victim.owner.token}`, 'content-length': '0', ...contentType };
        const res = await readResponse(
          await SELF.fetch(`https://strive.test${urlFor(path, victim.slug)}`, {
            method: 'POST',
            headers,
            body: new Uint8Array(0),
          }),
        );
        expect([400, 415, 500], JSON.stringify(res.body)).not.toContain(res.status);
      }
    });

  // Each value of a repeatable query parameter is a bound parameter (D1 binds at most 100).
  for (const repeatable of op.parameters?.filter((p) => p.in === 'query' && resolve(p.schema).type === 'array') ?? []) {
    it(`caps the repeatable ?${repeatable.name}=: 400 past its maxItems, never a 5xx at it`, async () => {
      const max = resolve(repeatable.schema).maxItems!;
      expect(max).toBeGreaterThan(0);
      const url = (count: number) =>
        `${urlFor(path, victim.slug)}?${Array.from({ length: count }, (_, n) => `${repeatable.name}=v${n}`).join('&')}`;
      const over = await api(method, url(max + 1), { token: victim.owner.token });
      expectProblem(over, 400, 'invalid_request');
      expect(over.body.errors.map((e: { path: string }) => e.path)).toContain(repeatable.name);
      expect((await api(method, url(max), { token: victim.owner.token })).status).toBeLessThan(500);
    });
  }

  // A search takes any term its schema accepts, and refuses one with nothing to search for, naming q.
  const search = op.parameters?.find((p) => p.in === 'query' && p.name === 'q');
  if (search)
    it('searches any ?q= up to its maxLength (FTS5 syntax, quotes, emoji, NUL) and refuses a longer or wordless one with 400', async () => {
      const max = resolve(search.schema).maxLength!;
      const query = (q: string) =>
        api(method, `${urlFor(path, victim.slug)}?q=${encodeURIComponent(q)}`, { token: victim.owner.token });
      const terms = [
        'x'.repeat(max),
        'a%_\\',
        `it's "quoted"; --`,
        'NEAR(a b, 2) AND c* OR ^d NOT e:f',
        `🚀${'x'.repeat(max - 2)}`,
        'a\u0000b',
        'é'.repeat(max),
        'x',
      ];
      for (const q of terms) {
        const res = await query(q);
        // 200, or 404 where the path names a record (a project's tasks) this test did not make.
        expect([200, 404], `q=${JSON.stringify(q)}: ${JSON.stringify(res.body)}`).toContain(res.status);
      }
      for (const q of ['x'.repeat(max + 1), '%_\\', '🚀'.repeat(max / 2), '"*"']) {
        const refused = await query(q);
        expectProblem(refused, 400, 'invalid_request');
        expect(refused.body.errors).toEqual([{ path: 'q', message: expect.any(String) }]);
      }
    });

  const param = idParam(op);
  if (param)
    it('answers 404 not_found to a malformed id in the path, naming no field, before the body', async () => {
      const body = method === 'get' || method === 'delete' ? undefined : {};
      const res = await api(method, urlFor(path, victim.slug, { [param]: 'not-an-id' }), {
        token: victim.owner.token,
        body,
      });
      expectProblem(res, 404, 'not_found');
      expect(res.body.errors).toBeUndefined();
      // The same answer as a well-formed id that names nothing, where that is a 404 without a body
      // (a WebSocket route asks for the upgrade first).
      if (!op.requestBody) {
        const unknown = await api(method, urlFor(path, victim.slug, { [param]: crypto.randomUUID() }), {
          token: victim.owner.token,
        });
        if (unknown.status === 404)
          expect({ ...res.body, request_id: '' }).toEqual({ ...unknown.body, request_id: '' });
      }
    });
});

/**
 * Each socket route's resource (made for `user`, who will watch it) and the object holding its
 * sockets. A new socket route adds its line here (the first test fails until it does).
 */
const SOCKET_RESOURCES: Record<
  string,
  { create: (org: TestOrg, user: TestUser) => Promise<string>; object: (org: TestOrg, id: string) => DurableObjectStub }
> = {
  '/v1/orgs/{org}/projects/{id}/board/ws': {
    create: async (org) =>
      (await api('POST', `/v1/orgs/${org.slug}/projects`, { token: org.owner.token, body: { name: 'Watched' } })).body
        .id,
    object: (org, id) => boards(env as unknown as Bindings).get(placeOf(org), id),
  },
  '/v1/orgs/{org}/conversations/{id}/ws': {
    create: async (org, user) =>
      (
        await api('POST', `/v1/orgs/${org.slug}/conversations`, {
          token: user.token,
          body: { context_type: 'general', ai_model: 'openai_gpt4' },
        })
      ).body.id,
    object: (org, id) => chatSessions(env as unknown as Bindings).get(placeOf(org), id),
  },
};
const socketRoutes = tenantRoutes.filter((r) => '101' in r.op.responses);

describe('socket routes', () => {
  it('knows how to open every one', () => {
    expect(socketRoutes.map((r) => r.path).sort()).toEqual(Object.keys(SOCKET_RESOURCES).sort());
  });

  /** Ways access ends for an admin watching (by session, or by their own API key scoped to the route). */
  const endings: [
    string,
    'session' | 'key',
    (org: TestOrg, admin: TestUser, permission: string, keyId: string) => Promise<{ status: number }>,
  ][] = [
    [
      'a removed member',
      'session',
      (org, admin) => api('DELETE', `/v1/orgs/${org.slug}/members/${admin.id}`, { token: org.owner.token }),
    ],
    [
      'a revoked API key',
      'key',
      (org, _, __, keyId) => api('DELETE', `/v1/orgs/${org.slug}/api-keys/${keyId}`, { token: org.owner.token }),
    ],
    [
      'a user demoted out of the permission',
      'session',
      (org, admin, permission) =>
        api('PATCH', `/v1/orgs/${org.slug}/members/${admin.id}`, {
          token: org.owner.token,
          body: { role: 'member', permissions: { grant: [], deny: [permission] } },
        }),
    ],
  ];

  describe.each(socketRoutes.map((r) => [name(r), r] as const))('%s', (_, { path, op }) => {
    it.each(endings)('closes the socket of %s with 4403 within the access window', async (__, credential, end) => {
      const resource = SOCKET_RESOURCES[path]!;
      const org = await newOrg();
      const admin = await joinAs(org, 'admin');
      const id = await resource.create(org, admin);
      const key = await api('POST', `/v1/orgs/${org.slug}/api-keys`, {
        token: admin.token,
        body: { name: 'socket', scopes: [op['x-permission']] },
      });
      expect(key.status, JSON.stringify(key.body)).toBe(201);
      const socket = await openSocket(
        urlFor(path, org.slug, { id }),
        credential === 'key' ? key.body.key : admin.token,
      );
      expect((await end(org, admin, op['x-permission']!, key.body.id)).status).toBeLessThan(300);
      await runAccessRecheck(resource.object(org, id));
      expect(await socket.until((m) => m.type === 'error')).toMatchObject({ code: 'forbidden' });
      expect(await socket.closed).toBe(CLOSE_CODES.accessEnded);
    });
  });
});

describe('routes outside an organization', () => {
  it.each([
    ['GET', '/v1/me'],
    ['POST', '/v1/orgs'],
  ])('%s %s answers 401 without credentials', async (method, path) => {
    expectProblem(
      await api(method, path, { body: method === 'POST' ? { name: 'x' } : undefined }),
      401,
      'unauthenticated',
    );
  });

  it('answers 404 problem+json for an unknown route', async () => {
    const { owner } = await newOrg();
    expectProblem(await api('GET', '/v1/nowhere', { token: owner.token }), 404, 'not_found');
    expectProblem(await api('GET', '/nowhere'), 404, 'not_found');
  });
});
