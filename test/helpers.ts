// What every test file drives the Worker with: real session tokens signed by the test key,
// requests through SELF (the Worker as deployed), and small builders for users and organizations.
import {
  createExecutionContext,
  createMessageBatch,
  env,
  fetchMock,
  getQueueResult,
  runDurableObjectAlarm,
  runInDurableObject,
  SELF,
} from 'cloudflare:test';
import { expect } from 'vitest';
import worker from '../src/index';
import { createApp } from '../src/app';
import { signSessionToken } from '../src/auth/session-tokens';
import { uuidv7 } from '../src/lib/ids';
import type { DataRegion, Tier } from '../src/db/enums';
import type { UsageEvent } from '../src/lib/usage-meter';
import { fromPortable } from '../src/auth/tenant';
import { ROLE_PERMISSIONS } from '../src/auth/permissions';
import { D1Sessions } from '../src/db/sessions';
import type { TenantContext } from '../src/env';
import { createContent } from '../src/modules/content/service';
import type { ContentCreate } from '../src/modules/content/schemas';
import { createCustomer } from '../src/modules/customers/service';
import type { CustomerCreate } from '../src/modules/customers/schemas';
import { createProject } from '../src/modules/projects/service';
import type { ProjectCreate } from '../src/modules/projects/schemas';
import { createTask } from '../src/modules/tasks/service';
import type { TaskCreate } from '../src/modules/tasks/schemas';

export type TokenClaims = {
  sub: string;
  email?: string;
  email_verified?: boolean | string;
  name?: string;
  picture?: string;
  azp?: string;
  exp?: number;
  iat?: number;
  nbf?: number;
};

/**
 * A Clerk-shaped session token (RS256) signed with the key whose public half is CLERK_JWT_KEY.
 * An email is verified (`email_verified: true`) unless the claims say otherwise.
 */
export async function signToken(claims: TokenClaims): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const verified = claims.email ? { email_verified: true } : {};
  const payload = {
    iss: 'https://clerk.strive.test',
    sid: `sess_${crypto.randomUUID()}`,
    iat: now,
    nbf: now - 5,
    exp: now + 600,
    ...verified,
    ...claims,
  };
  return signSessionToken(env.TEST_SIGNING_KEY, payload, 'test');
}

/** `farHops`: the Worker's trips to a D1 primary or to a placed object (x-d1-far-hops). */
export type ApiResponse<T = any> = { status: number; body: T; headers: Headers; roundTrips: number; farHops: number };

export async function api<T = any>(
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const primary = headers['strive-consistency'] === 'primary';
  return readResponse(await SELF.fetch(`https://strive.test${path}`, { method, headers, body }), {
    method,
    path,
    primary,
  });
}

/**
 * The requests allowed more than one far hop (D1 primary or placed object), each with its reason;
 * every other response readResponse reads asserts at most one (docs/architecture.md, D1 round trips).
 * `primary`: a request whose every read goes to the primary by the client's or the deployment's
 * choice (Strive-Consistency: primary, D1_SESSIONS=false): its access look-up too, not held to it.
 */
const FAR_HOP_EXCEPTIONS: { method: string; path: RegExp; reason: string }[] = [
  {
    method: 'POST',
    path: /^\/v1\/orgs$/,
    reason:
      'the shard, and so where its writer belongs, is chosen by the catalog INSERT itself (one statement), ' +
      'and the audit row then goes to that shard: nothing is placed before the first trip; once per organization',
  },
  {
    method: 'POST',
    path: /^\/v1\/admin\/moves\/[^/]+\/step$/,
    reason:
      "a move's steps copy an organization page by page between two shards, every trip on the primary by design: " +
      'maintenance driven by npm run org:move, no client waits on it',
  },
];

