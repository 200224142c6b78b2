// EU residency (issue 16 item 3): for an `eu` organization every kind of storage a path uses is the
// EU-bound one: its shard, its assets' bucket, its board and chat objects (through the namespace's
// jurisdiction('eu'), which workerd does not implement: here the namespace records that it was asked
// and stands in for its EU part), and what leaves through the usage queue is ids and counts.
import { createExecutionContext, env, SELF, waitOnExecutionContext } from 'cloudflare:test';
import worker from '../src/index';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { api, newOrg, readResponse, type TestOrg } from './helpers';

const bindings = env as unknown as Record<string, unknown>;
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]);

type Namespace = {
  jurisdiction: (jurisdiction: string) => unknown;
  get: (id: unknown, options?: { locationHint?: string }) => unknown;
};

const restores: (() => void)[] = [];
afterEach(() => restores.splice(0).forEach((restore) => restore()));

/** Records which jurisdiction and location hint the Worker asks `binding` for. */
function observe(binding: 'KANBAN_BOARD' | 'CHAT_SESSION' | 'ORGANIZATION_WRITER') {
  const namespace = bindings[binding] as Namespace;
  const { jurisdiction, get } = namespace;
  const seen = { jurisdictions: [] as string[], hints: [] as (string | undefined)[] };
  namespace.jurisdiction = (name) => (seen.jurisdictions.push(name), namespace);
  namespace.get = function (id, options) {
    seen.hints.push(options?.locationHint);
    return get.call(this, id, options);
  };
  restores.push(() => {
    namespace.jurisdiction = jurisdiction;
    namespace.get = get;
  });
  return seen;
}

