// D1 read replication (src/db/sessions.ts, src/middleware/d1-sessions.ts). Local D1 has no
// replicas, so what is checked is what the Worker asks D1 for: the constraint or bookmark each
// session opens with (the D1 bindings are watched), and which instance kind each round trip may
// use (x-d1-instances). D1 itself guarantees the rest: a session opened at a bookmark reads at
// least that state; writes and `first-primary` sessions run on the primary.
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import worker from '../src/index';
import { createApp } from '../src/app';
import { forgetIsolateAccess } from '../src/auth/access-cache';
import { provisionUser } from '../src/auth/users';
import { D1Sessions, parseBookmarks } from '../src/db/sessions';
import { catalogDb, shardCount } from '../src/db/shards';
import { sha256Hex } from '../src/lib/crypto';
import { api, expectProblem, joinAs, newOrg, newUser, readResponse, type ApiResponse, type TestOrg } from './helpers';

const bindings = ['CATALOG', ...Array.from({ length: shardCount(env) }, (_, n) => `SHARD_${n}`)];
const d1 = (binding: string) => (env as unknown as Record<string, D1Database>)[binding]!;

type Opened = { database: string; start: string };
type Watched = ApiResponse & { opened: Opened[] };
type RequestOptions = {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
  vars?: Record<string, string>;
};

/**
 * The Worker called with its D1 bindings watched: every session it opens, and with what. `vars`
 * overrides bindings (D1_SESSIONS, say).
 */