export async function readResponse<T = any>(
  response: Response,
  request?: { method: string; path: string; primary?: boolean },
): Promise<ApiResponse<T>> {
  const text = await response.text();
  const farHops = Number(response.headers.get('x-d1-far-hops') ?? NaN);
  const excepted = FAR_HOP_EXCEPTIONS.some(
    ({ method, path }) => request?.method.toUpperCase() === method && path.test(request.path.split('?')[0]!),
  );
  if (farHops > 1 && !excepted && !request?.primary) {
    const instances = response.headers.get('x-d1-instances');
    throw new Error(
      `${request?.method ?? ''} ${request?.path ?? 'a request'}: ${farHops} far hops (${instances}), at most 1`,
    );
  }
  return {
    status: response.status,
    body: text && /json/.test(response.headers.get('content-type') ?? '') ? JSON.parse(text) : text,
    headers: response.headers,
    roundTrips: Number(response.headers.get('x-d1-round-trips') ?? NaN),
    farHops,
  };
}

/**
 * `bindings` with an ORGANIZATION_WRITER whose objects run the writer's app (what the object runs,
 * realtime/organization-writer.ts) on these same bindings: for a test that calls the Worker with
 * bindings of its own (a failing bucket, a Stripe key), so that what is handed to the writer sees them.
 */
export function withWriter<E extends object>(bindings: E, ctx: ExecutionContext): E {
  const writer = createApp({ beside: true });
  const withIt: E = {
    ...bindings,
    ORGANIZATION_WRITER: {
      idFromName: (name: string) => name,
      get: () => ({ fetch: (request: Request) => writer.fetch(request, withIt, ctx) }),
    },
  };
  return withIt;
}

export type TestUser = { email: string; sub: string; token: string; id: string };

/** A new user, known to the catalog (provisioned through /v1/me on first use). */
export async function newUser(label = 'user', extra: Partial<TokenClaims> = {}): Promise<TestUser> {
  const tag = crypto.randomUUID().slice(0, 8);
  const email = `${label}-${tag}@strive.test`;
  const sub = `user_${label}_${tag}`;
  const token = await signToken({ sub, email, name: label, ...extra });
  const me = await api('GET', '/v1/me', { token });
  expect(me.status).toBe(200);
  return { email, sub, token, id: me.body.id };
}

export type TestOrg = { id: string; slug: string; owner: TestUser };

/**
 * A new organization owned by `owner` (a new user by default). `tier` sets its subscription's tier
 * before any request reaches it, for tests that need more than the free tier's seats; `data_region`
 * places it (locally: enam → SHARD_0, the default; weur → SHARD_1; eu → SHARD_2).
 */
export async function newOrg(
  owner?: TestUser,
  { tier, data_region }: { tier?: Tier; data_region?: DataRegion } = {},
): Promise<TestOrg> {
  const user = owner ?? (await newUser('owner'));
  const slug = `org-${crypto.randomUUID().slice(0, 8)}`;
  const res = await api('POST', '/v1/orgs', { token: user.token, body: { name: `Org ${slug}`, slug, data_region } });
  expect(res.status).toBe(201);
  if (tier)
    await env.CATALOG.prepare('UPDATE subscriptions SET tier = ? WHERE organization_id = ?')
      .bind(tier, res.body.id)
      .run();
  return { id: res.body.id, slug, owner: user };
}

/** Adds a fresh user to `org` with `role` (and optional grants/denies) and returns them. */
export async function joinAs(
  org: TestOrg,
  role: 'owner' | 'admin' | 'member' | 'viewer',
  permissions?: { grant?: string[]; deny?: string[] },
) {
  const user = await newUser(role);
  const res = await api('POST', `/v1/orgs/${org.slug}/members`, {
    token: org.owner.token,
    body: {
      email: user.email,
      role,
      ...(permissions ? { permissions: { grant: permissions.grant ?? [], deny: permissions.deny ?? [] } } : {}),
    },
  });
  expect(res.status).toBe(201);
  return user;
}

export function expectProblem(res: ApiResponse, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers.get('content-type')).toContain('application/problem+json');
  expect(res.body.code).toBe(code);
  expect(res.body.status).toBe(status);
  expect(res.body.request_id).toBe(res.headers.get('x-request-id'));
}