/** A request to the Worker as production configures it: DO_JURISDICTIONS on (the tests' bindings have it off). */
async function asDeployed(method: string, path: string, token: string, body?: unknown) {
  const context = createExecutionContext();
  const request = new Request(`https://strive.test${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const res = await readResponse(await worker.fetch(request, { ...env, DO_JURISDICTIONS: 'on' }, context));
  await waitOnExecutionContext(context);
  return res;
}

let eu: TestOrg;
let weur: TestOrg;
beforeAll(async () => {
  eu = await newOrg(undefined, { data_region: 'eu' });
  weur = await newOrg(undefined, { data_region: 'weur' });
});

const createProject = async (org: TestOrg) =>
  (await api('POST', `/v1/orgs/${org.slug}/projects`, { token: org.owner.token, body: { name: 'Resident' } })).body
    .id as string;

describe('an eu organization', () => {
  it('has its rows on the EU-jurisdiction shard (SHARD_2) only', async () => {
    await api('POST', `/v1/orgs/${eu.slug}/customers`, {
      token: eu.owner.token,
      body: { name: 'Ana', email: 'ana@eu.test' },
    });
    for (const n of [0, 1, 2]) {
      const shard = bindings[`SHARD_${n}`] as D1Database;
      const { count } = (await shard
        .prepare('SELECT count(*) AS count FROM customers WHERE organization_id = ?')
        .bind(eu.id)
        .first<{ count: number }>())!;
      expect(count, `SHARD_${n}`).toBe(n === 2 ? 1 : 0);
    }
  });

  it('keeps its assets in ASSETS_EU, never in ASSETS, and serves them from there', async () => {
    for (const org of [eu, weur]) {
      const res = await SELF.fetch(`https://strive.test/v1/orgs/${org.slug}/assets?name=logo.png`, {
        method: 'POST',
        headers: { authorization: `Bearer ${org.owner.token}`, 'content-type': 'image/png' },
        body: PNG,
      }).then(readResponse);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      const key = `orgs/${org.id}/assets/${res.body.id}/logo.png`;
      const [inEu, inDefault] = [await env.ASSETS_EU.head(key), await env.ASSETS.head(key)];
      expect([!!inEu, !!inDefault]).toEqual(org === eu ? [true, false] : [false, true]);
      const served = await SELF.fetch(`https://strive.test/v1/public/${org.slug}/assets/${res.body.id}`);
      expect(served.status).toBe(200);
      expect(new Uint8Array(await served.arrayBuffer())).toEqual(PNG);
    }
    // Deleting the organization empties its EU bucket's prefix.
    expect((await api('DELETE', `/v1/orgs/${eu.slug}`, { token: eu.owner.token })).status).toBe(204);
    expect((await env.ASSETS_EU.list({ prefix: `orgs/${eu.id}/` })).objects).toEqual([]);
    eu = await newOrg(undefined, { data_region: 'eu' });
  });

  it("makes its board object through KANBAN_BOARD.jurisdiction('eu'); a weur one's near weur", async () => {
    const seen = observe('KANBAN_BOARD');
    for (const org of [eu, weur]) {
      const project = await createProject(org);
      const task = await asDeployed('POST', `/v1/orgs/${org.slug}/projects/${project}/tasks`, org.owner.token, {
        title: 'Placed',
      });
      expect(task.status, JSON.stringify(task.body)).toBe(201);
    }
    expect(seen.jurisdictions).toEqual(['eu']);
    expect(seen.hints).toEqual([undefined, 'weur']);
  });

  it("makes its chat object through CHAT_SESSION.jurisdiction('eu'); a weur one's near weur", async () => {
    const seen = observe('CHAT_SESSION');
    for (const org of [eu, weur]) {
      const base = `/v1/orgs/${org.slug}/conversations`;
      const created = await api('POST', base, {
        token: org.owner.token,
        body: { context_type: 'general', ai_model: 'claude_sonnet' },
      });
      expect(created.status).toBe(201);
      expect((await asDeployed('DELETE', `${base}/${created.body.id}`, org.owner.token)).status).toBe(204);
    }
    expect(seen.jurisdictions).toEqual(['eu']);
    expect(seen.hints).toEqual([undefined, 'weur']);
  });

  it("runs its writes of several trips through ORGANIZATION_WRITER.jurisdiction('eu'); a weur one's near weur", async () => {
    const seen = observe('ORGANIZATION_WRITER');
    for (const org of [eu, weur]) {
      const key = await asDeployed('POST', `/v1/orgs/${org.slug}/api-keys`, org.owner.token, {
        name: 'placed',
        scopes: ['organization:read'],
      });
      expect(key.status, JSON.stringify(key.body)).toBe(201);
      expect(key.farHops).toBe(1);
    }
    expect(seen.jurisdictions).toEqual(['eu']);
    expect(seen.hints).toEqual([undefined, 'weur']);
  });

  it('sends usage events of ids and counts only: no name, email, slug or content of it', async () => {
    const queue = env.USAGE_QUEUE as unknown as { send: (message: unknown, options?: unknown) => Promise<void> };
    const send = queue.send;
    const sent: Record<string, unknown>[] = [];
    queue.send = function (message, options) {
      sent.push(message as Record<string, unknown>);
      return send.call(this, message, options);
    };
    restores.push(() => void (queue.send = send));
    const org = await newOrg(undefined, { data_region: 'eu' });
    await api('POST', `/v1/orgs/${org.slug}/customers`, {
      token: org.owner.token,
      body: { name: 'Personal Name', email: 'personal@eu.test' },
    });
    await SELF.fetch(`https://strive.test/v1/orgs/${org.slug}/assets?name=private-name.png`, {
      method: 'POST',
      headers: { authorization: `Bearer ${org.owner.token}`, 'content-type': 'image/png' },
      body: PNG,
    });
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    const ofOrg = sent.filter((event) => event.organization_id === org.id);
    expect(new Set(ofOrg.map((event) => event.resource_type))).toEqual(new Set(['seats', 'api_calls', 'storage']));
    for (const event of ofOrg) {
      expect(Object.keys(event).sort()).toEqual(
        [
          'id',
          'occurred_at',
          'organization_id',
          'quantity',
          'resource_name',
          'resource_type',
          'shard',
          'user_id',
        ].sort(),
      );
      expect(event).toMatchObject({ id: expect.stringMatching(uuid), shard: 2, quantity: expect.any(Number) });
      expect(event.user_id === null || uuid.test(String(event.user_id))).toBe(true);
      // The name is a route pattern or an asset's id: never a value the organization wrote.
      expect(String(event.resource_name)).toMatch(/^$|^[A-Z]+ \/v1\/orgs\/:org[/:a-z_-]*$|^[0-9a-f-]{36}$/);
      expect(JSON.stringify(event)).not.toMatch(/Personal|personal@|private-name|@/);
      expect(JSON.stringify(event)).not.toContain(org.slug);
    }
  });
});
