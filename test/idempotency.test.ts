// Idempotency-Key on every mutation (src/middleware/idempotency.ts): the first answer below 500 is kept for
// 24 h and replayed to a repeat with the same key and the same request; the same key with another
// request is a 409; keys are per actor.
import { createScheduledController, env } from 'cloudflare:test';
import worker from '../src/index';
import { describe, expect, it } from 'vitest';
import { api, expectProblem, newOrg, newUser, type TestOrg, type TestUser } from './helpers';

const newKey = () => `idem-${crypto.randomUUID()}`;
const newSlug = () => `idem-${crypto.randomUUID().slice(0, 8)}`;

function createOrg(user: TestUser, body: unknown, key: string) {
  return api('POST', '/v1/orgs', { token: user.token, body, headers: { 'idempotency-key': key } });
}

async function orgsWithSlug(slug: string): Promise<number> {
  const row = await env.CATALOG.prepare('SELECT count(*) AS n FROM organizations WHERE slug = ?')
    .bind(slug)
    .first<{ n: number }>();
  return row!.n;
}

describe('Idempotency-Key', () => {
  it('replays the first answer to a repeat with the same key and body, and creates one organization', async () => {
    const user = await newUser('idem');
    const key = newKey();
    const slug = newSlug();
    const body = { name: 'Idempotent Inc', slug };

    const first = await createOrg(user, body, key);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();

    const second = await createOrg(user, body, key);
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.headers.get('content-type')).toContain('application/json');
    // The replay is a request of its own: it has its own id.
    expect(second.headers.get('x-request-id')).toBeTruthy();
    expect(second.headers.get('x-request-id')).not.toBe(first.headers.get('x-request-id'));

    const me = await api('GET', '/v1/me', { token: user.token });
    expect(me.body.memberships).toEqual([
      { organization: { id: first.body.id, slug, name: 'Idempotent Inc' }, role: 'owner' },
    ]);
    expect(await orgsWithSlug(slug)).toBe(1);
  });

  it('replays even when the body would now fail (a replay never re-runs the handler)', async () => {
    // Without the key, the second POST would be a 409 for the taken slug.
    const user = await newUser('idem');
    const key = newKey();
    const body = { name: 'Replay Corp', slug: newSlug() };
    const first = await createOrg(user, body, key);
    expect(first.status).toBe(201);
    const third = await createOrg(user, body, key);
    expect(third.status).toBe(201);
    expect(third.body.id).toBe(first.body.id);
    expectProblem(await api('POST', '/v1/orgs', { token: user.token, body }), 409, 'conflict');
  });

  it('answers 409 conflict to the same key with a different body, and creates nothing', async () => {
    const user = await newUser('idem');
    const key = newKey();
    const first = await createOrg(user, { name: 'First', slug: newSlug() }, key);
    expect(first.status).toBe(201);

    const otherSlug = newSlug();
    const res = await createOrg(user, { name: 'Second', slug: otherSlug }, key);
    expectProblem(res, 409, 'conflict');
    expect(res.headers.get('idempotent-replayed')).toBeNull();
    expect(await orgsWithSlug(otherSlug)).toBe(0);
  });

  it('answers 409 to the same key on another path', async () => {
    const user = await newUser('idem');
    const key = newKey();
    const org = await createOrg(user, { name: 'Path One', slug: newSlug() }, key);
    expect(org.status).toBe(201);
    const res = await api('POST', `/v1/orgs/${org.body.slug}/members`, {
      token: user.token,
      body: { name: 'Path One', slug: org.body.slug },
      headers: { 'idempotency-key': key },
    });
    expectProblem(res, 409, 'conflict');
  });

  it('keeps keys per user: the same key from another user creates their own organization', async () => {
    const alice = await newUser('idem-a');
    const bob = await newUser('idem-b');
    const key = newKey();
    const aliceOrg = await createOrg(alice, { name: 'Shared Key', slug: newSlug() }, key);
    expect(aliceOrg.status).toBe(201);

    const bobSlug = newSlug();
    const bobOrg = await createOrg(bob, { name: 'Shared Key', slug: bobSlug }, key);
    expect(bobOrg.status).toBe(201);
    expect(bobOrg.headers.get('idempotent-replayed')).toBeNull();
    expect(bobOrg.body.id).not.toBe(aliceOrg.body.id);
    expect(bobOrg.body.slug).toBe(bobSlug);

    // Even with an identical body, Bob's request is not answered with Alice's organization.
    const carol = await newUser('idem-c');
    const carolOrg = await createOrg(carol, { name: 'Shared Key', slug: bobSlug }, key);
    expectProblem(carolOrg, 409, 'conflict'); // the slug is Bob's now: Carol's request really ran
    expect(carolOrg.headers.get('idempotent-replayed')).toBeNull();
  });

  it('answers 400 to a key over 255 characters, without running the request', async () => {
    const user = await newUser('idem');
    const slug = newSlug();
    const res = await createOrg(user, { name: 'Too Long', slug }, 'k'.repeat(256));
    expectProblem(res, 400, 'invalid_request');
    expect(res.body.errors).toEqual([expect.objectContaining({ path: 'Idempotency-Key' })]);
    expect(await orgsWithSlug(slug)).toBe(0);
  });

  it('accepts a key of exactly 255 characters', async () => {
    const user = await newUser('idem');
    const key = `${crypto.randomUUID()}${'k'.repeat(255 - 36)}`;
    expect(key).toHaveLength(255);
    const res = await createOrg(user, { name: 'Just Right', slug: newSlug() }, key);
    expect(res.status).toBe(201);
    expect(
      (await createOrg(user, { name: 'Just Right', slug: res.body.slug }, key)).headers.get('idempotent-replayed'),
    ).toBe('true');
  });

  it('replays a 400 validation failure as the same 400 (every answer below 500 is kept)', async () => {
    const user = await newUser('idem');
    const key = newKey();
    const body = { name: '', slug: 'Not A Slug!' };
    const first = await createOrg(user, body, key);
    expectProblem(first, 400, 'invalid_request');
    expect(first.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['name', 'slug']);

    const second = await createOrg(user, body, key);
    expect(second.status).toBe(400);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.headers.get('content-type')).toContain('application/problem+json');
    // The very first answer, word for word, including the first request's id in its body.
    expect(second.body).toEqual(first.body);
    expect(second.body.request_id).toBe(first.headers.get('x-request-id'));
  });

  describe('on PUT, PATCH and DELETE too', () => {
    async function customerOf() {
      const org = await newOrg();
      const created = await api('POST', `/v1/orgs/${org.slug}/customers`, {
        token: org.owner.token,
        body: { name: 'Ada' },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      return { org, url: `/v1/orgs/${org.slug}/customers/${created.body.id}`, id: created.body.id as string };
    }
    const updates = async (org: TestOrg, id: string) =>
      (
        await api('GET', `/v1/orgs/${org.slug}/activity?resource_id=${id}&action=customer.update`, {
          token: org.owner.token,
        })
      ).body.data.length;

    it('replays a repeated DELETE as its first 204, with no body, not a 404', async () => {
      const { org, url } = await customerOf();
      const key = newKey();
      const del = () => api('DELETE', url, { token: org.owner.token, headers: { 'idempotency-key': key } });
      const first = await del();
      expect(first.status).toBe(204);
      const repeat = await del();
      expect(repeat.status).toBe(204);
      expect(repeat.body).toBe('');
      expect(repeat.headers.get('idempotent-replayed')).toBe('true');
      expect(repeat.headers.get('content-type')).toBeNull();
      // Without the key the same DELETE runs again and finds nothing.
      expectProblem(await api('DELETE', url, { token: org.owner.token }), 404, 'not_found');
    });

    it('replays a repeated PATCH as its first answer and changes nothing: no second write, no second audit row', async () => {
      const { org, url, id } = await customerOf();
      const key = newKey();
      const rename = () =>
        api('PATCH', url, {
          token: org.owner.token,
          body: { name: 'Ada Lovelace' },
          headers: { 'idempotency-key': key },
        });
      const first = await rename();
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      // Someone renames her again in between: a replay must not undo that.
      expect((await api('PATCH', url, { token: org.owner.token, body: { name: 'Countess' } })).status).toBe(200);

      const repeat = await rename();
      expect(repeat.status).toBe(200);
      expect(repeat.headers.get('idempotent-replayed')).toBe('true');
      expect(repeat.body).toEqual(first.body);
      expect((await api('GET', url, { token: org.owner.token })).body.name).toBe('Countess');
      expect(await updates(org, id)).toBe(2);
    });

    it('answers 409 to the same key on another method or another path, and runs neither', async () => {
      const { org, url, id } = await customerOf();
      const other = await customerOf();
      const key = newKey();
      const headers = { 'idempotency-key': key };
      expect((await api('PATCH', url, { token: org.owner.token, body: { name: 'Once' }, headers })).status).toBe(200);

      expectProblem(await api('DELETE', url, { token: org.owner.token, headers }), 409, 'conflict');
      expect((await api('GET', url, { token: org.owner.token })).status).toBe(200);
      const elsewhere = await api('PATCH', `/v1/orgs/${org.slug}/customers/${other.id}`, {
        token: org.owner.token,
        body: { name: 'Once' },
        headers,
      });
      expectProblem(elsewhere, 409, 'conflict');
      expect(await updates(org, id)).toBe(1);
    });
  });

  describe('on a route that issues a secret (shown once)', () => {
    const storedRow = (owner: TestUser, key: string) =>
      env.CATALOG.prepare(
        'SELECT status, response_body, content_type FROM idempotency_keys WHERE owner = ? AND key = ?',
      )
        .bind(`user:${owner.sub}`, key)
        .first<{ status: number; response_body: string | null; content_type: string | null }>();

    it('keeps no API key secret and answers a repeat 409 without it, creating nothing', async () => {
      const org = await newOrg();
      const key = newKey();
      const post = () =>
        api('POST', `/v1/orgs/${org.slug}/api-keys`, {
          token: org.owner.token,
          body: { name: 'CI', scopes: ['customers:read'] },
          headers: { 'idempotency-key': key },
        });
      const first = await post();
      expect(first.status, JSON.stringify(first.body)).toBe(201);
      const secret: string = first.body.key;
      expect(secret).toMatch(/^stk_/);

      const row = await storedRow(org.owner, key);
      expect(row).toEqual({ status: 201, response_body: null, content_type: null });
      const everything = await env.CATALOG.prepare('SELECT * FROM idempotency_keys').all();
      expect(JSON.stringify(everything.results)).not.toContain(secret);

      const repeat = await post();
      expectProblem(repeat, 409, 'conflict');
      expect(repeat.body.detail).toContain('secret');
      expect(JSON.stringify(repeat.body)).not.toContain(secret);
      const keys = await api('GET', `/v1/orgs/${org.slug}/api-keys`, { token: org.owner.token });
      expect(keys.body.data).toHaveLength(1);
    });

    it('keeps no calendar feed token either', async () => {
      const org = await newOrg();
      const key = newKey();
      const post = () =>
        api('POST', `/v1/orgs/${org.slug}/appointments/feed-token`, {
          token: org.owner.token,
          headers: { 'idempotency-key': key },
        });
      const first = await post();
      expect(first.status, JSON.stringify(first.body)).toBe(201);
      expect((await storedRow(org.owner, key))?.response_body).toBeNull();
      const repeat = await post();
      expectProblem(repeat, 409, 'conflict');
      expect(JSON.stringify(repeat.body)).not.toContain(first.body.token);
    });

    it('keeps no appointment webhook secret (a PUT) and answers a repeat 409 without rotating it', async () => {
      const org = await newOrg();
      const key = newKey();
      const put = () =>
        api('PUT', `/v1/orgs/${org.slug}/appointments/webhook`, {
          token: org.owner.token,
          body: { url: 'https://hooks.example.com/strive' },
          headers: { 'idempotency-key': key },
        });
      const first = await put();
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      const secret: string = first.body.secret;
      expect(secret).toMatch(/^whsec_/);

      expect(await storedRow(org.owner, key)).toEqual({ status: 200, response_body: null, content_type: null });
      const everything = await env.CATALOG.prepare('SELECT * FROM idempotency_keys').all();
      expect(JSON.stringify(everything.results)).not.toContain(secret);

      const repeat = await put();
      expectProblem(repeat, 409, 'conflict');
      expect(repeat.body.detail).toContain('secret');
      expect(JSON.stringify(repeat.body)).not.toContain(secret);
      const log = await api('GET', `/v1/orgs/${org.slug}/activity?action=appointment_webhook.update`, {
        token: org.owner.token,
      });
      expect(log.body.data).toHaveLength(1);
    });

    it('still replays a refusal (no secret in it) as the first answer', async () => {
      const org = await newOrg();
      const key = newKey();
      const post = () =>
        api('POST', `/v1/orgs/${org.slug}/api-keys`, {
          token: org.owner.token,
          body: { name: '', scopes: [] },
          headers: { 'idempotency-key': key },
        });
      expectProblem(await post(), 400, 'invalid_request');
      const repeat = await post();
      expect(repeat.status).toBe(400);
      expect(repeat.body.code).toBe('invalid_request');
      expect(repeat.headers.get('idempotent-replayed')).toBe('true');
    });
  });

  it('forgets answers past the 24 h window on the cron, and keeps the others', async () => {
    const now = Date.parse('2031-01-02T12:00:00.000Z');
    const owner = `user:cron-${crypto.randomUUID()}`;
    const insert = (key: string, at: number) =>
      env.CATALOG.prepare(
        'INSERT INTO idempotency_keys (owner, key, request_hash, status, response_body, content_type, ' +
          "created_at) VALUES (?, ?, 'h', 201, '{\"name\":\"Customer\"}', 'application/json', ?)",
      )
        .bind(owner, key, new Date(at).toISOString())
        .run();
    await insert('expired', now - 24 * 3600_000 - 1);
    await insert('fresh', now - 24 * 3600_000 + 60_000);
    await worker.scheduled!(createScheduledController({ scheduledTime: now, cron: '*/5 * * * *' }), env as never);
    const { results } = await env.CATALOG.prepare('SELECT key FROM idempotency_keys WHERE owner = ?')
      .bind(owner)
      .all<{ key: string }>();
    expect(results.map((r) => r.key)).toEqual(['fresh']);
  });
});
