import { env } from 'cloudflare:test';
import { drizzle } from 'drizzle-orm/d1';
import ICAL from 'ical.js';
import { describe, expect, it } from 'vitest';
import { TenantStore } from '../src/db/tenant-store';
import { escapeText, feedAppointments, foldLine } from '../src/modules/appointments/calendar';
import { api, expectProblem, joinAs, newOrg } from './helpers';

const soon = (hours: number) =>
  new Date(Math.ceil(Date.now() / 3_600_000) * 3_600_000 + hours * 3_600_000).toISOString();
const octets = (line: string) => new TextEncoder().encode(line).length;

function parse(text: string) {
  const calendar = new ICAL.Component(ICAL.parse(text));
  return calendar.getAllSubcomponents('vevent').map((vevent) => {
    const event = new ICAL.Event(vevent);
    return {
      uid: event.uid,
      summary: event.summary,
      description: event.description,
      location: event.location,
      url: vevent.getFirstPropertyValue('url'),
      status: vevent.getFirstPropertyValue('status'),
      start: event.startDate.toJSDate().toISOString(),
      end: event.endDate.toJSDate().toISOString(),
      startIsUtc: event.startDate.zone?.tzid === 'UTC',
      dtstamp: vevent.getFirstPropertyValue('dtstamp') !== null,
    };
  });
}