/**
 * An organization row in the catalog alone (no owner, no request), on `shard`: what the usage
 * consumer needs to count an event of it, with a Stripe customer when `billed`.
 */
export async function catalogOrg(shard: number, { billed = false }: { billed?: boolean } = {}): Promise<string> {
  const id = uuidv7();
  await env.CATALOG.prepare(
    "INSERT INTO organizations (id, name, slug, shard, stripe_customer_id) VALUES (?, 'Metered', ?, ?, ?)",
  )
    .bind(id, `metered-${id.slice(-8)}`, shard, billed ? `cus_${id.slice(-8)}` : null)
    .run();
  return id;
}

export function usageEvent(organizationId: string, shard: number, over: Partial<UsageEvent> = {}): UsageEvent {
  return {
    id: uuidv7(),
    organization_id: organizationId,
    shard,
    user_id: null,
    resource_type: 'api_calls',
    resource_name: 'GET /v1/orgs/:org/customers',
    quantity: 1,
    occurred_at: new Date().toISOString(),
    ...over,
  };
}

/** Delivers `bodies` to `queue` as one batch (each message `attempts` times delivered) and returns what was acked and retried. */
export async function deliver(queue: string, bodies: unknown[], attempts = 1, bindings: object = env) {
  const messages = bodies.map((body, n) => ({
    id: `msg-${n}-${crypto.randomUUID()}`,
    timestamp: new Date(),
    attempts,
    body,
  }));
  const batch = createMessageBatch(queue, messages);
  const ctx = createExecutionContext();
  await worker.queue(batch, bindings as never, ctx);
  // FetcherQueueResult's fields (its type is not in this project's generated runtime types).
  const result = (await getQueueResult(batch, ctx)) as unknown as {
    ackAll: boolean;
    explicitAcks: string[];
    retryMessages: { msgId: string }[];
  };
  const idOf = (msgId: string) => messages.findIndex((m) => m.id === msgId);
  return {
    acked: result.ackAll ? messages.map((_, n) => n) : result.explicitAcks.map(idOf).sort(),
    retried: result.retryMessages.map((r) => ({ index: idOf(r.msgId) })),
    result,
  };
}

export type SocketMessage = { type: string; [key: string]: any };

/**
 * A WebSocket opened through the Worker as a browser opens it (the token in the query), recording
 * what it receives; `until` waits for the `n`th message (from 1) matching `match`, anywhere in the
 * log, and `closed` is the code the server closed it with.
 */
