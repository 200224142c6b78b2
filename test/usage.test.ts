// Metering end to end (requests → USAGE_QUEUE → the local consumer → GET /usage), quotas where
// they bite, and rate limits.
import { createExecutionContext, env, SELF, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { createApp } from '../src/app';
import { TIER_LIMITS } from '../src/modules/billing/tiers';
import { SEND_RETRY_DELAYS_MS, UsageMeter, type UsageEvent } from '../src/lib/usage-meter';
import { uuidv7 } from '../src/lib/ids';
import { api, expectProblem, joinAs, newOrg, newUser, readResponse, type TestOrg, shardOf } from './helpers';

const period = () => `${new Date().toISOString().slice(0, 7)}-01`;
const usage = (org: TestOrg, query = '') =>
  api('GET', `/v1/orgs/${org.slug}/usage${query}`, { token: org.owner.token });
const total = (
  body: { totals: { resource_type: string; resource_name: string; usage_amount: number }[] },
  type: string,
  name?: string,
) =>
  body.totals
    .filter((t) => t.resource_type === type && (name === undefined || t.resource_name === name))
    .reduce((s, t) => s + t.usage_amount, 0);

describe('metering', () => {
  it('counts every tenant request as api_calls by route, and shows it in /usage within seconds', async () => {
    const org = await newOrg();
    for (let n = 0; n < 3; n++)
      expect((await api('GET', `/v1/orgs/${org.slug}/customers`, { token: org.owner.token })).status).toBe(200);
    // A 404 is metered too: the request reached the organization.
    await api('GET', `/v1/orgs/${org.slug}/customers/${crypto.randomUUID()}`, { token: org.owner.token });
    await vi.waitFor(
      async () => {
        const res = await usage(org);
        expect(total(res.body, 'api_calls', 'GET /v1/orgs/:org/customers')).toBe(3);
        expect(total(res.body, 'api_calls', 'GET /v1/orgs/:org/customers/:id')).toBe(1);
      },
      { timeout: 10_000, interval: 250 },
    );
  });

  it('keeps a warm tenant read at 1 round trip: the event is queued, not written', async () => {
    const org = await newOrg();
    await api('GET', `/v1/orgs/${org.slug}/customers`, { token: org.owner.token });
    expect((await api('GET', `/v1/orgs/${org.slug}/customers`, { token: org.owner.token })).roundTrips).toBe(1);
  });

  it('counts seats: the owner on creation, +1 per member added, −1 per member removed', async () => {
    const org = await newOrg();
    const member = await joinAs(org, 'member');
    await joinAs(org, 'viewer');
    expect((await api('DELETE', `/v1/orgs/${org.slug}/members/${member.id}`, { token: org.owner.token })).status).toBe(
      204,
    );
    await vi.waitFor(
      async () => {
        const res = await usage(org);
        expect(res.body.limits.seats).toEqual({
          used: 2,
          limit: TIER_LIMITS.free.seats,
          remaining: TIER_LIMITS.free.seats! - 2,
        });
      },
      { timeout: 10_000, interval: 250 },
    );
  });
});

describe('GET /usage', () => {
  it("answers totals, the tier's limits and what is left, and the month's rows, in 1 round trip warm", async () => {
    const org = await newOrg();
    const shard = (await shardOf(org.id)).db;
    // One millisecond apart: two ids of one millisecond order by their random bits, not by creation.
    let at = Date.now();
    const insert = async (
      type: string,
      name: string,
      amount: number,
      billingPeriod: string,
      user: string | null = null,
      metadata = {},
    ) => {
      const id = uuidv7(at++);
      await shard
        .prepare(
          'INSERT INTO usage_tracking (id, organization_id, user_id, resource_type, resource_name, usage_amount, ' +
            'billing_period, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .bind(id, org.id, user, type, name, amount, billingPeriod, JSON.stringify(metadata))
        .run();
      return id;
    };
    const mine = await insert('ai_tokens', 'openai_gpt4', 1200, '2026-03-01', org.owner.id, {
      events: 3,
      first_event_at: '2026-03-02T10:00:00.000Z',
      last_event_at: '2026-03-04T10:00:00.000Z',
    });
    const nobodys = await insert('ai_tokens', 'openai_gpt4', 800, '2026-03-01', null);
    const gemini = await insert('ai_tokens', 'gemini', 500, '2026-03-01');
    await insert('ai_tokens', 'gemini', 999, '2026-04-01');
    await insert('storage', '', 4096, '2026-01-01');
    const freed = await insert('storage', '', -1024, '2026-03-01');
    await insert('storage', '', 7, '2026-05-01');

    await usage(org, '?period=2026-03');
    const res = await usage(org, '?period=2026-03');
    expect(res.status).toBe(200);
    expect(res.roundTrips).toBe(1);
    const { records, ...summary } = res.body;
    expect(summary).toEqual({
      billing_period: '2026-03-01',
      tier: 'free',
      totals: [
        { resource_type: 'ai_tokens', resource_name: 'gemini', usage_amount: 500 },
        { resource_type: 'ai_tokens', resource_name: 'openai_gpt4', usage_amount: 2000 },
        { resource_type: 'storage', resource_name: '', usage_amount: 3072 },
      ],
      limits: {
        ai_tokens: { used: 2500, limit: TIER_LIMITS.free.ai_tokens, remaining: TIER_LIMITS.free.ai_tokens! - 2500 },
        api_calls: { used: 0, limit: TIER_LIMITS.free.api_calls, remaining: TIER_LIMITS.free.api_calls },
        storage: { used: 3072, limit: TIER_LIMITS.free.storage, remaining: TIER_LIMITS.free.storage! - 3072 },
        seats: { used: 0, limit: TIER_LIMITS.free.seats, remaining: TIER_LIMITS.free.seats },
      },
      next_cursor: null,
    });
    // The month's own rows, newest first, with whom they count and what the consumer recorded.
    expect(records.map((r: { id: string }) => r.id)).toEqual([freed, gemini, nobodys, mine]);
    expect(records[3]).toEqual({
      id: mine,
      organization_id: org.id,
      user_id: org.owner.id,
      resource_type: 'ai_tokens',
      resource_name: 'openai_gpt4',
      usage_amount: 1200,
      billing_period: '2026-03-01',
      metadata: { events: 3, first_event_at: '2026-03-02T10:00:00.000Z', last_event_at: '2026-03-04T10:00:00.000Z' },
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    // A date means its month; the rows come a page at a time.
    const first = await usage(org, '?period=2026-03-17&limit=3');
    expect(first.body.billing_period).toBe('2026-03-01');
    expect(first.body.records.map((r: { id: string }) => r.id)).toEqual([freed, gemini, nobodys]);
    const next = await usage(org, `?period=2026-03&limit=3&cursor=${first.body.next_cursor}`);
    expect(next.body.records.map((r: { id: string }) => r.id)).toEqual([mine]);
    expect(next.body.next_cursor).toBeNull();
    expect(next.body.totals).toEqual(first.body.totals);
  });

  it('shows what requests were counted: the rows name the user, and their metadata the events', async () => {
    const org = await newOrg();
    for (let n = 0; n < 2; n++) await api('GET', `/v1/orgs/${org.slug}/customers`, { token: org.owner.token });
    await vi.waitFor(
      async () => {
        const row = (await usage(org)).body.records.find(
          (r: { resource_name: string }) => r.resource_name === 'GET /v1/orgs/:org/customers',
        );
        expect(row).toMatchObject({
          user_id: org.owner.id,
          resource_type: 'api_calls',
          usage_amount: 2,
          billing_period: period(),
          metadata: { events: 2 },
        });
        expect(row.metadata.first_event_at <= row.metadata.last_event_at).toBe(true);
      },
      { timeout: 10_000, interval: 250 },
    );
  });

  it('defaults to the current month and refuses a malformed period with 400', async () => {
    const org = await newOrg();
    expect((await usage(org)).body.billing_period).toBe(period());
    for (const bad of ['2026-13', '2026-1', 'march', '2026-02-30', '2026-03-01T00:00:00Z']) {
      const res = await usage(org, `?period=${bad}`);
      expectProblem(res, 400, 'invalid_request');
      expect(res.body.errors[0].path).toBe('period');
    }
  });

  it('is for admins (usage:read), not members', async () => {
    const org = await newOrg();
    const admin = await joinAs(org, 'admin');
    const member = await joinAs(org, 'member');
    expect((await api('GET', `/v1/orgs/${org.slug}/usage`, { token: admin.token })).status).toBe(200);
    expectProblem(await api('GET', `/v1/orgs/${org.slug}/usage`, { token: member.token }), 403, 'forbidden');
  });
});

describe('quotas', () => {
  it("refuses a member beyond the tier's seats with 402, writing nothing", async () => {
    const org = await newOrg();
    for (let n = 1; n < TIER_LIMITS.free.seats!; n++) await joinAs(org, 'viewer');
    const extra = await newUser('extra');
    const res = await api('POST', `/v1/orgs/${org.slug}/members`, {
      token: org.owner.token,
      body: { email: extra.email, role: 'viewer' },
    });
    expectProblem(res, 402, 'quota_exceeded');
    const members = await api('GET', `/v1/orgs/${org.slug}/members?limit=100`, { token: org.owner.token });
    expect(members.body.data).toHaveLength(TIER_LIMITS.free.seats!);
    const audit = await api('GET', `/v1/orgs/${org.slug}/activity?resource_id=${extra.id}`, { token: org.owner.token });
    expect(audit.body.data).toEqual([]);
  });

  it("refuses requests with 402 once the month's api_calls are used, from the figure the isolate keeps", async () => {
    const org = await newOrg();
    const shard = (await shardOf(org.id)).db;
    await shard
      .prepare(
        'INSERT INTO usage_tracking (id, organization_id, resource_type, resource_name, usage_amount, ' +
          "billing_period) VALUES (?, ?, 'api_calls', 'earlier', ?, ?)",
      )
      .bind(crypto.randomUUID(), org.id, TIER_LIMITS.free.api_calls, period())
      .run();
    // The first request reads the figure in the background; it is refused once the figure is in.
    await vi.waitFor(
      async () => {
        expectProblem(
          await api('GET', `/v1/orgs/${org.slug}/customers`, { token: org.owner.token }),
          402,
          'quota_exceeded',
        );
      },
      { timeout: 5_000, interval: 100 },
    );
    // Billing stays reachable, so the organization can see its usage and upgrade.
    expect((await usage(org)).status).toBe(200);
    expect((await api('GET', `/v1/orgs/${org.slug}/subscription`, { token: org.owner.token })).status).toBe(200);
    expectProblem(
      await api('POST', `/v1/orgs/${org.slug}/billing/checkout`, { token: org.owner.token, body: { tier: 'pro' } }),
      503,
      'not_configured',
    );
    // Other organizations are not affected.
    const other = await newOrg(org.owner);
    expect((await api('GET', `/v1/orgs/${other.slug}/customers`, { token: org.owner.token })).status).toBe(200);
  });
});

describe('rate limits', () => {
  async function withLimiter(
    path: string,
    token: string,
    limiter: { limit: (o: { key: string }) => Promise<{ success: boolean }> },
  ) {
    const ctx = createExecutionContext();
    const response = await createApp().request(
      `https://strive.test${path}`,
      { headers: { authorization: `Bearer ${token}` } },
      { ...env, RATE_LIMITER: limiter },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    return readResponse(response);
  }

  it('answers 429 rate_limited with Retry-After, keyed per user and per API key, before any D1 work', async () => {
    const org = await newOrg();
    const key = await api('POST', `/v1/orgs/${org.slug}/api-keys`, {
      token: org.owner.token,
      body: { name: 'ci', scopes: ['customers:read'] },
    });
    const keys: string[] = [];
    const refuse = { limit: async ({ key }: { key: string }) => (keys.push(key), { success: false }) };
    for (const token of [org.owner.token, key.body.key]) {
      const res = await withLimiter(`/v1/orgs/${org.slug}/customers`, token, refuse);
      expectProblem(res, 429, 'rate_limited');
      expect(res.headers.get('retry-after')).toBe('60');
      expect(res.roundTrips).toBe(0);
    }
    expect(keys[0]).toBe(`user:${org.owner.sub}`);
    expect(keys[1]).toMatch(/^key:[0-9a-f]{64}$/);
    expect(keys[1]).not.toContain(key.body.key);
  });

  it('is enforced by the local rate-limiting binding', async () => {
    const user = await newUser('busy');
    let refused: Response | undefined;
    // wrangler.toml allows 600 a minute per user; a burst past it is refused (up to 1,400 sent: on a
    // slow machine the first 600 may straddle the limiter's minute).
    for (let round = 0; round < 14 && !refused; round++) {
      const answers = await Promise.all(Array.from({ length: 100 }, () => fetchMe(user.token)));
      refused = answers.find((r) => r.status === 429);
    }
    expect(refused?.status).toBe(429);
    expect(refused?.headers.get('retry-after')).toBe('60');
  });
});

async function fetchMe(token: string) {
  const response = await SELF.fetch('https://strive.test/v1/me', { headers: { authorization: `Bearer ${token}` } });
  await response.arrayBuffer();
  return response;
}

describe('UsageMeter when the queue refuses an event', () => {
  /** A queue whose first `failures` sends throw; the meter's waitUntil promises, to await. */
  function meterWith(failures: number, catalog: D1Database = env.CATALOG) {
    const sent: UsageEvent[] = [];
    let calls = 0;
    const queue = {
      send: async (event: UsageEvent) => {
        if (++calls <= failures) throw new Error('Queue send failed: internal error');
        sent.push(event);
      },
    } as unknown as Queue<UsageEvent>;
    const pending: Promise<unknown>[] = [];
    const meter = new UsageMeter(queue, (p) => pending.push(p), { id: crypto.randomUUID(), shard: 1 }, null, catalog);
    return { meter, sent, settled: () => Promise.all(pending), calls: () => calls };
  }
  const deadLetter = (id: string) =>
    env.CATALOG.prepare('SELECT * FROM usage_dead_letters WHERE id = ?').bind(id).first<Record<string, unknown>>();

  it('sends it again', async () => {
    const { meter, sent, settled } = meterWith(1);
    const event = meter.record({ resource_type: 'ai_tokens', quantity: 12, resource_name: 'gpt-4o' });
    await settled();
    expect(sent).toEqual([event]);
    expect(await deadLetter(event.id)).toBeNull();
  });

  it('keeps it with the dead letters when every attempt fails', async () => {
    const { meter, sent, settled, calls } = meterWith(Infinity);
    const event = meter.record({ resource_type: 'storage', quantity: -4096, resource_name: 'asset' });
    await settled();
    expect(sent).toEqual([]);
    expect(calls()).toBe(SEND_RETRY_DELAYS_MS.length + 1);
    const row = await deadLetter(event.id);
    expect(row).toMatchObject({
      organization_id: event.organization_id,
      reason: expect.stringContaining('not queued'),
      attempts: 0,
    });
    // The same shape the consumer takes: replayable to strive-usage as it stands.
    expect(JSON.parse(row!.event as string)).toEqual(event);
  });

  it('logs it whole as one JSON line when the catalog refuses it too', async () => {
    const broken = {
      prepare: () => {
        throw new Error('D1 unavailable');
      },
    } as unknown as D1Database;
    const { meter, settled } = meterWith(Infinity, broken);
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const event = meter.record({ resource_type: 'seats', quantity: 1 });
      await settled();
      const line = logged.mock.calls.map((args) => String(args[0])).find((text) => text.includes(event.id));
      expect(JSON.parse(line!)).toMatchObject({ event });
    } finally {
      logged.mockRestore();
    }
  });
});
