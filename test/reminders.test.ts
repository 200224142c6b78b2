import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  env,
  fetchMock,
  getQueueResult,
} from 'cloudflare:test';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import worker from '../src/index';
import type { NotificationMessage } from '../src/modules/appointments/reminders';
import { api, expectProblem, joinAs, mockDns, newOrg, type TestOrg, shardOf } from './helpers';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** The Worker's env with a queue that records what is sent (or fails, to play a crash). */
function recordingEnv(options: { fail?: boolean } = {}) {
  const sent: NotificationMessage[] = [];
  const queue = {
    send: async () => {
      throw new Error('use sendBatch');
    },
    sendBatch: async (messages: Iterable<MessageSendRequest<NotificationMessage>>) => {
      if (options.fail) throw new Error('queue unavailable');
      for (const m of messages) sent.push(m.body);
    },
  };
  return { env: { ...env, NOTIFICATIONS_QUEUE: queue } as unknown as typeof env, sent };
}

const runCron = (testEnv: typeof env, at: number) =>
  worker.scheduled!(createScheduledController({ scheduledTime: at, cron: '*/5 * * * *' }), testEnv as never);

describe('appointment reminders', () => {
  let org: TestOrg;
  const book = async (title: string, startsIn: number, extra: Record<string, unknown> = {}) => {
    const start = Date.now() + startsIn;
    const res = await api('POST', `/v1/orgs/${org.slug}/appointments`, {
      token: org.owner.token,
      body: {
        title,
        start_time: new Date(start).toISOString(),
        end_time: new Date(start + 30 * MINUTE).toISOString(),
        ...extra,
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  };
  const ours = (sent: NotificationMessage[]) =>
    sent
      .filter((m) => m.event.organization_id === org.id)
      .map((m) => [m.event.data.appointment.title, m.event.data.window])
      .sort();

  beforeAll(async () => {
    org = await newOrg();
  });

  it('sends each reminder once per window, however often the cron runs', async () => {
    const soon = await book('soon', 30 * MINUTE);
    const today = await book('today', 5 * HOUR);
    await book('in two days', 48 * HOUR);
    const cancelled = await book('cancelled', 2 * HOUR);
    await api('PATCH', `/v1/orgs/${org.slug}/appointments/${cancelled.id}`, {
      token: org.owner.token,
      body: { status: 'cancelled' },
    });

    const { env: testEnv, sent } = recordingEnv();
    const now = Date.now();
    // A doubled run (two at once) and a later, overlapping one.
    await Promise.all([runCron(testEnv, now), runCron(testEnv, now)]);
    await runCron(testEnv, now + 5 * MINUTE);
    expect(ours(sent)).toEqual([
      ['soon', '1h'],
      ['today', '24h'],
    ]);

    const reminder = sent.find((m) => m.event.data.appointment.id === soon.id)!;
    expect(reminder.event).toMatchObject({
      type: 'appointment.reminder',
      organization_id: org.id,
      data: {
        window: '1h',
        appointment: {
          id: soon.id,
          title: 'soon',
          start_time: soon.start_time,
          end_time: soon.end_time,
          status: 'scheduled',
        },
      },
    });
    expect(reminder.event.id).toMatch(/^[0-9a-f-]{36}$/);
    // The appointment records which reminder went out, and when it was queued.
    const remindersSent = async (id: string) =>
      (await api('GET', `/v1/orgs/${org.slug}/appointments/${id}`, { token: org.owner.token })).body.reminders_sent;
    const sentAt = expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(await remindersSent(soon.id)).toEqual({ '24h': null, '1h': sentAt });
    expect(await remindersSent(today.id)).toEqual({ '24h': sentAt, '1h': null });

    // An hour before 'today' starts, its 1 h reminder follows; nothing else again.
    await runCron(testEnv, now + 4 * HOUR + 5 * MINUTE);
    expect(ours(sent)).toEqual([
      ['soon', '1h'],
      ['today', '1h'],
      ['today', '24h'],
    ]);
    const both = await remindersSent(today.id);
    expect(both).toEqual({ '24h': sentAt, '1h': sentAt });
    expect(both['1h'] >= both['24h']).toBe(true);
  });

  it('reminds a moved appointment again for its new start time', async () => {
    const moved = await book('moved', 3 * HOUR);
    const { env: testEnv, sent } = recordingEnv();
    await runCron(testEnv, Date.now());
    expect(ours(sent)).toEqual([['moved', '24h']]);
    const start = Date.now() + 20 * HOUR;
    const patched = await api('PATCH', `/v1/orgs/${org.slug}/appointments/${moved.id}`, {
      token: org.owner.token,
      body: { start_time: new Date(start).toISOString(), end_time: new Date(start + HOUR).toISOString() },
    });
    expect(patched.body.reminders_sent).toEqual({ '24h': null, '1h': null });
    await runCron(testEnv, Date.now());
    expect(ours(sent)).toEqual([
      ['moved', '24h'],
      ['moved', '24h'],
    ]);
    expect(
      sent.filter((m) => m.event.data.appointment.id === moved.id).map((m) => m.event.data.appointment.start_time),
    ).toEqual([moved.start_time, patched.body.start_time]);
  });

  it('keeps the two reminders of an appointment more than an hour apart, at the exact window edges', async () => {
    org = await newOrg();
    const { env: testEnv, sent } = recordingEnv();
    // Appointments days apart, so that each run's 24 h range holds one of them only.
    const startOf = async (title: string, days: number) =>
      Date.parse((await book(title, (10 + 3 * days) * 24 * HOUR)).start_time);
    const runs = async (start: number, offsets: number[]) => {
      for (const offset of offsets) await runCron(testEnv, start - offset);
    };
    const edges = await startOf('edges', 0);
    await runs(edges, [24 * HOUR + 1]);
    expect(ours(sent)).toEqual([]);
    await runs(edges, [24 * HOUR]);
    expect(ours(sent)).toEqual([['edges', '24h']]);
    await runs(edges, [2 * HOUR, HOUR + 1, 0]);
    expect(ours(sent)).toEqual([['edges', '24h']]);
    await runs(edges, [HOUR]);
    expect(ours(sent)).toEqual([
      ['edges', '1h'],
      ['edges', '24h'],
    ]);

    // Booked 61 to 65 minutes ahead (and up to 2 h): the 1 h reminder only, once its window opens.
    const booked65 = await startOf('booked 65 min ahead', 1);
    await runs(booked65, [65 * MINUTE, 60 * MINUTE, 55 * MINUTE]);
    const booked61 = await startOf('booked 61 min ahead', 2);
    await runs(booked61, [61 * MINUTE, 56 * MINUTE]);
    const booked2h = await startOf('booked 2 h ahead', 3);
    await runs(booked2h, [2 * HOUR, 115 * MINUTE, HOUR, 55 * MINUTE]);
    const justOver2h = await startOf('booked just over 2 h ahead', 4);
    await runs(justOver2h, [2 * HOUR + 1, 2 * HOUR - 5 * MINUTE + 1, HOUR]);
    expect(ours(sent).filter(([title]) => title !== 'edges')).toEqual([
      ['booked 2 h ahead', '1h'],
      ['booked 61 min ahead', '1h'],
      ['booked 65 min ahead', '1h'],
      ['booked just over 2 h ahead', '1h'],
      ['booked just over 2 h ahead', '24h'],
    ]);
  });

  it("leaves a dead run's 24 h claim unsent once the appointment has come within 2 h: the 1 h reminder follows", async () => {
    const start = Date.parse((await book('late claim', 30 * 24 * HOUR)).start_time);
    await expect(runCron(recordingEnv({ fail: true }).env, start - 2 * HOUR - 5 * MINUTE)).rejects.toThrow();
    const { env: testEnv, sent } = recordingEnv();
    // Past the claim's timeout, but inside the gap: nothing is due.
    await runCron(testEnv, start - 2 * HOUR + 10 * MINUTE);
    await runCron(testEnv, start - HOUR - 5 * MINUTE);
    expect(ours(sent)).toEqual([]);
    await runCron(testEnv, start - HOUR);
    expect(ours(sent)).toEqual([['late claim', '1h']]);
  });

  it('loses no reminder when a run dies before queueing it: a later run takes the claim over', async () => {
    const kept = await book('kept', 3 * HOUR);
    const now = Date.now();
    const broken = recordingEnv({ fail: true });
    await expect(runCron(broken.env, now)).rejects.toThrow();
    const working = recordingEnv();
    // Within the claim's timeout the claim is still the failed run's…
    await runCron(working.env, now + 5 * MINUTE);
    expect(ours(working.sent)).toEqual([]);
    // …after it, the next run sends it.
    await runCron(working.env, now + 11 * MINUTE);
    await runCron(working.env, now + 16 * MINUTE);
    expect(ours(working.sent)).toEqual([['kept', '24h']]);
    expect(working.sent.find((m) => m.event.data.appointment.id === kept.id)).toBeDefined();
  });
});

describe('the appointment webhook', () => {
  afterEach(() => {
    fetchMock.deactivate();
    fetchMock.enableNetConnect();
  });

  async function verify(secret: string, body: string, header: string) {
    const { t, v1 } = Object.fromEntries(header.split(',').map((part) => part.split('='))) as { t: string; v1: string };
    const key = await crypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(secret),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['verify'],
    );
    const mac = Uint8Array.from(v1.match(/../g)!.map((h) => parseInt(h, 16)));
    expect(Math.abs(Number(t) - Date.now() / 1000)).toBeLessThan(300);
    return crypto.subtle.verify('HMAC', key, mac, new TextEncoder().encode(`${t}.${body}`));
  }

  type Reminded = NotificationMessage['event']['data']['appointment'];
  /** A reminder as the cron job queues it, of `appointment` as it was then. */
  const message = async (o: TestOrg, id: string, appointment: Reminded): Promise<NotificationMessage> => ({
    shard: (await shardOf(o.id)).n,
    event: {
      id,
      type: 'appointment.reminder',
      created_at: new Date().toISOString(),
      organization_id: o.id,
      data: { window: '1h', appointment },
    },
  });
  const appointment = async (o: TestOrg, title: string, startsIn: number): Promise<Reminded> => {
    const start = Date.now() + startsIn;
    const res = await api('POST', `/v1/orgs/${o.slug}/appointments`, {
      token: o.owner.token,
      body: { title, start_time: new Date(start).toISOString(), end_time: new Date(start + HOUR).toISOString() },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const { id, description, start_time, end_time, status, location, meeting_url, customer_id, assigned_to } = res.body;
    return { id, title, description, start_time, end_time, status, location, meeting_url, customer_id, assigned_to };
  };
  const consume = async (messages: NotificationMessage[], bindings: object = env) => {
    const batch = createMessageBatch<NotificationMessage>(
      'strive-notifications',
      messages.map((body, i) => ({ id: `m${i + 1}`, timestamp: new Date(), attempts: 1, body })),
    );
    const ctx = createExecutionContext();
    await worker.queue!(batch as never, bindings as never, ctx);
    return getQueueResult(batch, ctx);
  };

  it('is configured by admins: https only, secret shown once, audited without it', async () => {
    const org = await newOrg();
    const member = await joinAs(org, 'member');
    const path = `/v1/orgs/${org.slug}/appointments/webhook`;
    expectProblem(await api('GET', path, { token: org.owner.token }), 404, 'not_found');
    expectProblem(
      await api('PUT', path, { token: member.token, body: { url: 'https://hooks.example.com/x' } }),
      403,
      'forbidden',
    );
    const put = await api('PUT', path, { token: org.owner.token, body: { url: 'https://hooks.example.com/x' } });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(put.roundTrips).toBe(1);
    const again = await api('PUT', path, { token: org.owner.token, body: { url: 'https://hooks.example.com/y' } });
    expect(again.body.secret).not.toBe(put.body.secret);
    const got = await api('GET', path, { token: org.owner.token });
    expect(got.body).toEqual({
      url: 'https://hooks.example.com/y',
      created_at: put.body.created_at,
      updated_at: again.body.updated_at,
    });
    const log = await api('GET', `/v1/orgs/${org.slug}/activity?resource_type=appointment_webhook`, {
      token: org.owner.token,
    });
    expect(JSON.stringify(log.body)).not.toContain(put.body.secret);
    expect(log.body.data.map((r: { action: string }) => r.action)).toEqual([
      'appointment_webhook.update',
      'appointment_webhook.update',
    ]);
    expect((await api('DELETE', path, { token: org.owner.token })).status).toBe(204);
    expectProblem(await api('DELETE', path, { token: org.owner.token }), 404, 'not_found');
    const deleted = await api('GET', `/v1/orgs/${org.slug}/activity?action=appointment_webhook.delete`, {
      token: org.owner.token,
    });
    expect(deleted.body.data[0].old_data).toEqual({ url: 'https://hooks.example.com/y' });
  });

  it('is refused a URL that is not https to a public host name', async () => {
    const org = await newOrg();
    const put = (url: string) =>
      api('PUT', `/v1/orgs/${org.slug}/appointments/webhook`, { token: org.owner.token, body: { url } });
    const refused = [
      'http://hooks.example.com/x',
      'ftp://hooks.example.com',
      'not a url',
      'https://localhost/x',
      'https://127.0.0.1/x',
      'https://2130706433/x',
      'https://10.0.0.5/x',
      'https://192.168.1.1/x',
      'https://169.254.169.254/latest/meta-data',
      'https://[::1]/x',
      'https://[fd00::1]/x',
      'https://metadata.google.internal/computeMetadata',
      'https://HOOKS.INTERNAL/x',
      'https://hooks.internal./x',
      'https://printer.local/x',
      'https://app.localhost/x',
      'https://router.home.arpa/x',
      'https://home.arpa/x',
      // Names that resolve to internal addresses by design: wildcard-DNS services and private suffixes.
      'https://localtest.me/x',
      'https://hooks.localtest.me/x',
      'https://169.254.169.254.nip.io/latest',
      'https://10.0.0.1.sslip.io/x',
      'https://7f000001.XIP.IO/x',
      'https://app.lvh.me/x',
      'https://localhost.localdomain/x',
      'https://kubernetes.default.svc/x',
      // Malformed, or credentials that make one host read as another.
      'https://',
      'https:',
      'https://hooks..example.com/x',
      'https://trusted.example.com@evil.example.com/x',
    ];
    for (const url of refused) {
      const res = await put(url);
      expect(res.status, url).toBe(400);
      expectProblem(res, 400, 'invalid_request');
      expect(res.body.errors[0].path, url).toBe('url');
    }
    const accepted = [
      'https://hooks.example.com/x',
      'https://internal.example.com/x',
      'https://local.example.com:8443/x',
      'https://notlocalhost.com/x',
      'https://home.arpa.example.com/x',
      'https://nip.io.example.com/x',
    ];
    for (const url of accepted) expect((await put(url)).status, url).toBe(200);
  });

  it('stores the URL as the URL parser reads it, so a URL without slashes is not a 500', async () => {
    const org = await newOrg();
    const path = `/v1/orgs/${org.slug}/appointments/webhook`;
    for (const [sent, stored] of [
      ['https:hooks.example.com/x', 'https://hooks.example.com/x'],
      [' HTTPS://Hooks.Example.com ', 'https://hooks.example.com/'],
      ['https:/hooks.example.com/a/../b', 'https://hooks.example.com/b'],
    ]) {
      const put = await api('PUT', path, { token: org.owner.token, body: { url: sent } });
      expect(put.status, JSON.stringify(put.body)).toBe(200);
      expect(put.body.url).toBe(stored);
      expect((await api('GET', path, { token: org.owner.token })).body.url).toBe(stored);
    }
  });

  it('does not call a stored webhook URL on a private name (set before such names were refused)', async () => {
    const org = await newOrg();
    await api('PUT', `/v1/orgs/${org.slug}/appointments/webhook`, {
      token: org.owner.token,
      body: { url: 'https://hooks.example.com/x' },
    });
    const db = (await shardOf(org.id)).db;
    await db
      .prepare('UPDATE appointment_webhooks SET url = ? WHERE organization_id = ?')
      .bind('https://metadata.google.internal/x', org.id)
      .run();
    fetchMock.activate();
    fetchMock.disableNetConnect();
    const result = await consume([await message(org, 'r-private', await appointment(org, 'due', HOUR))]);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toEqual(['m1']);
  });

  it('resolves the host before delivering and does not call a name that resolves to an internal address', async () => {
    const org = await newOrg();
    const due = await message(org, 'r-dns', await appointment(org, 'due', HOUR));
    fetchMock.activate();
    fetchMock.disableNetConnect();
    const internal: Record<string, string[]> = {
      loopback: ['127.0.0.1'],
      metadata: ['169.254.169.254'],
      private: ['10.1.2.3'],
      cgnat: ['100.64.0.7'],
      benchmark: ['198.18.0.1'],
      'unique-local': ['fd00:ec2::254'],
      'v6-loopback': ['::1'],
      'v4-mapped': ['::ffff:169.254.169.254'],
      'link-local': ['fe80::1'],
      // One internal address among public ones is enough: fetch may pick any of them.
      mixed: ['93.184.216.34', '192.168.0.10'],
    };
    for (const [label, addresses] of Object.entries(internal)) {
      const host = `${label}.hooks.example.com`;
      expect(
        (
          await api('PUT', `/v1/orgs/${org.slug}/appointments/webhook`, {
            token: org.owner.token,
            body: { url: `https://${host}/x` },
          })
        ).status,
      ).toBe(200);
      const looked = mockDns({ [host]: addresses });
      // Net connect is off and no interceptor answers the host: a call would fail and be retried.
      const result = await consume([due]);
      // This host's look-ups (the runtime may be finishing another test's delivery meanwhile).
      expect(looked.filter((query) => query.startsWith(`${host}/`)).sort(), label).toEqual([
        `${host}/A`,
        `${host}/AAAA`,
      ]);
      expect(result.retryMessages, label).toEqual([]);
      expect(result.explicitAcks, label).toEqual(['m1']);
    }
  });

  it(
    'retries a reminder whose host cannot be resolved (fail closed); the resolver is configurable, and the check ' +
      'can be turned off',
    async () => {
      const org = await newOrg();
      const due = await message(org, 'r-unresolved', await appointment(org, 'due', HOUR));
      const put = (url: string) =>
        api('PUT', `/v1/orgs/${org.slug}/appointments/webhook`, { token: org.owner.token, body: { url } });
      fetchMock.activate();
      fetchMock.disableNetConnect();
      expect((await put('https://hooks.example.com/r')).status).toBe(200);
      for (const failure of ['SERVFAIL', 'HTTP 503', undefined] as const) {
        mockDns(failure ? { 'hooks.example.com': failure } : {});
        const result = await consume([due]);
        expect(result.retryMessages, failure ?? 'NXDOMAIN').toEqual([{ msgId: 'm1' }]);
        expect(result.explicitAcks).toEqual([]);
      }

      const delivered: string[] = [];
      fetchMock
        .get('https://hooks.example.com')
        .intercept({ path: '/r', method: 'POST' })
        .reply(200, (opts) => {
          delivered.push(JSON.parse(String(opts.body)).id);
          return 'ok';
        })
        .times(2);
      // Another resolver, by DOH_RESOLVER_URL: the default one is not asked.
      const resolver = 'https://dns.example.net/resolve';
      const atDefault = mockDns({});
      const looked = mockDns({ 'hooks.example.com': ['93.184.216.34'] }, resolver);
      expect((await consume([due], { ...env, DOH_RESOLVER_URL: resolver })).explicitAcks).toEqual(['m1']);
      expect([looked.length, atDefault.length]).toEqual([2, 0]);
      // OUTBOUND_DNS_CHECK=off (a dev machine without a resolver): delivered without a look-up.
      looked.length = 0;
      expect((await consume([due], { ...env, OUTBOUND_DNS_CHECK: 'off' })).explicitAcks).toEqual(['m1']);
      expect(looked).toEqual([]);
      expect(delivered).toEqual(['r-unresolved', 'r-unresolved']);
    },
  );

  it("goes with its organization's deletion, reminders too", async () => {
    const org = await newOrg();
    await api('PUT', `/v1/orgs/${org.slug}/appointments/webhook`, {
      token: org.owner.token,
      body: { url: 'https://hooks.example.com/gone' },
    });
    const start = Date.now() + 3 * HOUR;
    await api('POST', `/v1/orgs/${org.slug}/appointments`, {
      token: org.owner.token,
      body: { title: 'x', start_time: new Date(start).toISOString(), end_time: new Date(start + HOUR).toISOString() },
    });
    await runCron(recordingEnv().env, Date.now());
    const shard = (await env.CATALOG.prepare('SELECT shard FROM organizations WHERE id = ?')
      .bind(org.id)
      .first<{ shard: number }>())!.shard;
    const db = (env as unknown as Record<string, D1Database>)[`SHARD_${shard}`]!;
    const count = async (table: string) =>
      (await db
        .prepare(`SELECT count(*) AS n FROM ${table} WHERE organization_id = ?`)
        .bind(org.id)
        .first<{ n: number }>())!.n;
    expect([await count('appointment_webhooks'), await count('reminders_sent')]).toEqual([1, 1]);
    expect((await api('DELETE', `/v1/orgs/${org.slug}`, { token: org.owner.token })).status).toBe(204);
    expect([await count('appointment_webhooks'), await count('reminders_sent')]).toEqual([0, 0]);
  });

  it('delivers queued reminders signed, retries failures, acknowledges organizations without a webhook', async () => {
    const org = await newOrg();
    const quiet = await newOrg();
    const secret = (
      await api('PUT', `/v1/orgs/${org.slug}/appointments/webhook`, {
        token: org.owner.token,
        body: { url: 'https://hooks.example.com/strive' },
      })
    ).body.secret;
    const call = await appointment(org, 'Call', HOUR);
    const quietCall = await appointment(quiet, 'Call', HOUR);

    fetchMock.activate();
    fetchMock.disableNetConnect();
    const looked = mockDns({ 'hooks.example.com': ['93.184.216.34', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'] });
    const received: { headers: Record<string, string>; body: string }[] = [];
    const hooks = fetchMock.get('https://hooks.example.com');
    hooks.intercept({ path: '/strive', method: 'POST' }).reply(200, (opts) => {
      received.push({ headers: opts.headers as Record<string, string>, body: String(opts.body) });
      return 'ok';
    });
    hooks.intercept({ path: '/strive', method: 'POST' }).reply(500, 'down');

    const messages = [
      await message(org, 'reminder-1', call),
      await message(org, 'reminder-2', call),
      await message(quiet, 'reminder-3', quietCall),
    ];
    const result = await consume(messages);
    fetchMock.assertNoPendingInterceptors();
    // Resolved once for the batch, both families, before the deliveries.
    expect(looked.sort()).toEqual(['hooks.example.com/A', 'hooks.example.com/AAAA']);

    // One delivery succeeded, one answered 500 and is retried; the quiet organization's is acked.
    expect(result.ackAll).toBe(false);
    expect(result.retryMessages).toEqual([{ msgId: expect.stringMatching(/^m[12]$/) }]);
    expect([...result.explicitAcks].sort()).toEqual(
      ['m1', 'm2', 'm3'].filter((id) => id !== result.retryMessages[0]!.msgId),
    );
    expect(received.length).toBe(1);
    const [{ headers, body }] = received as [{ headers: Record<string, string>; body: string }];
    const event = JSON.parse(body);
    expect(['reminder-1', 'reminder-2']).toContain(event.id);
    expect(headers['strive-event-id']).toBe(event.id);
    expect(headers['content-type']).toBe('application/json');
    expect(await verify(secret, body, headers['strive-signature']!)).toBe(true);
    expect(await verify('whsec_wrong', body, headers['strive-signature']!)).toBe(false);
  });

  it('acknowledges without delivering a reminder that is stale: started, cancelled, moved or deleted since it was queued', async () => {
    const org = await newOrg();
    await api('PUT', `/v1/orgs/${org.slug}/appointments/webhook`, {
      token: org.owner.token,
      body: { url: 'https://hooks.example.com/stale' },
    });
    const started = await appointment(org, 'started', -10 * MINUTE);
    const cancelled = await appointment(org, 'cancelled', HOUR);
    await api('PATCH', `/v1/orgs/${org.slug}/appointments/${cancelled.id}`, {
      token: org.owner.token,
      body: { status: 'cancelled' },
    });
    const moved = await appointment(org, 'moved', HOUR);
    const later = Date.now() + 3 * HOUR;
    await api('PATCH', `/v1/orgs/${org.slug}/appointments/${moved.id}`, {
      token: org.owner.token,
      body: { start_time: new Date(later).toISOString(), end_time: new Date(later + HOUR).toISOString() },
    });
    const deleted = await appointment(org, 'deleted', HOUR);
    await api('DELETE', `/v1/orgs/${org.slug}/appointments/${deleted.id}`, { token: org.owner.token });
    const due = await appointment(org, 'due', HOUR);
    // Another organization's appointment id does not make a reminder of this one due.
    const other = await newOrg();
    const foreign = { ...(await appointment(other, 'foreign', HOUR)), title: 'forged' };

    fetchMock.activate();
    fetchMock.disableNetConnect();
    mockDns({ 'hooks.example.com': ['93.184.216.34'] });
    const delivered: string[] = [];
    fetchMock
      .get('https://hooks.example.com')
      .intercept({ path: '/stale', method: 'POST' })
      .reply(200, (opts) => {
        delivered.push(JSON.parse(String(opts.body)).data.appointment.title);
        return 'ok';
      });
    const result = await consume([
      await message(org, 'r-started', started),
      await message(org, 'r-cancelled', cancelled),
      await message(org, 'r-moved', moved),
      await message(org, 'r-deleted', deleted),
      await message(org, 'r-foreign', foreign),
      await message(org, 'r-due', due),
    ]);
    expect(result.retryMessages).toEqual([]);
    expect([...result.explicitAcks].sort()).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
    expect(delivered).toEqual(['due']);
  });
});