export async function openSocket(path: string, token: string) {
  const res = await SELF.fetch(`https://strive.test${path}?token=${token}`, { headers: { upgrade: 'websocket' } });
  expect(res.status).toBe(101);
  const socket = res.webSocket!;
  socket.accept();
  const log: SocketMessage[] = [];
  const closed = new Promise<number>((resolve) => socket.addEventListener('close', (event) => resolve(event.code)));
  socket.addEventListener('message', (event) => {
    log.push(JSON.parse(event.data as string));
  });
  const until = async (match: (m: SocketMessage) => boolean, n = 1, timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = log.filter(match);
      if (found.length >= n) return found[n - 1]!;
      if (Date.now() > deadline) throw new Error(`no matching message; log: ${JSON.stringify(log)}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  return {
    log,
    until,
    send: (m: object | string) => socket.send(typeof m === 'string' ? m : JSON.stringify(m)),
    closed,
    close: async () => {
      socket.close(1000, 'done');
      await closed;
    },
  };
}

/**
 * Runs a socket object's access re-check now instead of waiting for it, after checking that it is
 * due within the access cache's window (30 s) — the longest a socket may outlive its access.
 */
export async function runAccessRecheck(object: DurableObjectStub) {
  const due = await runInDurableObject(object, (_, state) => state.storage.getAlarm());
  expect(due, 'no access re-check scheduled').not.toBeNull();
  expect(due! - Date.now()).toBeLessThanOrEqual(30_000);
  expect(await runDurableObjectAlarm(object)).toBe(true);
}

/**
 * Makes the RATE_LIMITER binding refuse `key` (as if its limit were spent) until `restore()`; the
 * binding is shared with the Worker and its objects. `keys`: every key it was asked about.
 */
export function refuseRateLimitKey(key: string) {
  const limiter = env.RATE_LIMITER as unknown as { limit: (options: { key: string }) => Promise<{ success: boolean }> };
  const limit = limiter.limit;
  const keys: string[] = [];
  limiter.limit = async function (options) {
    keys.push(options.key);
    return options.key === key ? { success: false } : limit.call(this, options);
  };
  return { keys, restore: () => void (limiter.limit = limit) };
}

/** What a mocked resolver knows: a name's addresses (A and AAAA), or a failure to play. */
export type DnsAnswers = Record<string, string[] | 'SERVFAIL' | 'HTTP 503'>;
const resolvers = new Map<string, { answers: DnsAnswers; queries: string[] }>();

/**
 * Answers DNS-over-HTTPS look-ups at `resolver` (default: wrangler.toml's DOH_RESOLVER_URL) in
 * Cloudflare's JSON shape, from `answers`; a name not listed is NXDOMAIN. The interceptor is
 * registered once per resolver and persists; each call replaces its answers. Returns the look-ups
 * (`name/type`) this resolver gets from now on. fetchMock must be active.
 */
export function mockDns(answers: DnsAnswers, resolver = env.DOH_RESOLVER_URL): string[] {
  const known = resolvers.get(resolver);
  if (known) {
    known.answers = answers;
    known.queries.length = 0;
    return known.queries;
  }
  const state = { answers, queries: [] as string[] };
  resolvers.set(resolver, state);
  const { origin, pathname } = new URL(resolver);
  fetchMock
    .get(origin)
    .intercept({ path: (path) => path.startsWith(`${pathname}?`), method: 'GET' })
    .reply((request) => {
      const query = new URL(request.path, origin).searchParams;
      const [name, type] = [query.get('name')!, query.get('type')!];
      state.queries.push(`${name}/${type}`);
      const answer = state.answers[name];
      if (answer === 'HTTP 503') return { statusCode: 503, data: 'unavailable' };
      const json = (data: object) => ({
        statusCode: 200,
        data: JSON.stringify(data),
        responseOptions: { headers: { 'content-type': 'application/dns-json' } },
      });
      if (answer === 'SERVFAIL') return json({ Status: 2 });
      if (!answer) return json({ Status: 3, Question: [{ name, type: type === 'A' ? 1 : 28 }] });
      const records = answer.filter((address) => address.includes(':') === (type === 'AAAA'));
      return json({ Status: 0, Answer: records.map((data) => ({ name, type: type === 'A' ? 1 : 28, TTL: 60, data })) });
    })
    .persist();
  return state.queries;
}

/**
 * Calls `hook` with every statement sent to `db` (a D1 binding), whether straight to it or through
 * a session of it (`withSession`, which the Worker's D1Sessions uses): to count the queries, or to
 * make them fail as a broken database would (a hook that throws). Undo with the answer.
 */
export function interceptStatements(db: D1Database, hook: (query: string) => void): () => void {
  const patched = db as unknown as { prepare: D1Database['prepare']; withSession: D1Database['withSession'] };
  const { prepare, withSession } = patched;
  patched.prepare = function (query) {
    hook(query);
    return prepare.call(this, query);
  };
  patched.withSession = function (constraint) {
    const session = withSession.call(this, constraint);
    return new Proxy(session, {
      get(target, key) {
        if (key === 'prepare') return (query: string) => (hook(query), target.prepare(query));
        const value = Reflect.get(target, key);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  };
  return () => {
    patched.prepare = prepare;
    patched.withSession = withSession;
  };
}

/** An organization's shard, its number and its database, read from the catalog as the Worker reads it. */
/**
 * The organization as its objects' clients place it. Locally its region changes no object's id
 * (DO_JURISDICTIONS is off, and a location hint is not part of an id), so tests name it by id.
 */
export const placeOf = (org: { id: string }) => ({ id: org.id, data_region: null });

export async function shardOf(idOrSlug: string): Promise<{ n: number; db: D1Database }> {
  const row = await env.CATALOG.prepare('SELECT shard FROM organizations WHERE id = ?1 OR slug = ?1')
    .bind(idOrSlug)
    .first<{ shard: number }>();
  if (!row) throw new Error(`no organization ${idOrSlug}`);
  return { n: row.shard, db: (env as unknown as Record<string, D1Database>)[`SHARD_${row.shard}`]! };
}

/**
 * The newest audit row of `action` on `resourceId`, as stored in the organization's shard (JSON
 * columns parsed), checked to exist and to match `expected`.
 */
export async function expectAuditRow(
  org: { id: string },
  { action, resourceId }: { action: string; resourceId: string },
  expected: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  const row = await (
    await shardOf(org.id)
  ).db
    .prepare(
      'SELECT * FROM activity_logs WHERE organization_id = ? AND action = ? AND resource_id = ? ORDER BY id DESC LIMIT 1',
    )
    .bind(org.id, action, resourceId)
    .first<Record<string, unknown>>();
  expect(row, `no audit row ${action} of ${resourceId}`).not.toBeNull();
  const parse = (value: unknown) => (typeof value === 'string' ? JSON.parse(value) : value);
  const parsed = { ...row, old_data: parse(row!.old_data), new_data: parse(row!.new_data) };
  expect(parsed).toMatchObject(expected);
  return parsed;
}

/**
 * The organization's owner as a service sees them: a TenantContext for calling services directly,
 * for tests that need data but not the HTTP path.
 */
export async function ownerContext(org: TestOrg): Promise<TenantContext> {
  const row = (await env.CATALOG.prepare(
    'SELECT o.id, o.slug, o.name, o.shard, s.region AS data_region FROM organizations o ' +
      'LEFT JOIN shards s ON s.shard = o.shard WHERE o.id = ?',
  )
    .bind(org.id)
    .first<{ id: string; slug: string; name: string; shard: number; data_region: DataRegion | null }>())!;
  const user = { id: org.owner.id, email: org.owner.email, name: null, role: 'employee' as const };
  const portable = {
    organization: { ...row, tier: 'free' as const },
    actor: { type: 'user' as const, user },
    role: 'owner' as const,
    permissions: [...ROLE_PERMISSIONS.owner],
    clientEmail: null,
    request: { requestId: `test-${uuidv7()}`, ip: null, userAgent: null },
  };
  return fromPortable(env, D1Sessions.primary(env), portable, () => {});
}

/** Records made through their services (permission check, audit row and all), with defaults a test may override. */
export const make = {
  customer: (ctx: TenantContext, input: Partial<CustomerCreate> = {}) =>
    createCustomer({ ctx, input: { name: 'Customer', ...input } }),
  project: (ctx: TenantContext, input: Partial<ProjectCreate> = {}) =>
    createProject({ ctx, input: { name: 'Project', ...input } }),
  task: (ctx: TenantContext, projectId: string, input: Partial<TaskCreate> = {}) =>
    createTask({ ctx, env, projectId, input: { title: 'Task', ...input } }),
  content: (ctx: TenantContext, input: Partial<ContentCreate> = {}) =>
    createContent({ ctx, input: { title: 'Content', ...input } }),
};

/** Every shard table with an organization_id column, from the migrated schema itself. */
export async function tenantTableNames(): Promise<string[]> {
  // (D1 does not allow pragma_table_info: the column is found in the CREATE TABLE text.)
  const { results } = await env.SHARD_0.prepare(
    "SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name",
  ).all<{
    name: string;
    sql: string;
  }>();
  return results.filter((table) => /[`"]organization_id[`"] /.test(table.sql)).map((table) => table.name);
}
