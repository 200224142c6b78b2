// AI conversations (issue 4, "Conversations"): CRUD, the context rule, who sees what, filters and
// round trips. The chat itself is in chat-ws.test.ts.
import { describe, expect, it } from 'vitest';
import { env } from 'cloudflare:test';
import { api, expectProblem, joinAs, newOrg, newUser, type TestOrg } from './helpers';

const base = (org: TestOrg) => `/v1/orgs/${org.slug}/conversations`;

async function create(org: TestOrg, body: Record<string, unknown>, token = org.owner.token) {
  return api('POST', base(org), { token, body: { context_type: 'general', ai_model: 'claude_sonnet', ...body } });
}

describe('conversations', () => {
  it('creates, reads, renames, archives and deletes, each in one round trip when warm', async () => {
    const org = await newOrg();
    await api('GET', base(org), { token: org.owner.token }); // warms the isolate's access cache
    const created = await create(org, { title: 'Planning' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({
      title: 'Planning',
      context_type: 'general',
      context_id: null,
      ai_model: 'claude_sonnet',
      conversation_data: [],
      usage_tokens: 0,
      is_archived: false,
      user_id: org.owner.id,
    });
    expect(created.roundTrips).toBe(1);
    const id = created.body.id;

    const read = await api('GET', `${base(org)}/${id}`, { token: org.owner.token });
    expect(read.body).toEqual(created.body);
    expect(read.roundTrips).toBe(1);

    const patched = await api('PATCH', `${base(org)}/${id}`, {
      token: org.owner.token,
      body: { title: 'Q1 planning', is_archived: true },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ title: 'Q1 planning', is_archived: true });
    expect(patched.roundTrips).toBe(1);

    const deleted = await api('DELETE', `${base(org)}/${id}`, { token: org.owner.token });
    expect(deleted.status).toBe(204);
    expect(deleted.roundTrips).toBe(1);
    expectProblem(await api('GET', `${base(org)}/${id}`, { token: org.owner.token }), 404, 'not_found');

    const activity = await api('GET', `/v1/orgs/${org.slug}/activity?resource_id=${id}`, { token: org.owner.token });
    expect(activity.body.data.map((a: { action: string }) => a.action).sort()).toEqual([
      'conversation.create',
      'conversation.delete',
      'conversation.update',
    ]);
  });

  it(
    'links a project, customer or task of the same organization: 400 without or with a stray context_id, 404 for ' +
      'one it does not have',
    async () => {
      const org = await newOrg();
      const other = await newOrg();
      const project = (
        await api('POST', `/v1/orgs/${org.slug}/projects`, { token: org.owner.token, body: { name: 'P' } })
      ).body;
      const customer = (
        await api('POST', `/v1/orgs/${org.slug}/customers`, { token: org.owner.token, body: { name: 'C' } })
      ).body;
      const task = (
        await api('POST', `/v1/orgs/${org.slug}/projects/${project.id}/tasks`, {
          token: org.owner.token,
          body: { title: 'T' },
        })
      ).body;
      const foreign = (
        await api('POST', `/v1/orgs/${other.slug}/projects`, { token: other.owner.token, body: { name: 'X' } })
      ).body;

      for (const [context_type, context_id] of [
        ['project', project.id],
        ['customer', customer.id],
        ['task', task.id],
      ]) {
        const res = await create(org, { context_type, context_id });
        expect(res.status, JSON.stringify(res.body)).toBe(201);
        expect(res.body).toMatchObject({ context_type, context_id });
        expect(res.roundTrips).toBe(2); // the context's look-up, then the batch
      }
      const missing = await create(org, { context_type: 'project' });
      expectProblem(missing, 400, 'invalid_request');
      expect(missing.body.errors[0].path).toBe('context_id');
      const stray = await create(org, { context_type: 'general', context_id: project.id });
      expectProblem(stray, 400, 'invalid_request');
      expect(stray.body.errors[0].path).toBe('context_id');
      expectProblem(await create(org, { context_type: 'project', context_id: foreign.id }), 404, 'not_found');
      expectProblem(await create(org, { context_type: 'customer', context_id: project.id }), 404, 'not_found');
    },
  );

  it(
    'takes every column of the schema a client may set, on create and on change; refuses the derived ones, saying ' +
      'how they are set',
    async () => {
      const org = await newOrg();
      const project = (
        await api('POST', `/v1/orgs/${org.slug}/projects`, { token: org.owner.token, body: { name: 'P' } })
      ).body;
      const plain = await api('POST', base(org), { token: org.owner.token, body: {} });
      expect(plain.status, JSON.stringify(plain.body)).toBe(201);
      expect(plain.body).toMatchObject({
        context_type: 'general',
        context_id: null,
        ai_model: 'openai_gpt4',
        is_archived: false,
        title: null,
      });
      const archived = await create(org, { is_archived: true });
      expect(archived.body.is_archived).toBe(true);

      const patch = (body: Record<string, unknown>) =>
        api('PATCH', `${base(org)}/${plain.body.id}`, { token: org.owner.token, body });
      const about = await patch({ ai_model: 'gemini', context_type: 'project', context_id: project.id });
      expect(about.status, JSON.stringify(about.body)).toBe(200);
      expect(about.body).toMatchObject({ ai_model: 'gemini', context_type: 'project', context_id: project.id });
      expect((await patch({ context_type: 'general' })).body).toMatchObject({
        context_type: 'general',
        context_id: null,
      });
      const alone = await patch({ context_id: project.id });
      expectProblem(alone, 400, 'invalid_request');
      expect(alone.body.errors[0].path).toBe('context_type');
      expectProblem(await patch({ context_type: 'customer', context_id: project.id }), 404, 'not_found');

      const derived = await create(org, { conversation_data: [], usage_tokens: 5, user_id: org.owner.id });
      expectProblem(derived, 400, 'invalid_request');
      expect(derived.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
        'conversation_data',
        'usage_tokens',
        'user_id',
      ]);
      expect(derived.body.errors.find((e: { path: string }) => e.path === 'conversation_data').message).toMatch(
        /^Read-only: each turn appends/,
      );
    },
  );

  it('validates every field', async () => {
    const org = await newOrg();
    const res = await api('POST', base(org), {
      token: org.owner.token,
      body: { context_type: 'weather', ai_model: 'gpt-9', context_id: 'x', title: '', extra: 1 },
    });
    expectProblem(res, 400, 'invalid_request');
    expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
      'ai_model',
      'context_id',
      'context_type',
      'extra',
      'title',
    ]);
    const { body } = await create(org, {});
    const patch = await api('PATCH', `${base(org)}/${body.id}`, {
      token: org.owner.token,
      body: { is_archived: 'yes', ai_model: 'gpt-9' },
    });
    expectProblem(patch, 400, 'invalid_request');
    expect(patch.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['ai_model', 'is_archived']);
    const message = await api('POST', `${base(org)}/${body.id}/messages`, {
      token: org.owner.token,
      body: { content: 'x'.repeat(8001) },
    });
    expectProblem(message, 400, 'invalid_request');
    expect(message.body.errors[0].path).toBe('content');
    expectProblem(await api('GET', `${base(org)}?archived=maybe`, { token: org.owner.token }), 400, 'invalid_request');
  });

  it("a member sees and changes only their own conversations; admins see all of the organization's; viewers read", async () => {
    const org = await newOrg();
    const bob = await joinAs(org, 'member');
    const carol = await joinAs(org, 'member');
    const admin = await joinAs(org, 'admin');
    const viewer = await joinAs(org, 'viewer');
    const bobs = (await create(org, { title: 'bob' }, bob.token)).body;
    const carols = (await create(org, { title: 'carol' }, carol.token)).body;

    const list = async (token: string) =>
      (await api('GET', base(org), { token })).body.data.map((c: { id: string }) => c.id);
    expect(await list(bob.token)).toEqual([bobs.id]);
    expect(await list(admin.token)).toEqual([carols.id, bobs.id]);
    expect(await list(viewer.token)).toEqual([]);

    expectProblem(await api('GET', `${base(org)}/${carols.id}`, { token: bob.token }), 404, 'not_found');
    expectProblem(
      await api('PATCH', `${base(org)}/${carols.id}`, { token: bob.token, body: { title: 'mine now' } }),
      404,
      'not_found',
    );
    expectProblem(
      await api('POST', `${base(org)}/${carols.id}/messages`, { token: bob.token, body: { content: 'hi' } }),
      404,
      'not_found',
    );
    expectProblem(await api('DELETE', `${base(org)}/${carols.id}`, { token: bob.token }), 403, 'forbidden');
    expect((await api('GET', `${base(org)}/${carols.id}`, { token: carol.token })).body.title).toBe('carol');
    expect((await api('GET', `${base(org)}/${carols.id}`, { token: admin.token })).status).toBe(200);
    expect(
      (await api('PATCH', `${base(org)}/${carols.id}`, { token: admin.token, body: { is_archived: true } })).status,
    ).toBe(200);
    expectProblem(await create(org, {}, viewer.token), 403, 'forbidden');
    expect((await api('DELETE', `${base(org)}/${bobs.id}`, { token: admin.token })).status).toBe(204);
  });

  it('platform staff (global admin) read every conversation of any organization, write none, and each read is audited', async () => {
    const org = await newOrg();
    const bob = await joinAs(org, 'member');
    const bobs = (await create(org, { title: 'bob' }, bob.token)).body;
    const staff = await newUser('staff');
    await env.CATALOG.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(staff.id).run();
    expect((await api('GET', base(org), { token: staff.token })).body.data.map((c: { id: string }) => c.id)).toEqual([
      bobs.id,
    ]);
    expect((await api('GET', `${base(org)}/${bobs.id}`, { token: staff.token })).body.title).toBe('bob');
    expectProblem(
      await api('PATCH', `${base(org)}/${bobs.id}`, { token: staff.token, body: { title: 'staff was here' } }),
      403,
      'forbidden',
    );
    expectProblem(
      await api('POST', `${base(org)}/${bobs.id}/messages`, { token: staff.token, body: { content: 'hi' } }),
      403,
      'forbidden',
    );
    const audit = await api('GET', `/v1/orgs/${org.slug}/activity?user_id=${staff.id}`, { token: org.owner.token });
    expect(audit.body.data.length).toBeGreaterThanOrEqual(2);
  });

  it('lists newest first in one query, filtered by context and archived, page by page', async () => {
    const org = await newOrg();
    const project = (
      await api('POST', `/v1/orgs/${org.slug}/projects`, { token: org.owner.token, body: { name: 'P' } })
    ).body;
    const general = (await create(org, {})).body;
    const about = (await create(org, { context_type: 'project', context_id: project.id })).body;
    const archived = (await create(org, {})).body;
    await api('PATCH', `${base(org)}/${archived.id}`, { token: org.owner.token, body: { is_archived: true } });

    const all = await api('GET', `${base(org)}?limit=2`, { token: org.owner.token });
    expect(all.roundTrips).toBe(1);
    expect(all.body.data.map((c: { id: string }) => c.id)).toEqual([archived.id, about.id]);
    const rest = await api('GET', `${base(org)}?limit=2&cursor=${all.body.next_cursor}`, { token: org.owner.token });
    expect(rest.body).toMatchObject({ data: [{ id: general.id }], next_cursor: null });

    const ids = async (query: string) =>
      (await api('GET', `${base(org)}?${query}`, { token: org.owner.token })).body.data.map(
        (c: { id: string }) => c.id,
      );
    expect(await ids('context_type=project')).toEqual([about.id]);
    expect(await ids(`context_id=${project.id}`)).toEqual([about.id]);
    expect(await ids('archived=true')).toEqual([archived.id]);
    expect(await ids('archived=false')).toEqual([about.id, general.id]);
  });
});
