// The AI tools catalog (issue 4, "Tools catalog"): read by anyone signed in, written by platform
// admins, marked `available` per the organization's tier.
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { seedAiTools } from './ai-fixtures';
import { api, expectProblem, newOrg, newUser, type TestUser } from './helpers';

let admin: TestUser;
let employee: TestUser;

beforeAll(async () => {
  await seedAiTools();
  admin = await newUser('staff');
  await env.CATALOG.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(admin.id).run();
  employee = await newUser('employee');
});

const tool = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  description: 'Looks something up.',
  tool_type: 'analysis',
  required_tier: 'pro',
  configuration: { parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] } },
  ...extra,
});

describe('the AI tools catalog', () => {
  it('is readable by any signed-in user, and by no one else', async () => {
    const res = await api('GET', '/v1/ai-tools?limit=100', { token: employee.token });
    expect(res.status).toBe(200);
    expect(res.body.data.map((t: { name: string }) => t.name)).toEqual(
      expect.arrayContaining(['Search customers', 'List project tasks', 'Create task']),
    );
    expect(res.body.data.map((t: { function_name: string }) => t.function_name)).toEqual(
      expect.arrayContaining(['search_customers', 'list_project_tasks', 'create_task']),
    );
    expectProblem(await api('GET', '/v1/ai-tools'), 401, 'unauthenticated');
  });

  it('platform admins add and change tools; others get 403 before their input is looked at', async () => {
    const name = `lookup_${crypto.randomUUID().slice(0, 8)}`;
    expectProblem(await api('POST', '/v1/ai-tools', { token: employee.token, body: {} }), 403, 'forbidden');
    const created = await api('POST', '/v1/ai-tools', { token: admin.token, body: tool(name) });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ name, required_tier: 'pro', is_active: true });
    expectProblem(await api('POST', '/v1/ai-tools', { token: admin.token, body: tool(name) }), 409, 'conflict');

    expectProblem(
      await api('PATCH', `/v1/ai-tools/${created.body.id}`, { token: employee.token, body: { is_active: false } }),
      403,
      'forbidden',
    );
    const patched = await api('PATCH', `/v1/ai-tools/${created.body.id}`, {
      token: admin.token,
      body: { is_active: false, required_tier: 'basic' },
    });
    expect(patched.body).toMatchObject({ is_active: false, required_tier: 'basic' });
    expectProblem(
      await api('PATCH', `/v1/ai-tools/${crypto.randomUUID()}`, { token: admin.token, body: { is_active: false } }),
      404,
      'not_found',
    );
  });

  it('is a list like every other: newest first, `limit` and `cursor`, `next_cursor` null on the last page', async () => {
    const names = [];
    for (let n = 0; n < 3; n++) {
      const name = `paged_${n}_${crypto.randomUUID().slice(0, 8)}`;
      expect((await api('POST', '/v1/ai-tools', { token: admin.token, body: tool(name) })).status).toBe(201);
      names.push(name);
    }
    const org = await newOrg();
    for (const path of ['/v1/ai-tools', `/v1/orgs/${org.slug}/ai-tools`]) {
      const token = path.startsWith('/v1/orgs') ? org.owner.token : employee.token;
      const first = await api('GET', `${path}?limit=2`, { token });
      expect(
        first.body.data.map((t: { name: string }) => t.name),
        path,
      ).toEqual([names[2], names[1]]);
      const second = await api('GET', `${path}?limit=1&cursor=${first.body.next_cursor}`, { token });
      expect(second.body.data.map((t: { name: string }) => t.name)).toEqual([names[0]]);
      const all = await api('GET', `${path}?limit=100`, { token });
      expect(all.body.next_cursor).toBeNull();
      expectProblem(await api('GET', `${path}?limit=0`, { token }), 400, 'invalid_request');
    }
  });

  it("takes SCHEMA.md's fields: a free-text name, tool_type and configuration kept as sent; the function name is derived", async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    const configuration = {
      greeting: 'Hello!',
      escalate_to: ['sales@acme.test'],
      parameters: { type: 'object', properties: {} },
    };
    const created = await api('POST', '/v1/ai-tools', {
      token: admin.token,
      body: {
        name: `Sales Chatbot ${tag}`,
        description: 'Answers sales questions.',
        tool_type: 'chatbot',
        required_tier: 'basic',
        configuration,
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({
      name: `Sales Chatbot ${tag}`,
      function_name: `sales_chatbot_${tag}`,
      tool_type: 'chatbot',
      required_tier: 'basic',
      configuration,
      is_active: true,
    });
    // Every tool type of SCHEMA.md, and a tool without description or configuration.
    for (const type of ['analysis', 'automation', 'integration']) {
      const res = await api('POST', '/v1/ai-tools', {
        token: admin.token,
        body: { name: `Réglages ${type} ${tag}`, tool_type: type },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body).toMatchObject({
        function_name: `reglages_${type}_${tag}`,
        tool_type: type,
        description: null,
        configuration: {},
        required_tier: 'free',
      });
    }
    // Another name making the same function name is a conflict; renaming derives it again.
    expectProblem(
      await api('POST', '/v1/ai-tools', {
        token: admin.token,
        body: { name: `sales-chatbot-${tag}`, tool_type: 'chatbot' },
      }),
      409,
      'conflict',
    );
    const renamed = await api('PATCH', `/v1/ai-tools/${created.body.id}`, {
      token: admin.token,
      body: { name: `Support Bot ${tag}` },
    });
    expect(renamed.body).toMatchObject({
      name: `Support Bot ${tag}`,
      function_name: `support_bot_${tag}`,
      configuration,
    });
  });

  it('checks `configuration.parameters` as a JSON Schema object, and refuses a derived function_name with how it is set', async () => {
    const bad = async (body: Record<string, unknown>, field: string) => {
      const res = await api('POST', '/v1/ai-tools', { token: admin.token, body });
      expectProblem(res, 400, 'invalid_request');
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(field);
      return res.body.errors.find((e: { path: string }) => e.path === field).message as string;
    };
    await bad(tool('x', { configuration: { parameters: { type: 'string' } } }), 'configuration.parameters.type');
    await bad(
      tool('x', { configuration: { parameters: { type: 'object', properties: { a: 'string' } } } }),
      'configuration.parameters.properties.a',
    );
    await bad(
      tool('x', { configuration: { parameters: { type: 'object', properties: {}, required: ['a'] } } }),
      'configuration.parameters.required',
    );
    await bad(tool('x', { configuration: { notes: 'x'.repeat(17_000) } }), 'configuration');
    await bad(tool('x', { configuration: ['not', 'an', 'object'] }), 'configuration');
    await bad(tool('日本語'), 'name');
    await bad(tool('x', { tool_type: 'category' }), 'tool_type');
    await bad({ ...tool('x'), tool_type: undefined }, 'tool_type');
    await bad(tool('x', { required_tier: 'platinum' }), 'required_tier');
    expect(await bad(tool('x', { function_name: 'x' }), 'function_name')).toContain('derived from name');
  });

  it("marks each tool available for the organization's tier", async () => {
    const org = await newOrg();
    const available = async () => {
      const res = await api('GET', `/v1/orgs/${org.slug}/ai-tools?limit=100`, { token: org.owner.token });
      expect(res.status).toBe(200);
      return Object.fromEntries(
        res.body.data.map((t: { function_name: string; available: boolean }) => [t.function_name, t.available]),
      );
    };
    expect(await available()).toMatchObject({ search_customers: true, list_project_tasks: true, create_task: false });
    await env.CATALOG.prepare("UPDATE subscriptions SET tier = 'basic' WHERE organization_id = ?").bind(org.id).run();
    // By id rather than slug: a new access cache entry, so a fresh look-up of the tier.
    const res = await api('GET', `/v1/orgs/${org.id}/ai-tools?limit=100`, { token: org.owner.token });
    expect(
      Object.fromEntries(
        res.body.data.map((t: { function_name: string; available: boolean }) => [t.function_name, t.available]),
      ),
    ).toMatchObject({ create_task: true });
  });
});
