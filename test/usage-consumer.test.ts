// The USAGE_QUEUE consumer and its dead-letter consumer, driven through the Worker's own `queue`
// handler with batches built by cloudflare:test, against the real local shards and catalog.
import { env, fetchMock } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LOCAL_MODEL } from '../src/modules/ai/providers';
import { retryDelaySeconds } from '../src/modules/usage/consumer';
import { catalogOrg, deliver, usageEvent } from './helpers';

const shardDb = (n: number) => (env as unknown as Record<string, D1Database>)[`SHARD_${n}`]!;

async function totals(organizationId: string, shard: number) {
  const { results } = await shardDb(shard)
    .prepare(
      'SELECT user_id, resource_type, resource_name, billing_period, usage_amount FROM usage_tracking WHERE ' +
        'organization_id = ? ORDER BY resource_type, resource_name, user_id',
    )
    .bind(organizationId)
    .all<{
      user_id: string | null;
      resource_type: string;
      resource_name: string;
      billing_period: string;
      usage_amount: number;
    }>();
  return results;
}

describe('usage consumer', () => {
  it('adds a batch into one total per (user, resource type, name, period), a null user included', async () => {
    const org = await catalogOrg(0);
    const user = crypto.randomUUID();
    const events = [
      usageEvent(org, 0),
      usageEvent(org, 0),
      usageEvent(org, 0, { user_id: user }),
      usageEvent(org, 0, { resource_type: 'ai_tokens', resource_name: 'openai_gpt4', quantity: 1200, user_id: user }),
      usageEvent(org, 0, { resource_type: 'ai_tokens', resource_name: 'openai_gpt4', quantity: 300, user_id: user }),
      usageEvent(org, 0, { occurred_at: '2026-01-31T23:59:59.000Z' }),
    ];
    const { acked, retried } = await deliver('strive-usage', events);
    expect(acked).toEqual([0, 1, 2, 3, 4, 5]);
    expect(retried).toEqual([]);
    const period = `${new Date().toISOString().slice(0, 7)}-01`;
    expect(await totals(org, 0)).toEqual(
      [
        {
          user_id: user,
          resource_type: 'ai_tokens',
          resource_name: 'openai_gpt4',
          billing_period: period,
          usage_amount: 1500,
        },
        {
          user_id: null,
          resource_type: 'api_calls',
          resource_name: 'GET /v1/orgs/:org/customers',
          billing_period: '2026-01-01',
          usage_amount: 1,
        },
        {
          user_id: null,
          resource_type: 'api_calls',
          resource_name: 'GET /v1/orgs/:org/customers',
          billing_period: period,
          usage_amount: 2,
        },
        {
          user_id: user,
          resource_type: 'api_calls',
          resource_name: 'GET /v1/orgs/:org/customers',
          billing_period: period,
          usage_amount: 1,
        },
      ].sort((a, b) =>
        (a.resource_type + a.billing_period + (a.user_id ?? '')).localeCompare(
          b.resource_type + b.billing_period + (b.user_id ?? ''),
        ),
      ),
    );
  });

  it('never counts a redelivered event twice: the same batch again, or mixed with new events', async () => {
    const org = await catalogOrg(1);
    const first = [usageEvent(org, 1), usageEvent(org, 1, { quantity: 5 })];
    await deliver('strive-usage', first);
    const again = await deliver('strive-usage', first, 2);
    expect(again.acked).toEqual([0, 1]);
    expect((await totals(org, 1))[0]!.usage_amount).toBe(6);

    await deliver('strive-usage', [first[1], usageEvent(org, 1, { quantity: 10 }), first[0]], 3);
    expect((await totals(org, 1))[0]!.usage_amount).toBe(16);
  });

  it("records in each total's metadata how many events it holds and when the first and last happened", async () => {
    const org = await catalogOrg(0);
    const at = (day: number) => `2026-02-${String(day).padStart(2, '0')}T12:00:00.000Z`;
    const metadata = async () =>
      JSON.parse(
        (await shardDb(0)
          .prepare('SELECT metadata FROM usage_tracking WHERE organization_id = ?')
          .bind(org)
          .first<{ metadata: string }>())!.metadata,
      );
    const middle = usageEvent(org, 0, { occurred_at: at(10) });
    await deliver('strive-usage', [middle, usageEvent(org, 0, { occurred_at: at(12) })]);
    expect(await metadata()).toEqual({ events: 2, first_event_at: at(10), last_event_at: at(12) });
    // Keys the consumer does not write are kept; a redelivered event is not counted again.
    await shardDb(0)
      .prepare("UPDATE usage_tracking SET metadata = json_set(metadata, '$.note', 'kept') WHERE organization_id = ?")
      .bind(org)
      .run();
    await deliver(
      'strive-usage',
      [middle, usageEvent(org, 0, { occurred_at: at(3) }), usageEvent(org, 0, { occurred_at: at(20) })],
      2,
    );
    expect(await metadata()).toEqual({ events: 4, first_event_at: at(3), last_event_at: at(20), note: 'kept' });
  });

  it('counts an event once when it arrives twice in the same batch', async () => {
    const org = await catalogOrg(0);
    const event = usageEvent(org, 0, { quantity: 7 });
    const { acked } = await deliver('strive-usage', [event, event]);
    expect(acked).toEqual([0, 1]);
    expect((await totals(org, 0))[0]!.usage_amount).toBe(7);
  });

  it('writes one batch per shard: a failing shard retries only its own messages', async () => {
    const org0 = await catalogOrg(0);
    const org1 = await catalogOrg(1);
    // SHARD_2 refuses its events: a move's fence holds it there (tenant migration 0010).
    const fenced = await catalogOrg(2);
    await env.SHARD_2.prepare("INSERT INTO move_fences (organization_id, move_id) VALUES (?, 'm')").bind(fenced).run();
    const { acked, retried } = await deliver(
      'strive-usage',
      [usageEvent(org0, 0), usageEvent(fenced, 2), usageEvent(org1, 1), usageEvent(fenced, 2)],
      3,
    );
    await env.SHARD_2.prepare('DELETE FROM move_fences WHERE organization_id = ?').bind(fenced).run();
    expect(acked).toEqual([0, 2]);
    expect(retried.map((r) => r.index)).toEqual([1, 3]);
    expect((await totals(org0, 0))[0]!.usage_amount).toBe(1);
    expect((await totals(org1, 1))[0]!.usage_amount).toBe(1);
  });

  it('backs off 10 s, 20 s, 40 s … up to 15 minutes between deliveries', () => {
    expect([1, 2, 3, 4, 7, 20].map(retryDelaySeconds)).toEqual([10, 20, 40, 80, 640, 900]);
  });

  it('rolls a shard back whole when one of its events breaks a CHECK, and retries them all', async () => {
    const org = await catalogOrg(0);
    // A year past 9999 passes Date.parse but not the billing period's CHECK.
    const events = [
      usageEvent(org, 0, { quantity: 4 }),
      usageEvent(org, 0, { occurred_at: '+010000-01-01T00:00:00.000Z' }),
    ];
    const { acked, retried } = await deliver('strive-usage', events);
    expect(acked).toEqual([]);
    expect(retried.map((r) => r.index)).toEqual([0, 1]);
    expect(await totals(org, 0)).toEqual([]);
    // Redelivered without the bad event, the good one counts once.
    await deliver('strive-usage', [events[0]], 2);
    expect((await totals(org, 0))[0]!.usage_amount).toBe(4);
  });

  it('retries a body that is not a usage event, so that the dead-letter queue records it', async () => {
    const { acked, retried } = await deliver('strive-usage', [{ hello: 'world' }, usageEvent(await catalogOrg(0), 0)]);
    expect(acked).toEqual([1]);
    expect(retried.map((r) => r.index)).toEqual([0]);
  });
  it(
    'acknowledges without counting the events of organizations not in the catalog (deleted), logging the count per ' +
      'organization',
    async () => {
      const kept = await catalogOrg(0);
      const [gone, goneToo] = [await catalogOrg(0), await catalogOrg(1)];
      await env.CATALOG.prepare('DELETE FROM organizations WHERE id IN (?, ?)').bind(gone, goneToo).run();
      const logged = vi.spyOn(console, 'log').mockImplementation(() => {});
      try {
        const { acked, retried } = await deliver('strive-usage', [
          usageEvent(gone, 0),
          usageEvent(kept, 0, { quantity: 3 }),
          usageEvent(goneToo, 1),
          usageEvent(gone, 0, { resource_type: 'seats', quantity: -1 }),
        ]);
        expect(acked).toEqual([0, 1, 2, 3]);
        expect(retried).toEqual([]);
        expect(logged.mock.calls.map((call) => String(call[0])).filter((line) => line.startsWith('usage:'))).toEqual([
          `usage: events acknowledged without counting, their organization is not in the catalog (deleted): ` +
            `${JSON.stringify({ [gone]: 2, [goneToo]: 1 })}`,
        ]);
      } finally {
        logged.mockRestore();
      }
      expect(await totals(gone, 0)).toEqual([]);
      expect(await totals(goneToo, 1)).toEqual([]);
      const events = (shard: number, organizationId: string) =>
        shardDb(shard)
          .prepare('SELECT count(*) AS n FROM usage_events WHERE organization_id = ?')
          .bind(organizationId)
          .first('n');
      expect([await events(0, gone), await events(1, goneToo)]).toEqual([0, 0]);
      expect((await totals(kept, 0))[0]!.usage_amount).toBe(3);
    },
  );

  it('retries the whole batch, counting nothing, when the catalog cannot be read', async () => {
    const org = await catalogOrg(0);
    const broken = {
      ...env,
      CATALOG: {
        prepare: () => {
          throw new Error('D1 unavailable');
        },
      },
    };
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const { acked, retried } = await deliver('strive-usage', [usageEvent(org, 0), usageEvent(org, 0)], 1, broken);
      expect(acked).toEqual([]);
      expect(retried.map((r) => r.index)).toEqual([0, 1]);
    } finally {
      logged.mockRestore();
    }
    expect(await totals(org, 0)).toEqual([]);
  });
});

