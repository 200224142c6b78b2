// Outbound webhooks end to end: writes through the API, the outbox trigger, the real local queue and
// its consumer, a receiver played by fetchMock that verifies every delivery with the Standard
// Webhooks library. Failures are driven by calling the consumer directly with the queue's message.
import { createScheduledController, env, fetchMock } from 'cloudflare:test';
import { Webhook } from 'standardwebhooks';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import worker from '../src/index';
import { EVENT_TYPES } from '../src/modules/outbound-webhooks/events';
import { backoffSeconds, devReceiverUrl } from '../src/modules/outbound-webhooks/delivery';
import { api, deliver, expectProblem, joinAs, mockDns, newOrg, type TestOrg } from './helpers';

const HOST = 'https://hooks.example.com';
type Received = { headers: Record<string, string>; body: string; event: any };

/** A receiver at HOST + path answering `answer(event)` (a status) to each delivery, recording the valid ones. */
function receiver(path: string, answer: (event: any) => number = () => 200) {
  const received: Received[] = [];
  fetchMock
    .get(HOST)
    .intercept({ path, method: 'POST' })
    .reply((request) => {
      const headers = Object.fromEntries(Object.entries(request.headers as Record<string, string>));
      const body = String(request.body);
      const status = answer(JSON.parse(body));
      if (status < 300) received.push({ headers, body, event: JSON.parse(body) });
      return { statusCode: status, data: status === 410 ? 'gone' : 'x'.repeat(3000) };
    })
    .persist();
  return received;
}

async function until<T>(read: () => Promise<T> | T, done: (value: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > end) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const shardOf = async (org: TestOrg) =>
  (await env.CATALOG.prepare('SELECT shard FROM organizations WHERE id = ?').bind(org.id).first<{ shard: number }>())!
    .shard;

beforeAll(() => {
  fetchMock.activate();
  fetchMock.disableNetConnect();
  mockDns({ 'hooks.example.com': ['93.184.216.34'] });
});
afterEach(() => mockDns({ 'hooks.example.com': ['93.184.216.34'] }));

describe('webhook endpoints', () => {
  let org: TestOrg;
  beforeAll(async () => {
    org = await newOrg();
  });
  const path = () => `/v1/orgs/${org.slug}/webhooks`;

  it('are managed by admins and owners; the secret is shown at creation and rotation only', async () => {
    const member = await joinAs(org, 'member');
    const admin = await joinAs(org, 'admin');
    expectProblem(await api('POST', path(), { token: member.token, body: { url: `${HOST}/a` } }), 403, 'forbidden');
    const created = await api('POST', path(), { token: admin.token, body: { url: `${HOST}/a`, description: 'CRM' } });
    expect(created.status).toBe(201);
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{44}$/);
    expect(created.body).toMatchObject({ status: 'active', event_types: null, description: 'CRM' });
    const read = await api('GET', `${path()}/${created.body.id}`, { token: org.owner.token });
    expect(read.body.secret).toBeUndefined();
    const rotated = await api('POST', `${path()}/${created.body.id}/rotate`, { token: admin.token });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(created.body.secret);
    expect(Date.parse(rotated.body.previous_secret_expires_at) - Date.now()).toBeGreaterThan(23 * 3600_000);
    // No secret in the audit log.
    const { results } = await (env as any)[`SHARD_${await shardOf(org)}`]
      .prepare(
        "SELECT old_data, new_data FROM activity_logs WHERE resource_type = 'webhook_endpoint' AND organization_id = ?",
      )
      .bind(org.id)
      .all();
    expect(results.length).toBe(2);
    expect(JSON.stringify(results)).not.toContain('whsec_');
    const listed = await api('GET', path(), { token: admin.token });
    expect(listed.body.data.map((e: any) => e.id)).toEqual([created.body.id]);
    expect(JSON.stringify(listed.body)).not.toContain('whsec_');
    expect((await api('DELETE', `${path()}/${created.body.id}`, { token: admin.token })).status).toBe(204);
    expectProblem(await api('GET', `${path()}/${created.body.id}`, { token: admin.token }), 404, 'not_found');
  });

  it('refuses bad URLs and event types with a 400 naming the field', async () => {
    for (const url of [
      'http://hooks.example.com/a',
      'https://127.0.0.1/a',
      'https://0x7f.1/a',
      'https://[::1]/a',
      'https://metadata.google.internal/a',
      'https://printer.local/a',
      'https://10.0.0.1.nip.io/a',
      'not a url',
    ]) {
      const res = await api('POST', path(), { token: org.owner.token, body: { url } });
      expectProblem(res, 400, 'invalid_request');
      expect(
        res.body.errors.map((e: any) => e.path),
        url,
      ).toEqual(['url']);
    }
    const res = await api('POST', path(), {
      token: org.owner.token,
      body: { url: `${HOST}/a`, event_types: ['task.explode'] },
    });
    expectProblem(res, 400, 'invalid_request');
    expect(res.body.errors[0].path).toBe('event_types.0');
  });

  it("the outbox trigger's actions are exactly the event types", async () => {
    const trigger = await env.SHARD_0.prepare(
      "SELECT sql FROM sqlite_master WHERE name = 'webhook_events_outbox'",
    ).first<{
      sql: string;
    }>();
    const listed = [...trigger!.sql.matchAll(/'([a-z_]+\.[a-z_]+)'/g)].map((m) => m[1]);
    expect(listed.sort()).toEqual([...EVENT_TYPES].sort());
  });
});

