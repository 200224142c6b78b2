import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, expectProblem, joinAs, newOrg, type TestOrg, type TestUser } from './helpers';

/** An instant `minutes` after a fixed base, in UTC. */
const at = (minutes: number) => new Date(Date.UTC(2030, 0, 7, 9, 0) + minutes * 60_000).toISOString();

describe('appointments', () => {
  let org: TestOrg;
  let t: string;
  let bob: TestUser;

  beforeAll(async () => {
    // The overlap tests add a member or two each: more than the free tier's seats.
    org = await newOrg(undefined, { tier: 'enterprise' });
    t = org.owner.token;
    bob = await joinAs(org, 'member');
  });

  const book = (body: Record<string, unknown>, token = t) =>
    api('POST', `/v1/orgs/${org.slug}/appointments`, { token, body });

  it('creates (offsets normalised to UTC), reads, updates and deletes an appointment, one batch each', async () => {
    await api('GET', `/v1/orgs/${org.slug}`, { token: t }); // warm the access cache
    const customer = (await api('POST', `/v1/orgs/${org.slug}/customers`, { token: t, body: { name: 'Ada' } })).body.id;
    const created = await book({
      title: 'Kick-off',
      start_time: '2030-02-01T10:00:00+01:00',
      end_time: '2030-02-01T10:30:00.5+01:00',
      customer_id: customer,
      location: 'Room 1',
      meeting_url: 'https://meet.example.com/kick-off',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({
      title: 'Kick-off',
      start_time: '2030-02-01T09:00:00.000Z',
      end_time: '2030-02-01T09:30:00.500Z',
      status: 'scheduled',
      customer_id: customer,
      assigned_to: null,
      reminders_sent: { '24h': null, '1h': null },
      created_by: org.owner.id,
    });
    expect(created.roundTrips).toBe(1);
    const id = created.body.id;

    const read = await api('GET', `/v1/orgs/${org.slug}/appointments/${id}`, { token: t });
    expect(read.body).toEqual(created.body);
    expect(read.roundTrips).toBe(1);

    const updated = await api('PATCH', `/v1/orgs/${org.slug}/appointments/${id}`, {
      token: t,
      body: { title: 'Kick-off call', status: 'confirmed' },
    });
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    expect(updated.body).toMatchObject({ title: 'Kick-off call', status: 'confirmed' });
    expect(updated.roundTrips).toBe(1);

    // Assigning someone costs one catalog query (is it a member?) besides the batch.
    const assigned = await api('PATCH', `/v1/orgs/${org.slug}/appointments/${id}`, {
      token: t,
      body: { assigned_to: bob.id },
    });
    expect(assigned.body.assigned_to).toBe(bob.id);
    expect(assigned.roundTrips).toBe(2);

    const noop = await api('PATCH', `/v1/orgs/${org.slug}/appointments/${id}`, {
      token: t,
      body: { title: 'Kick-off call' },
    });
    expect(noop.status).toBe(200);
    expect(noop.body.updated_at).toBe(assigned.body.updated_at);

    const log = await api('GET', `/v1/orgs/${org.slug}/activity?resource_id=${id}`, { token: t });
    expect(log.body.data.map((r: { action: string }) => r.action)).toEqual([
      'appointment.update',
      'appointment.update',
      'appointment.create',
    ]);
    expect(log.body.data[2]).toMatchObject({
      old_data: null,
      new_data: { title: 'Kick-off', start_time: '2030-02-01T09:00:00.000Z' },
    });
    expect(log.body.data[1]).toMatchObject({
      old_data: { title: 'Kick-off', status: 'scheduled' },
      new_data: { title: 'Kick-off call', status: 'confirmed' },
    });

    const deleted = await api('DELETE', `/v1/orgs/${org.slug}/appointments/${id}`, { token: t });
    expect(deleted.status).toBe(204);
    expect(deleted.roundTrips).toBe(1);
    expectProblem(await api('GET', `/v1/orgs/${org.slug}/appointments/${id}`, { token: t }), 404, 'not_found');
    expectProblem(
      await api('PATCH', `/v1/orgs/${org.slug}/appointments/${id}`, { token: t, body: { title: 'x' } }),
      404,
      'not_found',
    );
    expectProblem(await api('DELETE', `/v1/orgs/${org.slug}/appointments/${id}`, { token: t }), 404, 'not_found');
  });

  it('validates every input', async () => {
    const other = await newOrg();
    const foreignCustomer = (
      await api('POST', `/v1/orgs/${other.slug}/customers`, { token: other.owner.token, body: { name: 'Elsewhere' } })
    ).body.id;
    const outsider = await newOrg();
    const base = { title: 'x', start_time: at(0), end_time: at(30) };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base, title: '' }, 'title'],
      [{ ...base, start_time: '2030-01-07 09:00' }, 'start_time'],
      [{ ...base, start_time: '2030-01-07T09:00:00' }, 'start_time'], // no offset: ambiguous
      [{ ...base, end_time: at(0) }, 'end_time'],
      [{ ...base, end_time: at(-5) }, 'end_time'],
      [{ ...base, end_time: at(24 * 60 + 1) }, 'end_time'],
      [{ ...base, meeting_url: 'http://meet.example.com/x' }, 'meeting_url'],
      [{ ...base, meeting_url: 'javascript:alert(1)' }, 'meeting_url'],
      [{ ...base, status: 'done' }, 'status'],
      [{ ...base, customer_id: 'nope' }, 'customer_id'],
      [{ ...base, customer_id: foreignCustomer }, 'customer_id'],
      [{ ...base, customer_id: crypto.randomUUID() }, 'customer_id'],
      [{ ...base, assigned_to: outsider.owner.id }, 'assigned_to'],
      [{ ...base, reminders_sent: { '24h': null, '1h': null } }, 'reminders_sent'],
      [{ ...base, created_by: org.owner.id }, 'created_by'],
      [{ title: 'x' }, 'start_time'],
    ];
    for (const [body, field] of cases) {
      const res = await book(body);
      expectProblem(res, 400, 'invalid_request');
      expect(
        res.body.errors.map((e: { path: string }) => e.path),
        JSON.stringify(body),
      ).toContain(field);
    }
    // A URL refused says what it must be; a derived field, how it is set.
    const http = await book({ ...base, meeting_url: 'http://meet.example.com/x' });
    expect(http.body.errors[0].message).toContain('https://');
    const derived = await book({ ...base, reminders_sent: {} });
    expect(derived.body.errors).toEqual([
      { path: 'reminders_sent', message: expect.stringMatching(/^Read-only: the reminder job records/) },
    ]);
    // exactly 24 h is fine
    expect((await book({ ...base, end_time: at(24 * 60) })).status).toBe(201);

    const id = (await book(base)).body.id;
    const patch = (body: Record<string, unknown>) =>
      api('PATCH', `/v1/orgs/${org.slug}/appointments/${id}`, { token: t, body });
    // One time sent: the other comes from the row, checked in the UPDATE itself.
    for (const [body, field] of [
      [{ end_time: at(-1) }, 'end_time'],
      [{ start_time: at(31) }, 'end_time'],
      [{ end_time: at(25 * 60) }, 'end_time'],
      [{ status: 'gone' }, 'status'],
      [{ customer_id: foreignCustomer }, 'customer_id'],
    ] as const) {
      const res = await patch(body);
      expectProblem(res, 400, 'invalid_request');
      expect(res.body.errors[0].path, JSON.stringify(body)).toBe(field);
    }
    const q = await api('GET', `/v1/orgs/${org.slug}/appointments?from=yesterday&status=busy&customer_id=1`, {
      token: t,
    });
    expectProblem(q, 400, 'invalid_request');
    expect(q.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['customer_id', 'from', 'status']);
  });

  describe('no double booking', () => {
    // The existing appointment: [60, 120) minutes after the base, assigned to one member.
    const existing = [60, 120];
    const matrix: [string, number, number, boolean][] = [
      ['touching before (ends at its start)', 0, 60, true],
      ['touching after (starts at its end)', 120, 180, true],
      ['identical', 60, 120, false],
      ['containing it', 30, 150, false],
      ['contained in it', 75, 105, false],
      ['overlapping its start', 30, 61, false],
      ['overlapping its end', 119, 180, false],
      ['a minute apart', 121, 150, true],
    ];

    it.each(matrix)('%s: %s', async (_, start, end, allowed) => {
      const member = await joinAs(org, 'member');
      const first = await book({
        title: 'held',
        assigned_to: member.id,
        start_time: at(existing[0]!),
        end_time: at(existing[1]!),
      });
      expect(first.status).toBe(201);
      const second = await book({ title: 'new', assigned_to: member.id, start_time: at(start), end_time: at(end) });
      if (allowed) {
        expect(second.status, JSON.stringify(second.body)).toBe(201);
      } else {
        expectProblem(second, 409, 'conflict');
        expect(second.body.detail).toContain(first.body.id);
      }
      // Another assignee, or nobody, is never in the way.
      const colleague = await joinAs(org, 'member');
      expect(
        (
          await book({
            title: 'other',
            assigned_to: colleague.id,
            start_time: at(existing[0]!),
            end_time: at(existing[1]!),
          })
        ).status,
      ).toBe(201);
      expect((await book({ title: 'nobody', start_time: at(existing[0]!), end_time: at(existing[1]!) })).status).toBe(
        201,
      );
    });

    it('frees the slot when an appointment is cancelled, completed or a no-show', async () => {
      for (const status of ['cancelled', 'completed', 'no_show']) {
        const member = await joinAs(org, 'member');
        const first = (await book({ title: 'held', assigned_to: member.id, start_time: at(0), end_time: at(60) })).body;
        expectProblem(
          await book({ title: 'blocked', assigned_to: member.id, start_time: at(0), end_time: at(60) }),
          409,
          'conflict',
        );
        expect(
          (await api('PATCH', `/v1/orgs/${org.slug}/appointments/${first.id}`, { token: t, body: { status } })).status,
        ).toBe(200);
        expect(
          (await book({ title: 'now free', assigned_to: member.id, start_time: at(0), end_time: at(60) })).status,
        ).toBe(201);
      }
    });

    it('records an appointment in any status; only a live one holds the slot', async () => {
      const member = await joinAs(org, 'member');
      for (const status of ['completed', 'cancelled', 'no_show']) {
        const past = await book({
          title: `past ${status}`,
          assigned_to: member.id,
          start_time: at(-600),
          end_time: at(-540),
          status,
        });
        expect(past.status, JSON.stringify(past.body)).toBe(201);
        expect(past.body.status).toBe(status);
      }
      // None of them was in the way of the others, nor is in the way of a live one.
      const live = await book({
        title: 'live',
        assigned_to: member.id,
        start_time: at(-600),
        end_time: at(-540),
        status: 'confirmed',
      });
      expect(live.status, JSON.stringify(live.body)).toBe(201);
      // A live one is: a second confirmed is refused, a record of a completed one is not.
      expectProblem(
        await book({
          title: 'clash',
          assigned_to: member.id,
          start_time: at(-590),
          end_time: at(-550),
          status: 'confirmed',
        }),
        409,
        'conflict',
      );
      expect(
        (
          await book({
            title: 'noted',
            assigned_to: member.id,
            start_time: at(-590),
            end_time: at(-550),
            status: 'completed',
          })
        ).status,
      ).toBe(201);
    });

    it('checks moves, reassignments and reopened statuses the same way', async () => {
      const member = await joinAs(org, 'member');
      const a = (await book({ title: 'a', assigned_to: member.id, start_time: at(0), end_time: at(60) })).body;
      const b = (await book({ title: 'b', assigned_to: member.id, start_time: at(60), end_time: at(120) })).body;
      const patch = (id: string, body: Record<string, unknown>) =>
        api('PATCH', `/v1/orgs/${org.slug}/appointments/${id}`, { token: t, body });

      // Moving b's start into a (its end comes from the row).
      const into = await patch(b.id, { start_time: at(59) });
      expectProblem(into, 409, 'conflict');
      expect(into.body.detail).toContain(a.id);
      // Extending a's end into b.
      expectProblem(await patch(a.id, { end_time: at(61) }), 409, 'conflict');
      // Moving a onto b entirely, and b back over a.
      expectProblem(await patch(a.id, { start_time: at(70), end_time: at(110) }), 409, 'conflict');
      // A move within its own slot never conflicts with itself.
      const shrink = await patch(a.id, { start_time: at(10), end_time: at(50) });
      expect(shrink.status, JSON.stringify(shrink.body)).toBe(200);
      expect(shrink.roundTrips).toBe(1);
      expect((await patch(b.id, { start_time: at(50) })).status).toBe(200);

      // Reassigning someone else's overlapping appointment to this member.
      const c = (await book({ title: 'c', assigned_to: org.owner.id, start_time: at(100), end_time: at(130) })).body;
      expectProblem(await patch(c.id, { assigned_to: member.id }), 409, 'conflict');
      // Unassigned, it may sit anywhere; assigning it is the check.
      expect((await patch(c.id, { assigned_to: null })).status).toBe(200);
      expectProblem(await patch(c.id, { assigned_to: member.id }), 409, 'conflict');
      expect((await patch(c.id, { assigned_to: member.id, start_time: at(120) })).status).toBe(200);

      // Nothing was half-written by the refused patches.
      const rows = await api('GET', `/v1/orgs/${org.slug}/appointments?assigned_to=${member.id}`, { token: t });
      expect(
        rows.body.data.map((r: { title: string; start_time: string; end_time: string }) => [
          r.title,
          r.start_time,
          r.end_time,
        ]),
      ).toEqual([
        ['c', at(120), at(130)],
        ['b', at(50), at(120)],
        ['a', at(10), at(50)],
      ]);
    });

    it('lets exactly one of ten parallel bookings of one slot win', async () => {
      const member = await joinAs(org, 'member');
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          book({ title: `race ${i}`, assigned_to: member.id, start_time: at(i), end_time: at(60 + i) }),
        ),
      );
      expect(results.map((r) => r.status).sort()).toEqual([201, ...Array(9).fill(409)]);
      const rows = await api('GET', `/v1/orgs/${org.slug}/appointments?assigned_to=${member.id}`, { token: t });
      expect(rows.body.data.length).toBe(1);
      const audit = await api(
        'GET',
        `/v1/orgs/${org.slug}/activity?action=appointment.create&user_id=${org.owner.id}&limit=100`,
        { token: t },
      );
      const titles = audit.body.data
        .map((r: { new_data: { title: string } }) => r.new_data.title)
        .filter((title: string) => title.startsWith('race'));
      expect(titles).toEqual([rows.body.data[0].title]);
    });
  });

  it('lets exactly one of parallel moves into one free slot win', async () => {
    const member = await joinAs(org, 'member');
    const ids = await Promise.all(
      [0, 1, 2, 3, 4].map(
        async (i) =>
          (
            await book({
              title: `move ${i}`,
              assigned_to: member.id,
              start_time: at(1000 + i * 60),
              end_time: at(1030 + i * 60),
            })
          ).body.id as string,
      ),
    );
    const results = await Promise.all(
      ids.map((id) =>
        api('PATCH', `/v1/orgs/${org.slug}/appointments/${id}`, {
          token: t,
          body: { start_time: at(2000), end_time: at(2030) },
        }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409]);
    const there = await api(
      'GET',
      `/v1/orgs/${org.slug}/appointments?assigned_to=${member.id}&from=${at(2000)}&to=${at(2030)}`,
      { token: t },
    );
    expect(there.body.data.length).toBe(1);
  });

  describe('status transitions', () => {
    const allowed: [string, string][] = [
      ['scheduled', 'confirmed'],
      ['scheduled', 'completed'],
      ['scheduled', 'no_show'],
      ['scheduled', 'cancelled'],
      ['confirmed', 'completed'],
      ['confirmed', 'no_show'],
      ['confirmed', 'cancelled'],
    ];
    const refused: [string, string][] = [
      ['confirmed', 'scheduled'],
      ['completed', 'scheduled'],
      ['completed', 'cancelled'],
      ['cancelled', 'scheduled'],
      ['cancelled', 'confirmed'],
      ['no_show', 'completed'],
      ['completed', 'no_show'],
    ];
    const reach = async (status: string) => {
      const id = (
        await book({
          title: 'status',
          start_time: at(5000),
          end_time: at(5030),
          status: status === 'confirmed' ? 'confirmed' : 'scheduled',
        })
      ).body.id;
      if (status !== 'scheduled' && status !== 'confirmed') {
        expect(
          (await api('PATCH', `/v1/orgs/${org.slug}/appointments/${id}`, { token: t, body: { status } })).status,
        ).toBe(200);
      }
      return id;
    };

    it.each(allowed)('%s → %s is allowed', async (from, to) => {
      const id = await reach(from);
      const res = await api('PATCH', `/v1/orgs/${org.slug}/appointments/${id}`, { token: t, body: { status: to } });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.status).toBe(to);
    });

    it.each(refused)('%s → %s is a 409', async (from, to) => {
      const id = await reach(from);
      const res = await api('PATCH', `/v1/orgs/${org.slug}/appointments/${id}`, {
        token: t,
        body: { status: to, title: 'changed' },
      });
      expectProblem(res, 409, 'conflict');
      expect(res.body.detail).toContain(from);
      expect((await api('GET', `/v1/orgs/${org.slug}/appointments/${id}`, { token: t })).body).toMatchObject({
        status: from,
        title: 'status',
      });
    });

    it('keeps a final appointment editable in its other fields', async () => {
      const id = await reach('completed');
      const res = await api('PATCH', `/v1/orgs/${org.slug}/appointments/${id}`, {
        token: t,
        body: { status: 'completed', description: 'went well' },
      });
      expect(res.status).toBe(200);
      expect(res.body.description).toBe('went well');
    });
  });

  it('filters by range overlap, assignee (me), customer and status', async () => {
    const o = await newOrg();
    const tok = o.owner.token;
    const member = await joinAs(o, 'member');
    const customer = (await api('POST', `/v1/orgs/${o.slug}/customers`, { token: tok, body: { name: 'C' } })).body.id;
    const mk = async (title: string, start: number, end: number, extra: Record<string, unknown> = {}) =>
      expect(
        (
          await api('POST', `/v1/orgs/${o.slug}/appointments`, {
            token: tok,
            body: { title, start_time: at(start), end_time: at(end), ...extra },
          })
        ).status,
      ).toBe(201);
    await mk('early', 0, 60, { assigned_to: o.owner.id });
    await mk('middle', 100, 200, { customer_id: customer, assigned_to: member.id });
    await mk('late', 300, 400, { status: 'confirmed' });
    const titles = async (query: string, token = tok) => {
      const res = await api('GET', `/v1/orgs/${o.slug}/appointments?${query}`, { token });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.roundTrips).toBe(1);
      return res.body.data.map((r: { title: string }) => r.title);
    };
    expect(await titles('')).toEqual(['late', 'middle', 'early']);
    // [60, 100) touches both ends: nothing; [59, 101) overlaps both.
    expect(await titles(`from=${at(60)}&to=${at(100)}`)).toEqual([]);
    expect(await titles(`from=${encodeURIComponent('2030-01-07T09:59:00+00:00')}&to=${at(101)}`)).toEqual([
      'middle',
      'early',
    ]);
    expect(await titles(`from=${at(350)}`)).toEqual(['late']);
    expect(await titles(`to=${at(1)}`)).toEqual(['early']);
    // A date is its midnight UTC.
    expect(await titles('from=2030-01-07')).toEqual(['late', 'middle', 'early']);
    expect(await titles('to=2030-01-07')).toEqual([]);
    expect(await titles(`assigned_to=${member.id}`)).toEqual(['middle']);
    expect(await titles('assigned_to=me')).toEqual(['early']);
    expect(await titles(`customer_id=${customer}`)).toEqual(['middle']);
    expect(await titles('status=confirmed')).toEqual(['late']);
    expect(await titles('limit=2')).toEqual(['late', 'middle']);
  });

  it("shows a client user only their customer's appointments, read-only", async () => {
    const o = await newOrg();
    const tok = o.owner.token;
    const client = await joinAs(o, 'member');
    await env.CATALOG.prepare("UPDATE users SET role = 'client' WHERE id = ?").bind(client.id).run();
    const theirs = (
      await api('POST', `/v1/orgs/${o.slug}/customers`, {
        token: tok,
        body: { name: 'Client Co', email: client.email.toUpperCase() },
      })
    ).body.id;
    const others = (
      await api('POST', `/v1/orgs/${o.slug}/customers`, {
        token: tok,
        body: { name: 'Other Co', email: 'other@example.com' },
      })
    ).body.id;
    const mk = async (title: string, customer_id: string | null, start: number) =>
      (
        await api('POST', `/v1/orgs/${o.slug}/appointments`, {
          token: tok,
          body: { title, customer_id, start_time: at(start), end_time: at(start + 30) },
        })
      ).body;
    const mine = await mk('Mine', theirs, 0);
    const notMine = await mk('Not mine', others, 100);
    const nobodys = await mk('Internal', null, 200);

    const list = await api('GET', `/v1/orgs/${o.slug}/appointments`, { token: client.token });
    expect(list.body.data.map((r: { title: string }) => r.title)).toEqual(['Mine']);
    expect((await api('GET', `/v1/orgs/${o.slug}/appointments/${mine.id}`, { token: client.token })).body.title).toBe(
      'Mine',
    );
    for (const id of [notMine.id, nobodys.id]) {
      expectProblem(
        await api('GET', `/v1/orgs/${o.slug}/appointments/${id}`, { token: client.token }),
        404,
        'not_found',
      );
    }
    expectProblem(
      await api('POST', `/v1/orgs/${o.slug}/appointments`, {
        token: client.token,
        body: { title: 'x', start_time: at(0), end_time: at(5) },
      }),
      403,
      'forbidden',
    );
    expectProblem(
      await api('PATCH', `/v1/orgs/${o.slug}/appointments/${mine.id}`, { token: client.token, body: { title: 'x' } }),
      403,
      'forbidden',
    );
    expectProblem(
      await api('DELETE', `/v1/orgs/${o.slug}/appointments/${mine.id}`, { token: client.token }),
      403,
      'forbidden',
    );
  });

  it('answers 403 by role: viewers read, members write, admins delete', async () => {
    const viewer = await joinAs(org, 'viewer');
    const member = await joinAs(org, 'member');
    const id = (await book({ title: 'roles', start_time: at(9000), end_time: at(9030) })).body.id;
    expect((await api('GET', `/v1/orgs/${org.slug}/appointments/${id}`, { token: viewer.token })).status).toBe(200);
    expectProblem(await book({ title: 'x', start_time: at(9000), end_time: at(9030) }, viewer.token), 403, 'forbidden');
    expectProblem(
      await api('PATCH', `/v1/orgs/${org.slug}/appointments/${id}`, { token: viewer.token, body: { title: 'x' } }),
      403,
      'forbidden',
    );
    expect(
      (await api('PATCH', `/v1/orgs/${org.slug}/appointments/${id}`, { token: member.token, body: { title: 'x' } }))
        .status,
    ).toBe(200);
    expectProblem(
      await api('DELETE', `/v1/orgs/${org.slug}/appointments/${id}`, { token: member.token }),
      403,
      'forbidden',
    );
    expect((await api('DELETE', `/v1/orgs/${org.slug}/appointments/${id}`, { token: t })).status).toBe(204);
  });

  it('answers 404 for an appointment of another organization', async () => {
    const other = await newOrg();
    const id = (await book({ title: 'mine', start_time: at(0), end_time: at(5) })).body.id;
    for (const [method, body] of [['GET'], ['PATCH', { title: 'x' }], ['DELETE']] as const) {
      expectProblem(
        await api(method, `/v1/orgs/${other.slug}/appointments/${id}`, { token: other.owner.token, body }),
        404,
        'not_found',
      );
    }
    expect((await api('GET', `/v1/orgs/${org.slug}/appointments/${id}`, { token: t })).body.title).toBe('mine');
  });
});