describe('usage dead-letter consumer', () => {
  it('records every message it gets with the reason, once, and acks them', async () => {
    const org = await catalogOrg(0);
    const event = usageEvent(org, 7, { quantity: 3 }); // a shard with no binding, as above
    const malformed = { resource_type: 'gold', id: crypto.randomUUID() };
    const first = await deliver('strive-usage-dlq', [event, malformed]);
    expect(first.result.ackAll).toBe(true);
    await deliver('strive-usage-dlq', [event], 2);

    const row = await env.CATALOG.prepare('SELECT * FROM usage_dead_letters WHERE id = ?')
      .bind(event.id)
      .first<Record<string, unknown>>();
    expect(row).toMatchObject({ organization_id: org, reason: expect.stringContaining('shard 7'), attempts: 5 });
    expect(JSON.parse(row!.event as string)).toEqual(event);
    const { results } = await env.CATALOG.prepare(`SELECT reason FROM usage_dead_letters WHERE event LIKE ?`)
      .bind(`%${malformed.id}%`)
      .all();
    expect(results).toEqual([{ reason: 'not a usage event: no organization_id' }]);
  });
});

describe('Stripe Billing Meters', () => {
  afterEach(() => {
    fetchMock.deactivate();
    fetchMock.enableNetConnect();
  });

  const meterBindings = { ...env, STRIPE_SECRET_KEY: 'sk_test_meter', STRIPE_METER_EVENT_NAME: 'strive_ai_tokens' };
  const meterEventReply = (req: { body?: unknown }) => {
    const body = new URLSearchParams(String(req.body));
    return {
      object: 'billing.meter_event',
      event_name: body.get('event_name'),
      identifier: body.get('identifier'),
      livemode: false,
      payload: {},
      timestamp: Number(body.get('timestamp')),
      created: 1,
    };
  };
  const json = { headers: { 'content-type': 'application/json' } };

  it("does not report the built-in local model's tokens to Stripe, and still counts them", async () => {
    fetchMock.activate();
    fetchMock.disableNetConnect();
    const billed = await catalogOrg(0, { billed: true });
    const local = usageEvent(billed, 0, { resource_type: 'ai_tokens', resource_name: LOCAL_MODEL, quantity: 700 });
    const real = usageEvent(billed, 0, { resource_type: 'ai_tokens', resource_name: 'gpt-4o', quantity: 30 });
    const identifiers: (string | null)[] = [];
    fetchMock
      .get('https://api.stripe.com')
      .intercept({ path: '/v1/billing/meter_events', method: 'POST' })
      .reply(
        200,
        (req) => {
          identifiers.push(new URLSearchParams(String(req.body)).get('identifier'));
          return meterEventReply(req);
        },
        json,
      );
    const { acked, retried } = await deliver('strive-usage', [local, real], 1, meterBindings);
    expect(acked).toEqual([0, 1]);
    expect(retried).toEqual([]);
    fetchMock.assertNoPendingInterceptors();
    expect(identifiers).toEqual([real.id]);
    expect((await totals(billed, 0)).map((t) => [t.resource_name, t.usage_amount])).toEqual(
      [
        [LOCAL_MODEL, 700],
        ['gpt-4o', 30],
      ].sort(),
    );
  });

  it('acks what is counted and reported, and retries only the events Stripe did not take', async () => {
    fetchMock.activate();
    fetchMock.disableNetConnect();
    const billed = await catalogOrg(1, { billed: true });
    const call = usageEvent(billed, 1);
    const taken = usageEvent(billed, 1, { resource_type: 'ai_tokens', resource_name: 'gpt-4o', quantity: 100 });
    const refused = usageEvent(billed, 1, { resource_type: 'ai_tokens', resource_name: 'gpt-4o', quantity: 20 });
    const stripe = fetchMock.get('https://api.stripe.com');
    const about = (event: { id: string }) => (body: string) => new URLSearchParams(body).get('identifier') === event.id;
    stripe
      .intercept({ path: '/v1/billing/meter_events', method: 'POST', body: about(taken) })
      .reply(200, meterEventReply, json);
    stripe
      .intercept({ path: '/v1/billing/meter_events', method: 'POST', body: about(refused) })
      .reply(400, { error: { type: 'invalid_request_error', message: 'No such meter' } }, json);
    const first = await deliver('strive-usage', [call, taken, refused], 1, meterBindings);
    expect(first.acked).toEqual([0, 1]);
    expect(first.retried.map((r) => r.index)).toEqual([2]);
    // Counted already: the ai_tokens total holds both events, api_calls its one.
    const ai = async () =>
      (await totals(billed, 1))
        .filter((t) => t.resource_type === 'ai_tokens')
        .reduce((sum, t) => sum + t.usage_amount, 0);
    expect(await ai()).toBe(120);

    // Redelivered: reported this time, counted no second time.
    stripe
      .intercept({ path: '/v1/billing/meter_events', method: 'POST', body: about(refused) })
      .reply(200, meterEventReply, json);
    const again = await deliver('strive-usage', [refused], 2, meterBindings);
    expect(again.acked).toEqual([0]);
    expect(await ai()).toBe(120);
  });

  it('dead-letters an event Stripe never took as counted and not reported, one never counted as not counted', async () => {
    fetchMock.activate();
    fetchMock.disableNetConnect();
    const billed = await catalogOrg(0, { billed: true });
    const unreported = usageEvent(billed, 0, { resource_type: 'ai_tokens', resource_name: 'gpt-4o', quantity: 9 });
    const uncounted = usageEvent(billed, 0, { resource_type: 'ai_tokens', resource_name: 'gpt-4o', quantity: 4 });
    fetchMock
      .get('https://api.stripe.com')
      .intercept({ path: '/v1/billing/meter_events', method: 'POST' })
      .reply(400, { error: { type: 'invalid_request_error', message: 'No such meter' } }, json);
    expect((await deliver('strive-usage', [unreported], 5, meterBindings)).retried).toHaveLength(1);

    await deliver('strive-usage-dlq', [unreported, uncounted]);
    const reason = async (id: string) =>
      (await env.CATALOG.prepare('SELECT reason FROM usage_dead_letters WHERE id = ?')
        .bind(id)
        .first<{ reason: string }>())!.reason;
    expect(await reason(unreported.id)).toMatch(/^counted on shard 0, not reported to Stripe/);
    expect(await reason(uncounted.id)).toMatch(/^not counted after 5 retries/);
  });

  it('does not report the ai_tokens of an organization deleted after they were queued', async () => {
    fetchMock.activate();
    fetchMock.disableNetConnect();
    const gone = await catalogOrg(0, { billed: true });
    await env.CATALOG.prepare('DELETE FROM organizations WHERE id = ?').bind(gone).run();
    // No interceptor: a meter event sent would fail and its message would be retried.
    const logged = vi.spyOn(console, 'log').mockImplementation(() => {});
    const { acked, retried } = await deliver(
      'strive-usage',
      [usageEvent(gone, 0, { resource_type: 'ai_tokens', resource_name: 'gpt-4o', quantity: 40 })],
      1,
      meterBindings,
    );
    logged.mockRestore();
    expect(acked).toEqual([0]);
    expect(retried).toEqual([]);
    expect(await totals(gone, 0)).toEqual([]);
  });

  it('reports counted ai_tokens of organizations with a Stripe customer, identified by the usage event id', async () => {
    fetchMock.activate();
    fetchMock.disableNetConnect();
    const billed = await catalogOrg(0, { billed: true });
    const unbilled = await catalogOrg(0);
    const tokens = usageEvent(billed, 0, { resource_type: 'ai_tokens', resource_name: 'openai_gpt4', quantity: 1234 });
    const events = [
      tokens,
      usageEvent(billed, 0),
      usageEvent(unbilled, 0, { resource_type: 'ai_tokens', quantity: 50 }),
    ];
    const sent: URLSearchParams[] = [];
    const keys: (string | null)[] = [];
    fetchMock
      .get('https://api.stripe.com')
      .intercept({ path: '/v1/billing/meter_events', method: 'POST' })
      .reply(
        200,
        (req) => {
          const body = new URLSearchParams(String(req.body));
          sent.push(body);
          keys.push(new Headers(req.headers as HeadersInit).get('idempotency-key'));
          return {
            object: 'billing.meter_event',
            event_name: body.get('event_name'),
            identifier: body.get('identifier'),
            livemode: false,
            payload: {},
            timestamp: Number(body.get('timestamp')),
            created: 1,
          };
        },
        { headers: { 'content-type': 'application/json' } },
      )
      .times(2);
    const bindings = { ...env, STRIPE_SECRET_KEY: 'sk_test_meter', STRIPE_METER_EVENT_NAME: 'strive_ai_tokens' };

    const first = await deliver('strive-usage', events, 1, bindings);
    expect(first.acked).toEqual([0, 1, 2]);
    // Redelivered: counted once in Strive, and reported again with the same identifier, which
    // Stripe counts once.
    await deliver('strive-usage', [tokens], 2, bindings);
    fetchMock.assertNoPendingInterceptors();
    expect(sent.map((b) => Object.fromEntries(b))).toEqual(
      [0, 1].map(() => ({
        event_name: 'strive_ai_tokens',
        identifier: tokens.id,
        timestamp: String(Math.floor(Date.parse(tokens.occurred_at) / 1000)),
        'payload[stripe_customer_id]': `cus_${billed.slice(-8)}`,
        'payload[value]': '1234',
      })),
    );
    expect(keys).toEqual([`strive-meter-${tokens.id}`, `strive-meter-${tokens.id}`]);
    const row = await shardDb(0)
      .prepare("SELECT usage_amount FROM usage_tracking WHERE organization_id = ? AND resource_type = 'ai_tokens'")
      .bind(billed)
      .first();
    expect(row).toEqual({ usage_amount: 1234 });
  });

  it('retries an event Stripe refuses, without counting it twice on the next delivery', async () => {
    fetchMock.activate();
    fetchMock.disableNetConnect();
    const billed = await catalogOrg(1, { billed: true });
    const tokens = usageEvent(billed, 1, { resource_type: 'ai_tokens', quantity: 10 });
    const stripe = fetchMock.get('https://api.stripe.com');
    const error = { error: { type: 'invalid_request_error', message: 'No such meter' } };
    stripe
      .intercept({ path: '/v1/billing/meter_events', method: 'POST' })
      .reply(400, error, { headers: { 'content-type': 'application/json' } });
    const bindings = { ...env, STRIPE_SECRET_KEY: 'sk_test_meter', STRIPE_METER_EVENT_NAME: 'strive_ai_tokens' };
    const failed = await deliver('strive-usage', [tokens], 1, bindings);
    expect(failed.retried.map((r) => r.index)).toEqual([0]);

    stripe.intercept({ path: '/v1/billing/meter_events', method: 'POST' }).reply(
      200,
      {
        object: 'billing.meter_event',
        event_name: 'strive_ai_tokens',
        identifier: tokens.id,
        livemode: false,
        payload: {},
        timestamp: 1,
        created: 1,
      },
      { headers: { 'content-type': 'application/json' } },
    );
    expect((await deliver('strive-usage', [tokens], 2, bindings)).acked).toEqual([0]);
    expect((await totals(billed, 1))[0]!.usage_amount).toBe(10);
  });
});