async function watched(method: string, path: string, options: RequestOptions = {}): Promise<Watched> {
  const opened: Opened[] = [];
  const watchedEnv: Record<string, unknown> = { ...env, ...options.vars };
  for (const binding of bindings) {
    watchedEnv[binding] = new Proxy(d1(binding), {
      get(target, key) {
        if (key === 'withSession') {
          return (start: string) => {
            opened.push({ database: binding.toLowerCase(), start });
            return target.withSession(start);
          };
        }
        const value = Reflect.get(target, key);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] ??= 'application/json';
  const body =
    options.body === undefined
      ? undefined
      : typeof options.body === 'string'
        ? options.body
        : JSON.stringify(options.body);
  const ctx = createExecutionContext();
  const response = await worker.fetch(
    new Request(`https://strive.test${path}`, { method, headers, body }),
    watchedEnv as never,
    ctx,
  );
  const primary = options.headers?.['strive-consistency'] === 'primary' || options.vars?.D1_SESSIONS === 'false';
  const res = await readResponse(response, { method, path, primary });
  await waitOnExecutionContext(ctx);
  return { ...res, opened };
}

/** Each round trip as `database:instance`, shards as `shard`. */
const instances = (res: ApiResponse) =>
  (res.headers.get('x-d1-instances') ?? '')
    .split(', ')
    .filter(Boolean)
    .map((trip) => trip.replace(/^shard_\d+/, 'shard'));

const bookmarksOf = (res: ApiResponse) =>
  parseBookmarks(res.headers.get('strive-bookmark') ?? '') ?? new Map<string, string>();

/** The primary's bookmark of a database now. */
async function position(database: string): Promise<string> {
  const session = d1(database.toUpperCase()).withSession('first-primary');
  await session.prepare('SELECT 1').run();
  return session.getBookmark()!;
}

async function shardName(org: TestOrg): Promise<string> {
  const { shard } = (await env.CATALOG.prepare('SELECT shard FROM organizations WHERE id = ?')
    .bind(org.id)
    .first<{ shard: number }>())!;
  return `shard_${shard}`;
}

const soon = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString();

describe('Strive-Bookmark', () => {
  it('is answered after a write, names each database the request touched, and grows with each write', async () => {
    const user = await newUser();
    const created = await api('POST', '/v1/orgs', {
      token: user.token,
      body: { name: `Bookmarked ${crypto.randomUUID().slice(0, 8)}` },
    });
    expect(created.status).toBe(201);
    const org: TestOrg = { id: created.body.id, slug: created.body.slug, owner: user };
    const shard = await shardName(org);
    const first = bookmarksOf(created);
    expect([...first.keys()].sort()).toEqual(['catalog', shard]);
    for (const bookmark of first.values())
      expect(bookmark).toMatch(/^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/);

    const customer = await api('POST', `/v1/orgs/${org.slug}/customers`, { token: user.token, body: { name: 'Next' } });
    expect(bookmarksOf(customer).get(shard)! > first.get(shard)!).toBe(true);
  });

  it('is answered by a read too, so a client that echoes it never reads older than it did', async () => {
    const org = await newOrg();
    const read = await api('GET', `/v1/orgs/${org.slug}/customers`, { token: org.owner.token });
    expect(bookmarksOf(read).has(await shardName(org))).toBe(true);
  });

  it('answers 400 naming the header for a malformed bookmark, never a 500 or a read', async () => {
    const org = await newOrg();
    const good = `catalog:${await position('catalog')}`;
    for (const value of [
      'garbage',
      `${good}|`,
      `catalog:${'0'.repeat(20)}`,
      `${good}|${good}`,
      `catalog:00000000-0000000A-00000000-${'0'.repeat(32)}` /* upper-case hex (a real position may have no letter) */,
      `CATALOG:${await position('catalog')}`,
      `shard_x:${await position('catalog')}`,
      `${good};shard_0:${await position('shard_0')}`,
      'first-primary',
    ]) {
      const res = await watched('GET', `/v1/orgs/${org.slug}/customers`, {
        token: org.owner.token,
        headers: { 'strive-bookmark': value },
      });
      expectProblem(res, 400, 'invalid_request');
      expect(res.body.errors).toEqual([{ path: 'Strive-Bookmark', message: 'Not a Strive-Bookmark value.' }]);
      expect(res.opened).toEqual([]);
    }
  });

  it('answers 400 to a malformed cookie and clears it in the same answer', async () => {
    const org = await newOrg();
    const res = await api('GET', `/v1/orgs/${org.slug}/customers`, {
      token: org.owner.token,
      headers: { cookie: 'strive_bookmark=tampered' },
    });
    expectProblem(res, 400, 'invalid_request');
    expect(res.body.errors[0].path).toBe('strive_bookmark');
    expect(res.headers.get('set-cookie')).toMatch(/^strive_bookmark=; Path=\/v1; Max-Age=0/);
  });

  it('answers 400 to a Strive-Consistency other than primary', async () => {
    const org = await newOrg();
    const res = await api('GET', `/v1/orgs/${org.slug}/customers`, {
      token: org.owner.token,
      headers: { 'strive-consistency': 'eventual' },
    });
    expectProblem(res, 400, 'invalid_request');
    expect(res.body.errors[0].path).toBe('Strive-Consistency');
  });

  it('ignores a database the request does not touch (carried to the answer) and one this deployment does not have (dropped)', async () => {
    const org = await newOrg();
    await api('GET', `/v1/orgs/${org.slug}`, { token: org.owner.token }); // access cached
    const shard = await shardName(org);
    const other = shard === 'shard_0' ? 'shard_1' : 'shard_0';
    const elsewhere = await position(other);
    const sent = `${other}:${elsewhere}|shard_7:${elsewhere}`;
    const res = await watched('GET', `/v1/orgs/${org.slug}/customers`, {
      token: org.owner.token,
      headers: { 'strive-bookmark': sent },
    });
    expect(res.status).toBe(200);
    expect(res.opened).toEqual([{ database: shard, start: 'first-unconstrained' }]);
    expect(bookmarksOf(res).get(other)).toBe(elsewhere);
    expect(bookmarksOf(res).has('shard_7')).toBe(false);
  });

  it('is set as an HttpOnly, Secure, SameSite=Lax cookie when it moves, and the cookie is read like the header', async () => {
    const org = await newOrg();
    const created = await api('POST', `/v1/orgs/${org.slug}/customers`, {
      token: org.owner.token,
      body: { name: 'Cookie' },
    });
    const cookie = created.headers.get('set-cookie')!;
    expect(cookie).toBe(
      `strive_bookmark=${encodeURIComponent(created.headers.get('strive-bookmark')!)}; Max-Age=3600; Path=/v1; ` +
        `HttpOnly; Secure; SameSite=Lax`,
    );
    const read = await watched('GET', `/v1/orgs/${org.slug}/customers/${created.body.id}`, {
      token: org.owner.token,
      headers: { cookie: cookie.split(';')[0]! },
    });
    const shard = await shardName(org);
    expect(read.opened).toContainEqual({ database: shard, start: bookmarksOf(created).get(shard) });
  });

  it('sets no cookie on public and webhook routes', async () => {
    const org = await newOrg();
    const res = await api('GET', `/v1/public/${org.slug}/content`);
    expect(res.status).toBe(200);
    expect(res.headers.get('strive-bookmark')).not.toBeNull();
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it('is allowed and exposed by CORS, with Strive-Consistency', async () => {
    const preflight = await api('OPTIONS', '/v1/me', {
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'strive-bookmark, strive-consistency',
      },
    });
    expect(preflight.headers.get('access-control-allow-headers')).toContain('strive-bookmark');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('strive-consistency');
    const org = await newOrg();
    const res = await api('GET', `/v1/orgs/${org.slug}`, {
      token: org.owner.token,
      headers: { origin: 'https://app.example' },
    });
    expect(res.headers.get('access-control-expose-headers')).toContain('strive-bookmark');
  });
});

/**
 * Own writes read back, module by module: the write's Strive-Bookmark covers its database (newer
 * than before the write, Durable Objects' writes included), and the read sent with it opens that
 * database's session at the bookmark, never unconstrained.
 */
describe('a client reads its own writes with the bookmark', () => {
  type Case = {
    database: 'catalog' | 'shard';
    /** Made before the write is timed (a project for its tasks, say). */
    setup?: (org: TestOrg) => Promise<Record<string, string>>;
    write: (org: TestOrg, made: Record<string, string>) => Promise<ApiResponse>;
    read: (org: TestOrg, written: ApiResponse, made: Record<string, string>) => string;
    sees: (body: any, written: ApiResponse) => void;
    token?: (org: TestOrg) => string;
  };
  const post = (org: TestOrg, path: string, body: unknown) =>
    api('POST', `/v1/orgs/${org.slug}${path}`, { token: org.owner.token, body });
  const cases: Record<string, Case> = {
    customers: {
      database: 'shard',
      write: (org) => post(org, '/customers', { name: 'Dana' }),
      read: (org, w) => `/v1/orgs/${org.slug}/customers/${w.body.id}`,
      sees: (body) => expect(body.name).toBe('Dana'),
    },
    projects: {
      database: 'shard',
      write: (org) => post(org, '/projects', { name: 'Relaunch' }),
      read: (org, w) => `/v1/orgs/${org.slug}/projects/${w.body.id}`,
      sees: (body) => expect(body.name).toBe('Relaunch'),
    },
    'tasks (created by the board object)': {
      database: 'shard',
      setup: async (org) => ({ project: (await post(org, '/projects', { name: 'Board' })).body.id }),
      write: (org, made) => post(org, `/projects/${made.project}/tasks`, { title: 'Ship it' }),
      read: (org, w) => `/v1/orgs/${org.slug}/tasks/${w.body.id}`,
      sees: (body) => expect(body.title).toBe('Ship it'),
    },
    'task moves (by the board object)': {
      database: 'shard',
      setup: async (org) => {
        const project = (await post(org, '/projects', { name: 'Board' })).body.id;
        return { task: (await post(org, `/projects/${project}/tasks`, { title: 'Move me' })).body.id };
      },
      write: (org, made) => post(org, `/tasks/${made.task}/move`, { status: 'review' }),
      read: (org, _, made) => `/v1/orgs/${org.slug}/tasks/${made.task}`,
      sees: (body) => expect(body.status).toBe('review'),
    },
    appointments: {
      database: 'shard',
      write: (org) => post(org, '/appointments', { title: 'Kick-off', start_time: soon(1), end_time: soon(2) }),
      read: (org, w) => `/v1/orgs/${org.slug}/appointments/${w.body.id}`,
      sees: (body) => expect(body.title).toBe('Kick-off'),
    },
    'appointment webhook': {
      database: 'shard',
      write: (org) =>
        api('PUT', `/v1/orgs/${org.slug}/appointments/webhook`, {
          token: org.owner.token,
          body: { url: 'https://hooks.example/strive' },
        }),
      read: (org) => `/v1/orgs/${org.slug}/appointments/webhook`,
      sees: (body) => expect(body.url).toBe('https://hooks.example/strive'),
    },
    content: {
      database: 'shard',
      write: (org) => post(org, '/content', { title: 'Hello', content: 'World' }),
      read: (org, w) => `/v1/orgs/${org.slug}/content/${w.body.id}`,
      sees: (body) => expect(body.title).toBe('Hello'),
    },
    assets: {
      database: 'shard',
      write: (org) =>
        api('POST', `/v1/orgs/${org.slug}/assets?name=notes.txt`, {
          token: org.owner.token,
          body: 'plain notes',
          headers: { 'content-type': 'text/plain', 'content-length': '11' },
        }),
      read: (org, w) => `/v1/orgs/${org.slug}/assets/${w.body.id}`,
      sees: (body) => expect(body.file_name).toBe('notes.txt'),
    },
    conversations: {
      database: 'shard',
      write: (org) => post(org, '/conversations', { context_type: 'general', ai_model: 'openai_gpt4', title: 'Plans' }),
      read: (org, w) => `/v1/orgs/${org.slug}/conversations/${w.body.id}`,
      sees: (body) => expect(body.title).toBe('Plans'),
    },
    'chat turns (written by the chat object)': {
      database: 'shard',
      setup: async (org) => ({
        conversation: (await post(org, '/conversations', { context_type: 'general', ai_model: 'openai_gpt4' })).body.id,
      }),
      write: (org, made) => post(org, `/conversations/${made.conversation}/messages`, { content: 'Remember me' }),
      read: (org, _, made) => `/v1/orgs/${org.slug}/conversations/${made.conversation}`,
      sees: (body) =>
        expect(body.conversation_data.map((m: { content: string }) => m.content)).toContain('Remember me'),
    },
    activity: {
      database: 'shard',
      write: (org) => post(org, '/customers', { name: 'Audited' }),
      read: (org, w) => `/v1/orgs/${org.slug}/activity?resource_id=${w.body.id}`,
      sees: (body) => expect(body.data.map((a: { action: string }) => a.action)).toContain('customer.create'),
    },
    members: {
      database: 'catalog',
      write: (org) =>
        post(org, '/members', { email: `new-${crypto.randomUUID().slice(0, 8)}@strive.test`, role: 'viewer' }),
      read: (org) => `/v1/orgs/${org.slug}/members?limit=100`,
      sees: (body, w) => expect(body.data.map((m: { user_id: string }) => m.user_id)).toContain(w.body.user_id),
    },
    'API keys': {
      database: 'catalog',
      write: (org) => post(org, '/api-keys', { name: 'ci', scopes: ['organization:read'] }),
      read: (org) => `/v1/orgs/${org.slug}/api-keys`,
      sees: (body, w) => expect(body.data.map((k: { id: string }) => k.id)).toContain(w.body.id),
    },
    organizations: {
      database: 'catalog',
      write: (org) =>
        api('PATCH', `/v1/orgs/${org.slug}`, { token: org.owner.token, body: { description: 'Changed' } }),
      read: (org) => `/v1/orgs/${org.slug}`,
      sees: (body) => expect(body.description).toBe('Changed'),
    },
    'AI tools (platform admins)': {
      database: 'catalog',
      setup: async (org) => {
        await env.CATALOG.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(org.owner.id).run();
        return {};
      },
      write: (org) =>
        api('POST', '/v1/ai-tools', {
          token: org.owner.token,
          body: {
            name: `Lookup ${crypto.randomUUID().slice(0, 8)}`,
            description: 'Looks something up.',
            tool_type: 'analysis',
            required_tier: 'pro',
            configuration: {
              parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] },
            },
          },
        }),
      read: () => '/v1/ai-tools?limit=100',
      sees: (body, w) => expect(body.data.map((t: { id: string }) => t.id)).toContain(w.body.id),
    },
    'me (a new organization)': {
      database: 'catalog',
      write: (org) =>
        api('POST', '/v1/orgs', {
          token: org.owner.token,
          body: { name: `Second ${crypto.randomUUID().slice(0, 8)}` },
        }),
      read: () => '/v1/me',
      sees: (body, w) =>
        expect(body.memberships.map((m: { organization: { id: string } }) => m.organization.id)).toContain(w.body.id),
    },
  };

  it.each(Object.entries(cases))('%s', async (_, c) => {
    const org = await newOrg();
    const made = (await c.setup?.(org)) ?? {};
    const database = c.database === 'catalog' ? 'catalog' : await shardName(org);
    const before = await position(database);
    const written = await c.write(org, made);
    expect(written.status, JSON.stringify(written.body)).toBeLessThan(300);
    const bookmark = bookmarksOf(written).get(database);
    expect(bookmark! > before, `${bookmark} after ${before}`).toBe(true);

    const read = await watched('GET', c.read(org, written, made), {
      token: org.owner.token,
      headers: { 'strive-bookmark': written.headers.get('strive-bookmark')! },
    });
    expect(read.status, JSON.stringify(read.body)).toBe(200);
    c.sees(read.body, written);
    const sessions = read.opened.filter((s) => s.database === database);
    expect(sessions.length).toBeGreaterThan(0);
    for (const session of sessions) expect(session.start).toBe(bookmark);
  });

  it('reads from the nearest replica without a bookmark', async () => {
    const org = await newOrg();
    const read = await watched('GET', `/v1/orgs/${org.slug}/customers`, { token: org.owner.token });
    expect(new Set(read.opened.map((s) => s.database))).toEqual(new Set(['catalog', await shardName(org)]));
    expect(new Set(read.opened.map((s) => s.start))).toEqual(new Set(['first-unconstrained']));
  });
});

describe('which instance each route reads', () => {
  const document = createApp().getOpenAPI31Document({ openapi: '3.1.0', info: { title: 'Strive', version: 'test' } });
  const reads = Object.entries(document.paths ?? {})
    .filter(([, item]) => (item as { get?: unknown }).get)
    .map(([path]) => path);
  let org: TestOrg;
  let ids: Record<string, string>;

  beforeAll(async () => {
    org = await newOrg();
    const made = (path: string, body: unknown) =>
      api('POST', `/v1/orgs/${org.slug}${path}`, { token: org.owner.token, body }).then((r) => r.body.id as string);
    const project = await made('/projects', { name: 'Read paths' });
    const content = await made('/content', { title: 'Public', slug: 'public-item', content: 'x' });
    await api('POST', `/v1/orgs/${org.slug}/content/${content}/publish`, { token: org.owner.token });
    ids = {
      project,
      content,
      customer: await made('/customers', { name: 'Read' }),
      task: await made(`/projects/${project}/tasks`, { title: 'Read' }),
      appointment: await made('/appointments', { title: 'Read', start_time: soon(1), end_time: soon(2) }),
      conversation: await made('/conversations', { context_type: 'general', ai_model: 'openai_gpt4' }),
      asset: (
        await api('POST', `/v1/orgs/${org.slug}/assets?name=a.txt`, {
          token: org.owner.token,
          body: 'a',
          headers: { 'content-type': 'text/plain', 'content-length': '1' },
        })
      ).body.id,
    };
  });

  /** A route's path for `org`, with an id of the right kind where it has one. */
  const urlOf = (path: string) => {
    const kind = /\/(customers|projects|tasks|appointments|conversations|assets|content)\/\{id\}/.exec(path)?.[1];
    const id = {
      customers: ids.customer,
      projects: ids.project,
      tasks: ids.task,
      appointments: ids.appointment,
      conversations: ids.conversation,
      assets: ids.asset,
      content: ids.content,
    }[kind ?? ''];
    return path
      .replace('{org}', org.slug)
      .replace('{org_slug}', org.slug)
      .replace('{slug}', 'public-item')
      .replace('{id}', id ?? crypto.randomUUID());
  };

  it.each(reads)('GET %s reads only from any instance (the nearest replica)', async (path) => {
    await api('GET', `/v1/orgs/${org.slug}`, { token: org.owner.token }); // the access look-up is cached
    const res = await api('GET', urlOf(path), { token: org.owner.token });
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(500);
    expect(instances(res).filter((trip) => !trip.endsWith(':any'))).toEqual([]);
  });

  it('asked for the primary, reads every query there (the access look-up too)', async () => {
    await api('GET', `/v1/orgs/${org.slug}`, { token: org.owner.token });
    const res = await watched('GET', `/v1/orgs/${org.slug}/customers/${ids.customer}`, {
      token: org.owner.token,
      headers: { 'strive-consistency': 'primary' },
    });
    expect(res.status).toBe(200);
    expect(instances(res)).toEqual(['catalog:primary', 'shard:primary']);
    expect(new Set(res.opened.map((s) => s.start))).toEqual(new Set(['first-primary']));
  });

  it('writes on the primary, after an access look-up from the nearest replica', async () => {
    const fresh = await newOrg();
    const res = await api('POST', `/v1/orgs/${fresh.slug}/customers`, {
      token: fresh.owner.token,
      body: { name: 'Written' },
    });
    expect(instances(res)).toEqual(['catalog:any', 'shard:primary']);
  });

  // The reads that decide a write, each from the primary (docs/architecture.md, "Reads on the primary").
  const decisions: [string, (o: TestOrg) => Promise<ApiResponse>, string[]][] = [
    [
      'an organization update reads its diff there',
      (o) => api('PATCH', `/v1/orgs/${o.slug}`, { token: o.owner.token, body: { description: 'd' } }),
      ['catalog:primary@object', 'shard:primary@object', 'catalog:primary@object'],
    ],
    [
      'a member change reads the member (their role decides who may change them)',
      async (o) => {
        const member = await joinAs(o, 'member');
        await api('GET', `/v1/orgs/${o.slug}`, { token: o.owner.token });
        return api('PATCH', `/v1/orgs/${o.slug}/members/${member.id}`, {
          token: o.owner.token,
          body: { role: 'viewer' },
        });
      },
      ['catalog:primary@object', 'shard:primary@object', 'catalog:primary@object'],
    ],
    [
      'a member removal reads the member',
      async (o) => {
        const member = await joinAs(o, 'member');
        await api('GET', `/v1/orgs/${o.slug}`, { token: o.owner.token });
        return api('DELETE', `/v1/orgs/${o.slug}/members/${member.id}`, { token: o.owner.token });
      },
      ['catalog:primary@object', 'shard:primary@object', 'catalog:primary@object'],
    ],
    [
      'an API key revocation reads the key',
      async (o) => {
        const key = await api('POST', `/v1/orgs/${o.slug}/api-keys`, {
          token: o.owner.token,
          body: { name: 'k', scopes: ['organization:read'] },
        });
        return api('DELETE', `/v1/orgs/${o.slug}/api-keys/${key.body.id}`, { token: o.owner.token });
      },
      ['catalog:primary@object', 'shard:primary@object', 'catalog:primary@object'],
    ],
    [
      'an organization deletion reads its subscription (a webhook may just have made it live)',
      (o) => api('DELETE', `/v1/orgs/${o.slug}`, { token: o.owner.token }),
      ['catalog:primary@object', 'shard:primary@object', 'catalog:primary@object'],
    ],
    [
      'an upload reads the storage quota',
      (o) =>
        api('POST', `/v1/orgs/${o.slug}/assets?name=q.txt`, {
          token: o.owner.token,
          body: 'q',
          headers: { 'content-type': 'text/plain', 'content-length': '1' },
        }),
      ['shard:primary@object', 'shard:primary@object'],
    ],
    // The task's project (which board object) from a replica: a task never changes project.
    [
      'a board move reads its column (in the board object)',
      async (o) => {
        const project = await api('POST', `/v1/orgs/${o.slug}/projects`, { token: o.owner.token, body: { name: 'p' } });
        const task = await api('POST', `/v1/orgs/${o.slug}/projects/${project.body.id}/tasks`, {
          token: o.owner.token,
          body: { title: 't' },
        });
        return api('POST', `/v1/orgs/${o.slug}/tasks/${task.body.id}/move`, {
          token: o.owner.token,
          body: { status: 'done' },
        });
      },
      ['shard:any', 'shard:primary@object', 'shard:primary@object'],
    ],
    [
      'an Idempotency-Key is claimed (a write) and its answer stored',
      (o) =>
        api('POST', `/v1/orgs/${o.slug}/customers`, {
          token: o.owner.token,
          body: { name: 'Once' },
          headers: { 'idempotency-key': crypto.randomUUID() },
        }),
      ['catalog:primary@object', 'shard:primary@object', 'catalog:primary@object'],
    ],
  ];

  it.each(decisions)('%s', async (_, request, expected) => {
    const o = await newOrg();
    await api('GET', `/v1/orgs/${o.slug}`, { token: o.owner.token });
    const res = await request(o);
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
    expect(instances(res)).toEqual(expected);
  });

  it('a chat turn reads and writes its conversation on the primary (in its object)', async () => {
    const o = await newOrg();
    const conversation = await api('POST', `/v1/orgs/${o.slug}/conversations`, {
      token: o.owner.token,
      body: { context_type: 'general', ai_model: 'openai_gpt4' },
    });
    const res = await api('POST', `/v1/orgs/${o.slug}/conversations/${conversation.body.id}/messages`, {
      token: o.owner.token,
      body: { content: 'hi' },
    });
    expect(res.status).toBe(201);
    expect(res.farHops).toBe(1);
    const [visibility, ...object] = instances(res);
    expect(visibility).toBe('shard:any');
    expect(object.length).toBeGreaterThan(0);
    expect(
      object.every((trip) => trip.endsWith(':primary@object')),
      object.join(),
    ).toBe(true);
  });
});

describe("cached access and the client's own changes", () => {
  it("is read again when the client's catalog bookmark is newer than the cached answer", async () => {
    const org = await newOrg();
    const member = await joinAs(org, 'member');
    const warm = await api('GET', `/v1/orgs/${org.slug}/customers`, { token: member.token });
    expect(warm.status).toBe(200);
    // A demotion made in another isolate or location: this isolate's cache was not purged.
    await env.CATALOG.prepare(
      "UPDATE organization_members SET role = 'viewer' WHERE organization_id = ? AND user_id = ?",
    )
      .bind(org.id, member.id)
      .run();
    const write = (headers: Record<string, string> = {}) =>
      api('POST', `/v1/orgs/${org.slug}/customers`, {
        token: member.token,
        body: { name: 'After the change' },
        headers,
      });
    // Without a bookmark the cached access answers (up to its 30 s, as documented).
    expect((await write()).status).toBe(201);
    // With a bookmark as new as the change, the access is read again: a viewer may not write.
    expectProblem(await write({ 'strive-bookmark': `catalog:${await position('catalog')}` }), 403, 'forbidden');
  });

  it('is kept when the client echoes the bookmark of the answer that cached it: no extra round trip', async () => {
    const org = await newOrg();
    const cold = await api('GET', `/v1/orgs/${org.slug}/customers`, { token: org.owner.token });
    const warm = await api('GET', `/v1/orgs/${org.slug}/customers`, {
      token: org.owner.token,
      headers: { 'strive-bookmark': cold.headers.get('strive-bookmark')! },
    });
    expect([cold.roundTrips, warm.roundTrips]).toEqual([2, 1]);
  });
});

describe("the location's access cache (a fresh isolate)", () => {
  /** A request whose waitUntil work (the location's copy of the access) is done when it answers. */
  const read = (org: TestOrg, token = org.owner.token, headers: Record<string, string> = {}) =>
    watched('GET', `/v1/orgs/${org.slug}/customers`, { token, headers });

  it('answers a tenant read on a fresh isolate in one round trip once the location has the access', async () => {
    const org = await newOrg();
    expect((await read(org)).roundTrips).toBe(2);
    forgetIsolateAccess();
    const fresh = await read(org);
    expect(fresh.status).toBe(200);
    expect(instances(fresh)).toEqual(['shard:any']);
  });

  it("is not used after a change of the organization's members, in a fresh isolate", async () => {
    const org = await newOrg();
    const member = await joinAs(org, 'member');
    await read(org, member.token);
    const demoted = await api('PATCH', `/v1/orgs/${org.slug}/members/${member.id}`, {
      token: org.owner.token,
      body: { role: 'viewer' },
    });
    expect(demoted.status).toBe(200);
    forgetIsolateAccess();
    const after = await watched('POST', `/v1/orgs/${org.slug}/customers`, {
      token: member.token,
      body: { name: 'Viewer now' },
    });
    expectProblem(after, 403, 'forbidden');
    expect(instances(after)).toEqual(['catalog:any']);
  });

  it("is not used once its organization's mark is gone (evicted): a change may have been missed", async () => {
    const org = await newOrg();
    await read(org);
    await caches.default.delete(`https://access-cache.strive.internal/changed/org/${org.id}`);
    forgetIsolateAccess();
    expect((await read(org)).roundTrips).toBe(2);
  });

  it("keeps no secret: an API key's access is kept under the hash of the key and holds no part of it", async () => {
    const org = await newOrg();
    const key = (
      await api('POST', `/v1/orgs/${org.slug}/api-keys`, {
        token: org.owner.token,
        body: { name: 'k', scopes: ['customers:read'] },
      })
    ).body.key as string;
    expect((await read(org, key)).status).toBe(200);
    // The entry's key is the credential and organization reference of src/auth/tenant.ts's cacheKey, hashed.
    const entry = await caches.default.match(
      `https://access-cache.strive.internal/access/${await sha256Hex(`k:${key}:${org.slug}`)}`,
    );
    const kept = await entry!.text();
    expect(kept).toContain(org.id);
    expect(kept).not.toContain(key.slice(4, 20));
  });
});

describe('the public cache after a write', () => {
  it('reads a miss at least as new as the write that purged it', async () => {
    const org = await newOrg();
    const created = await api('POST', `/v1/orgs/${org.slug}/content`, {
      token: org.owner.token,
      body: { title: 'Fresh', slug: 'fresh', content: 'x' },
    });
    const published = await api('POST', `/v1/orgs/${org.slug}/content/${created.body.id}/publish`, {
      token: org.owner.token,
    });
    expect(published.status).toBe(200);
    const shard = await shardName(org);
    const miss = await watched('GET', `/v1/public/${org.slug}/content/fresh`);
    expect(miss.status).toBe(200);
    expect(miss.body.title).toBe('Fresh');
    expect(miss.opened).toContainEqual({ database: shard, start: bookmarksOf(published).get(shard) });
  });
});

describe('a first sign-in a replica has not seen yet', () => {
  it('provisions the same Clerk user again without refusing them', async () => {
    const user = await newUser();
    const { clerk_user_id: clerkUserId } = (await env.CATALOG.prepare('SELECT clerk_user_id FROM users WHERE id = ?')
      .bind(user.id)
      .first<{ clerk_user_id: string }>())!;
    const again = await provisionUser(catalogDb(env, D1Sessions.primary(env)), {
      type: 'session',
      clerkUserId,
      email: user.email,
    });
    expect(again.id).toBe(user.id);
  });
});

describe('D1_SESSIONS=false', () => {
  it('opens no session, answers no bookmark and sends every query to the primary', async () => {
    const org = await newOrg();
    const res = await watched('POST', `/v1/orgs/${org.slug}/customers`, {
      token: org.owner.token,
      body: { name: 'Plain' },
      vars: { D1_SESSIONS: 'false' },
    });
    expect(res.status).toBe(201);
    expect(res.opened).toEqual([]);
    expect(res.headers.get('strive-bookmark')).toBeNull();
    expect(instances(res)).toEqual(['catalog:primary', 'shard:primary']);
  });
});