describe('events', () => {
  it('arrive signed, verifiable by a Standard Webhooks library, numbered per organization', async () => {
    const org = await newOrg();
    const received = receiver('/events');
    const created = await api('POST', `/v1/orgs/${org.slug}/webhooks`, {
      token: org.owner.token,
      body: {
        url: `${HOST}/events`,
        event_types: ['task.create', 'task.move', 'content.publish', 'appointment.create'],
      },
    });
    const secret = created.body.secret;
    const project = await api('POST', `/v1/orgs/${org.slug}/projects`, { token: org.owner.token, body: { name: 'P' } });
    const task = await api('POST', `/v1/orgs/${org.slug}/projects/${project.body.id}/tasks`, {
      token: org.owner.token,
      body: { title: 'T' },
    });
    expect(task.status, JSON.stringify(task.body)).toBe(201);
    const moved = await api('POST', `/v1/orgs/${org.slug}/tasks/${task.body.id}/move`, {
      token: org.owner.token,
      body: { status: 'done' },
    });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    const content = await api('POST', `/v1/orgs/${org.slug}/content`, {
      token: org.owner.token,
      body: { title: 'Hello', slug: `hello-${Date.now()}`, content: 'x' },
    });
    await api('POST', `/v1/orgs/${org.slug}/content/${content.body.id}/publish`, { token: org.owner.token, body: {} });
    const start = Date.now() + 48 * 3600_000;
    await api('POST', `/v1/orgs/${org.slug}/appointments`, {
      token: org.owner.token,
      body: {
        title: 'Call',
        start_time: new Date(start).toISOString(),
        end_time: new Date(start + 1800_000).toISOString(),
      },
    });

    await until(
      () => received.length,
      (n) => n >= 4,
    );
    const byType = received.map((r) => r.event.type);
    expect(byType.sort()).toEqual(['appointment.create', 'content.publish', 'task.create', 'task.move']);
    for (const { headers, body } of received) {
      expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
      expect(() => new Webhook(`whsec_${btoa('another secret of 32 bytes!!!!!!')}`).verify(body, headers)).toThrow();
    }
    const sequences = received.map((r) => r.event.sequence).sort((a, b) => a - b);
    // Every audited write of the org counts (the project and content creation too), in order.
    expect(sequences.every((s, i) => i === 0 || s > sequences[i - 1])).toBe(true);
    const move = received.find((r) => r.event.type === 'task.move')!.event;
    expect(move).toMatchObject({
      organization_id: org.id,
      actor: { type: 'user', id: org.owner.id },
      data: { object: { id: task.body.id, status: 'done' }, previous: { status: 'todo' } },
    });
    expect(move.id).toBe(received.find((r) => r.event.type === 'task.move')!.headers['webhook-id']);
    // Nothing beyond the object: no address or user agent from the audit row.
    expect(JSON.stringify(received)).not.toMatch(/ip_address|user_agent/);
  });

  it('a receiver that fails 3 times then recovers gets every event in sequence order, once per webhook-id', async () => {
    const org = await newOrg();
    let failing = true;
    const requests: { sequence: number; status: number }[] = [];
    const received = receiver('/flaky', (event) => {
      requests.push({ sequence: event.sequence, status: failing ? 503 : 200 });
      return requests.at(-1)!.status;
    });
    const created = await api('POST', `/v1/orgs/${org.slug}/webhooks`, {
      token: org.owner.token,
      body: { url: `${HOST}/flaky`, event_types: ['customer.create'] },
    });
    const hook = `/v1/orgs/${org.slug}/webhooks/${created.body.id}`;
    for (const name of ['A', 'B', 'C', 'D'])
      await api('POST', `/v1/orgs/${org.slug}/customers`, { token: org.owner.token, body: { name } });
    // The queue's first try: the first event fails, and the others wait behind it.
    const tried = await until(
      () => api('GET', `${hook}/deliveries`, { token: org.owner.token }),
      (res) => res.body.data.length === 4 && res.body.data.some((d: any) => d.attempts === 1),
    );
    const deliveries = tried.body.data.toSorted((a: any, b: any) => a.sequence - b.sequence);
    expect(deliveries.map((d: any) => [d.status, d.attempts])).toEqual([
      ['pending', 1],
      ['pending', 0],
      ['pending', 0],
      ['pending', 0],
    ]);
    expect(deliveries[0]).toMatchObject({ response_status: 503, event_type: 'customer.create' });
    expect(deliveries[0].response_body.length).toBe(1024);
    expect((await api('GET', hook, { token: org.owner.token })).body.failing_since).not.toBeNull();

    // The queue's retries (messages in any order, as Queues may hand them over).
    const shard = await shardOf(org);
    const messages = deliveries
      .map((d: any) => ({ kind: 'deliver', shard, organization_id: org.id, delivery_id: d.id, sequence: d.sequence }))
      .reverse();
    // A later event alone, in another consumer: it waits for the first.
    const alone = await deliver('strive-webhooks', [messages[0]], 2);
    expect(alone.acked).toEqual([]);
    expect(alone.retried).toEqual([{ index: 0 }]);
    for (const attempt of [2, 3]) expect((await deliver('strive-webhooks', messages, attempt)).acked).toEqual([]);
    expect(received).toEqual([]);
    // Recovered: all of them, in order; a redelivery of the same messages sends nothing again.
    failing = false;
    expect((await deliver('strive-webhooks', messages, 4)).acked).toEqual([0, 1, 2, 3]);
    expect((await deliver('strive-webhooks', messages, 5)).acked).toEqual([0, 1, 2, 3]);
    const first = deliveries[0].sequence;
    // Every failed request was the first event's: nothing later went out while it was pending.
    expect(requests.filter((r) => r.status === 503).map((r) => r.sequence)).toEqual([first, first, first]);
    expect(received.map((r) => r.event.sequence)).toEqual(deliveries.map((d: any) => d.sequence));
    expect(received.map((r) => r.event.data.object.name)).toEqual(['A', 'B', 'C', 'D']);
    expect(new Set(received.map((r) => r.headers['webhook-id'])).size).toBe(4);
    const after = await api('GET', `${hook}/deliveries?status=succeeded`, { token: org.owner.token });
    expect(after.body.data.map((d: any) => d.attempts).sort()).toEqual([1, 1, 1, 4]);
    expect((await api('GET', hook, { token: org.owner.token })).body.failing_since).toBeNull();

    // Replay: the same events again, in sequence order, under the same webhook-ids.
    const replay = await api('POST', `${hook}/replay`, {
      token: org.owner.token,
      body: { since: new Date(Date.now() - 3600_000).toISOString() },
    });
    expect(replay.body).toEqual({ replayed: 4 });
    await until(
      () => received.length,
      (n) => n >= 8,
    );
    const ids = received.map((r) => r.headers['webhook-id']);
    expect(ids.slice(4)).toEqual(ids.slice(0, 4));

    // Retry one, ping, then 410: paused with the reason shown.
    const one = after.body.data[0].id;
    expect((await api('POST', `${hook}/deliveries/${one}/retry`, { token: org.owner.token })).status).toBe(202);
    await until(
      () => received.length,
      (n) => n >= 9,
    );
    expect((await api('POST', `${hook}/test`, { token: org.owner.token })).status).toBe(202);
    await until(
      () => received.length,
      (n) => n >= 10,
    );
    expect(received.at(-1)!.event).toMatchObject({ type: 'ping', data: { object: { endpoint_id: created.body.id } } });
  });

  it('410 Gone pauses the endpoint, and its owners see why', async () => {
    const org = await newOrg();
    receiver('/gone', () => 410);
    const created = await api('POST', `/v1/orgs/${org.slug}/webhooks`, {
      token: org.owner.token,
      body: { url: `${HOST}/gone` },
    });
    const hook = `/v1/orgs/${org.slug}/webhooks/${created.body.id}`;
    await api('POST', `${hook}/test`, { token: org.owner.token });
    const paused = await until(
      () => api('GET', hook, { token: org.owner.token }),
      (res) => res.body.status === 'paused',
    );
    expect(paused.body).toMatchObject({ status: 'paused', paused_reason: 'The receiver answered 410 Gone.' });
    const [delivery] = (await api('GET', `${hook}/deliveries`, { token: org.owner.token })).body.data;
    expect(delivery).toMatchObject({ status: 'failed', response_status: 410, event_type: 'ping' });
  });

  it("the cron's appointment reminders are events, signed like the rest, under the reminder's id", async () => {
    const org = await newOrg();
    const received = receiver('/reminders');
    const created = await api('POST', `/v1/orgs/${org.slug}/webhooks`, {
      token: org.owner.token,
      body: { url: `${HOST}/reminders`, event_types: ['appointment.reminder'] },
    });
    const start = Date.now() + 30 * 60_000;
    const booked = await api('POST', `/v1/orgs/${org.slug}/appointments`, {
      token: org.owner.token,
      body: {
        title: 'Call',
        start_time: new Date(start).toISOString(),
        end_time: new Date(start + 1800_000).toISOString(),
      },
    });
    const cron = () =>
      worker.scheduled!(createScheduledController({ scheduledTime: Date.now(), cron: '*/5 * * * *' }), env as never);
    await cron();
    await cron(); // a second run sends nothing again
    await until(
      () => received.length,
      (n) => n >= 1,
    );
    expect(received.length).toBe(1);
    const { headers, body, event } = received[0]!;
    expect(new Webhook(created.body.secret).verify(body, headers)).toEqual(event);
    const { id: reminderId } = (await (env as any)[`SHARD_${await shardOf(org)}`]
      .prepare('SELECT id FROM reminders_sent WHERE organization_id = ?')
      .bind(org.id)
      .first())!;
    expect(event).toMatchObject({
      id: reminderId,
      type: 'appointment.reminder',
      organization_id: org.id,
      actor: { type: 'system', id: null },
      data: { object: { id: booked.body.id, window: '1h', title: 'Call', start_time: booked.body.start_time } },
    });
    expect(typeof event.sequence).toBe('number');
  });

  it("reaches the dev receiver over http, registered under https (endpoints' URLs are https only)", () => {
    const dev = 'http://127.0.0.1:8853/';
    expect(devReceiverUrl('https://127.0.0.1:8853/', dev)).toBe('http://127.0.0.1:8853/');
    expect(devReceiverUrl('https://127.0.0.1:8853/in?x=1', dev)).toBe('http://127.0.0.1:8853/in?x=1');
    expect(devReceiverUrl('https://127.0.0.1:8854/', dev)).toBeNull();
    expect(devReceiverUrl('https://127.0.0.1:8853/', undefined)).toBeNull();
  });

  it('backs off exponentially with jitter, up to 6 h between attempts', () => {
    expect([1, 2, 3].map((n) => backoffSeconds(n, 0))).toEqual([15, 30, 60]);
    expect([1, 2, 3].map((n) => backoffSeconds(n, 1))).toEqual([30, 60, 120]);
    expect(backoffSeconds(30, 1)).toBe(6 * 3600);
  });
});