describe('the iCalendar feed', () => {
  it('is RFC 5545: escaped text, folded CRLF lines, UTC times, parsed back by ical.js', async () => {
    const org = await newOrg();
    const t = org.owner.token;
    const title =
      'Review; budget, scope \\ timeline — Überprüfung der Entwürfe für den Relaunch 🚀 mit allen Beteiligten';
    const created = await api('POST', `/v1/orgs/${org.slug}/appointments`, {
      token: t,
      body: {
        title,
        description: 'Line one\nLine two, with a comma; and a semicolon',
        location: 'Room 4, Floor 2',
        meeting_url: 'https://meet.example.com/a?b=c,d',
        start_time: soon(2),
        end_time: soon(3),
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const cancelled = (
      await api('POST', `/v1/orgs/${org.slug}/appointments`, {
        token: t,
        body: { title: 'Dropped', start_time: soon(5), end_time: soon(6), status: 'confirmed' },
      })
    ).body;
    await api('PATCH', `/v1/orgs/${org.slug}/appointments/${cancelled.id}`, {
      token: t,
      body: { status: 'cancelled' },
    });

    const res = await api('GET', `/v1/orgs/${org.slug}/appointments.ics`, { token: t });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/calendar; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('private, no-store');
    expect(res.roundTrips).toBe(1);
    const text = res.body as string;
    expect(text.startsWith('BEGIN:VCALENDAR\r\nVERSION:2.0\r\n')).toBe(true);
    expect(text.endsWith('END:VCALENDAR\r\n')).toBe(true);
    expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    const lines = text.split('\r\n');
    expect(Math.max(...lines.map(octets))).toBeLessThanOrEqual(75);
    expect(lines.some((line) => line.startsWith(' '))).toBe(true); // the long title was folded
    expect(text).toContain(`DTSTART:${soon(2).replace(/[-:]/g, '').replace('.000', '')}`);

    const events = parse(text);
    expect(events).toEqual([
      {
        uid: `${created.body.id}@strive`,
        summary: title,
        description: 'Line one\nLine two, with a comma; and a semicolon',
        location: 'Room 4, Floor 2',
        url: 'https://meet.example.com/a?b=c,d',
        status: 'TENTATIVE',
        start: soon(2),
        end: soon(3),
        startIsUtc: true,
        dtstamp: true,
      },
      expect.objectContaining({
        uid: `${cancelled.id}@strive`,
        summary: 'Dropped',
        status: 'CANCELLED',
        start: soon(5),
      }),
    ]);
  });

  it('escapes and folds by the octet', () => {
    expect(escapeText('a\\b;c,d\r\ne\nf')).toBe('a\\\\b\\;c\\,d\\ne\\nf');
    const line = `SUMMARY:${'é'.repeat(60)}`; // 8 + 120 octets
    const folded = foldLine(line).split('\r\n');
    expect(folded.map(octets).every((n) => n <= 75)).toBe(true);
    expect(folded.slice(1).every((l) => l.startsWith(' '))).toBe(true);
    expect(folded.map((l, i) => (i ? l.slice(1) : l)).join('')).toBe(line);
    expect(foldLine('x'.repeat(75))).toBe('x'.repeat(75));
  });

  it('serves a feed token: rotated, revoked, bound to its member and organization, read-only', async () => {
    const org = await newOrg();
    const member = await joinAs(org, 'member');
    await api('POST', `/v1/orgs/${org.slug}/appointments`, {
      token: org.owner.token,
      body: { title: 'Team sync', start_time: soon(1), end_time: soon(2), assigned_to: member.id },
    });
    await api('POST', `/v1/orgs/${org.slug}/appointments`, {
      token: org.owner.token,
      body: { title: 'Owner only', start_time: soon(1), end_time: soon(2) },
    });

    const issued = await api('POST', `/v1/orgs/${org.slug}/appointments/feed-token`, { token: member.token });
    expect(issued.status, JSON.stringify(issued.body)).toBe(201);
    expect(issued.body.token).toMatch(/^scal_[A-Za-z0-9_-]{43}$/);
    expect(issued.body.feed_url).toBe(
      `https://strive.test/v1/orgs/${org.slug}/appointments.ics?token=${issued.body.token}`,
    );
    expect(issued.body.webcal_url.startsWith('webcal://strive.test/')).toBe(true);
    const stored = await env.CATALOG.prepare(
      'SELECT calendar_token_hash AS hash FROM organization_members WHERE user_id = ?',
    )
      .bind(member.id)
      .first<{ hash: string }>();
    expect(stored!.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored!.hash).not.toContain(issued.body.token);

    const feed = (query: string, path = `/v1/orgs/${org.slug}/appointments.ics`) => api('GET', `${path}?${query}`);
    const first = await feed(`token=${issued.body.token}`);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.roundTrips).toBe(2); // cold: the token's access, then the shard
    expect(
      parse(first.body)
        .map((e) => e.summary)
        .sort(),
    ).toEqual(['Owner only', 'Team sync']);
    const mine = await feed(`token=${issued.body.token}&assigned_to=me`);
    expect(mine.roundTrips).toBe(1); // warm
    expect(parse(mine.body).map((e) => e.summary)).toEqual(['Team sync']);
    // By id too.
    expect((await feed(`token=${issued.body.token}`, `/v1/orgs/${org.id}/appointments.ics`)).status).toBe(200);

    // Only on the feed: elsewhere the query token is no credential at all.
    expectProblem(
      await api('GET', `/v1/orgs/${org.slug}/appointments?token=${issued.body.token}`),
      401,
      'unauthenticated',
    );
    // Another organization's feed: as if it did not exist.
    const other = await newOrg();
    expectProblem(
      await feed(`token=${issued.body.token}`, `/v1/orgs/${other.slug}/appointments.ics`),
      404,
      'not_found',
    );
    expectProblem(await feed('token=scal_not-a-real-token'), 401, 'unauthenticated');
    expectProblem(await feed('token=not-a-feed-token'), 401, 'unauthenticated');

    // Rotating: the old token stops, the new one works.
    const rotated = await api('POST', `/v1/orgs/${org.slug}/appointments/feed-token`, { token: member.token });
    expect(rotated.body.token).not.toBe(issued.body.token);
    expectProblem(await feed(`token=${issued.body.token}`), 401, 'unauthenticated');
    expect((await feed(`token=${rotated.body.token}`)).status).toBe(200);
    const log = await api('GET', `/v1/orgs/${org.slug}/activity?resource_type=calendar_feed`, {
      token: org.owner.token,
    });
    expect(log.body.data.map((r: { action: string; user_id: string }) => [r.action, r.user_id])).toEqual([
      ['calendar_feed.rotate', member.id],
      ['calendar_feed.rotate', member.id],
    ]);

    // Revoking.
    expect((await api('DELETE', `/v1/orgs/${org.slug}/appointments/feed-token`, { token: member.token })).status).toBe(
      204,
    );
    expectProblem(await feed(`token=${rotated.body.token}`), 401, 'unauthenticated');

    // A removed member's feed stops.
    const again = await api('POST', `/v1/orgs/${org.slug}/appointments/feed-token`, { token: member.token });
    expect((await feed(`token=${again.body.token}`)).status).toBe(200);
    expect((await api('DELETE', `/v1/orgs/${org.slug}/members/${member.id}`, { token: org.owner.token })).status).toBe(
      204,
    );
    expectProblem(await feed(`token=${again.body.token}`), 401, 'unauthenticated');
  });

  it("gives a client user's feed their own customer's appointments only", async () => {
    const org = await newOrg();
    const client = await joinAs(org, 'viewer');
    await env.CATALOG.prepare("UPDATE users SET role = 'client' WHERE id = ?").bind(client.id).run();
    const customer = (
      await api('POST', `/v1/orgs/${org.slug}/customers`, {
        token: org.owner.token,
        body: { name: 'Client Co', email: client.email },
      })
    ).body.id;
    await api('POST', `/v1/orgs/${org.slug}/appointments`, {
      token: org.owner.token,
      body: { title: 'Theirs', customer_id: customer, start_time: soon(1), end_time: soon(2) },
    });
    await api('POST', `/v1/orgs/${org.slug}/appointments`, {
      token: org.owner.token,
      body: { title: 'Internal', start_time: soon(1), end_time: soon(2) },
    });
    const token = (await api('POST', `/v1/orgs/${org.slug}/appointments/feed-token`, { token: client.token })).body
      .token;
    const res = await api('GET', `/v1/orgs/${org.slug}/appointments.ics?token=${token}`);
    expect(parse(res.body).map((e) => e.summary)).toEqual(['Theirs']);
  });

  it('keeps upcoming and ongoing appointments when the cap is reached, filling it with the latest past ones', async () => {
    const org = await newOrg();
    const now = Date.now();
    const at = (ms: number) => new Date(now + ms).toISOString();
    const HOUR = 3_600_000;
    const DAY = 24 * HOUR;
    const booked: [string, number, number][] = [
      ['100 days ago', -100 * DAY, HOUR],
      ['80 days ago', -80 * DAY, HOUR],
      ['60 days ago', -60 * DAY, HOUR],
      ['30 days ago', -30 * DAY, HOUR],
      ['yesterday', -DAY, HOUR],
      ['ongoing', -HOUR / 2, HOUR],
      ['in 2 hours', 2 * HOUR, HOUR],
      ['in 200 days', 200 * DAY, HOUR],
      ['in 400 days', 400 * DAY, HOUR],
    ];
    for (const [title, start, length] of booked) {
      const res = await api('POST', `/v1/orgs/${org.slug}/appointments`, {
        token: org.owner.token,
        body: { title, start_time: at(start), end_time: at(start + length) },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
    // Everything from 90 days ago to a year ahead, by start.
    const full = await api('GET', `/v1/orgs/${org.slug}/appointments.ics`, { token: org.owner.token });
    expect(full.roundTrips).toBe(1);
    const inRange = ['80 days ago', '60 days ago', '30 days ago', 'yesterday', 'ongoing', 'in 2 hours', 'in 200 days'];
    expect(parse(full.body).map((e) => e.summary)).toEqual(inRange);

    // With a small cap (FEED_MAX_EVENTS in production), the future comes first, then the latest past.
    const shard = (await env.CATALOG.prepare('SELECT shard FROM organizations WHERE id = ?')
      .bind(org.id)
      .first<{ shard: number }>())!.shard;
    const store = new TenantStore(drizzle((env as unknown as Record<string, D1Database>)[`SHARD_${shard}`]!), org.id);
    const titles = async (max: number) => (await feedAppointments(store, undefined, now, max)).map((row) => row.title);
    expect(await titles(5)).toEqual(['30 days ago', 'yesterday', 'ongoing', 'in 2 hours', 'in 200 days']);
    expect(await titles(2)).toEqual(['ongoing', 'in 2 hours']);
    expect(await titles(100)).toEqual(inRange);
  });

  it('refuses a feed token to an API key', async () => {
    const org = await newOrg();
    const key = (
      await api('POST', `/v1/orgs/${org.slug}/api-keys`, {
        token: org.owner.token,
        body: { name: 'k', scopes: ['appointments:read'] },
      })
    ).body.key;
    expectProblem(await api('POST', `/v1/orgs/${org.slug}/appointments/feed-token`, { token: key }), 403, 'forbidden');
    expect((await api('GET', `/v1/orgs/${org.slug}/appointments.ics`, { token: key })).status).toBe(200);
  });
});
