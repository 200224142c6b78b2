// What every test file drives the Worker with: real session tokens signed by the test key,
// requests through SELF (the Worker as deployed), and small builders for users and organizations.
import { createExecutionContext, createMessageBatch, env, getQueueResult, SELF } from 'cloudflare:test';
import { expect } from 'vitest';
import worker from '../src/index';
import { signSessionToken } from '../src/auth/session-tokens';
import { uuidv7 } from '../src/lib/ids';
import type { Tier } from '../src/db/enums';
import type { UsageEvent } from '../src/modules/usage/meter';

export type TokenClaims = { sub: string; email?: string; name?: string; azp?: string; exp?: number; iat?: number; nbf?: number };

/** A Clerk-shaped session token (RS256) signed with the key whose public half is CLERK_JWT_KEY. */
export async function signToken(claims: TokenClaims): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: 'https://clerk.strive.test', sid: `sess_${crypto.randomUUID()}`, iat: now, nbf: now - 5, exp: now + 600, ...claims };
  return signSessionToken(env.TEST_SIGNING_KEY, payload, 'test');
}

export type ApiResponse<T = any> = { status: number; body: T; headers: Headers; roundTrips: number };

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
  return readResponse(await SELF.fetch(`https://strive.test${path}`, { method, headers, body }));
}

export async function readResponse<T = any>(response: Response): Promise<ApiResponse<T>> {
  const text = await response.text();
  return {
    status: response.status,
    body: text && /json/.test(response.headers.get('content-type') ?? '') ? JSON.parse(text) : text,
    headers: response.headers,
    roundTrips: Number(response.headers.get('x-d1-round-trips') ?? NaN),
  };
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
 * before any request reaches it, for tests that need more than the free tier's seats.
 */
export async function newOrg(owner?: TestUser, { tier }: { tier?: Tier } = {}): Promise<TestOrg> {
  const user = owner ?? (await newUser('owner'));
  const slug = `org-${crypto.randomUUID().slice(0, 8)}`;
  const res = await api('POST', '/v1/orgs', { token: user.token, body: { name: `Org ${slug}`, slug } });
  expect(res.status).toBe(201);
  if (tier) await env.CATALOG.prepare('UPDATE subscriptions SET tier = ? WHERE organization_id = ?').bind(tier, res.body.id).run();
  return { id: res.body.id, slug, owner: user };
}

/** Adds a fresh user to `org` with `role` (and optional grants/denies) and returns them. */
export async function joinAs(org: TestOrg, role: 'owner' | 'admin' | 'member' | 'viewer', permissions?: { grant?: string[]; deny?: string[] }) {
  const user = await newUser(role);
  const res = await api('POST', `/v1/orgs/${org.slug}/members`, {
    token: org.owner.token,
    body: { email: user.email, role, ...(permissions ? { permissions: { grant: permissions.grant ?? [], deny: permissions.deny ?? [] } } : {}) },
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
  await env.CATALOG.prepare("INSERT INTO organizations (id, name, slug, shard, stripe_customer_id) VALUES (?, 'Metered', ?, ?, ?)")
    .bind(id, `metered-${id.slice(-8)}`, shard, billed ? `cus_${id.slice(-8)}` : null).run();
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
  const messages = bodies.map((body, n) => ({ id: `msg-${n}-${crypto.randomUUID()}`, timestamp: new Date(), attempts, body }));
  const batch = createMessageBatch(queue, messages);
  const ctx = createExecutionContext();
  await worker.queue(batch, bindings as never, ctx);
  // FetcherQueueResult's fields (its type is not in this project's generated runtime types).
  const result = (await getQueueResult(batch, ctx)) as unknown as { ackAll: boolean; explicitAcks: string[]; retryMessages: { msgId: string }[] };
  const idOf = (msgId: string) => messages.findIndex((m) => m.id === msgId);
  return {
    acked: result.ackAll ? messages.map((_, n) => n) : result.explicitAcks.map(idOf).sort(),
    retried: result.retryMessages.map((r) => ({ index: idOf(r.msgId) })),
    result,
  };
}
