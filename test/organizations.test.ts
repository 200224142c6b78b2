// Deleting an organization deletes all of it: every shard row, every R2 object, every cached
// public answer; renaming it stops the cached answers under its old slug; one user owns a
// bounded number of them.
import { createExecutionContext, env, SELF, waitOnExecutionContext } from 'cloudflare:test';
import { getTableName } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { createApp } from '../src/app';
import { countOnShard } from '../src/modules/usage/consumer';
import { TENANT_TABLES } from '../src/modules/organizations/service';
import type { SubscriptionStatus } from '../src/db/enums';
import { D1Sessions } from '../src/db/sessions';
import { catalogDb, shardCount } from '../src/db/shards';
import { subscriptionEffect } from '../src/modules/billing/service';
import {
  api,
  deliver,
  expectProblem,
  joinAs,
  newOrg,
  newUser,
  readResponse,
  usageEvent,
  type TestOrg,
  shardOf,
  tenantTableNames,
} from './helpers';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const shards = Array.from(
  { length: shardCount(env) },
  (_, n) => (env as unknown as Record<string, D1Database>)[`SHARD_${n}`]!,
);

/** The organization's row count per tenant table, over every shard. */
async function rowsOf(organizationId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of await tenantTableNames()) {
    counts[table] = 0;
    for (const shard of shards) {
      counts[table] += (await shard
        .prepare(`SELECT count(*) AS n FROM ${table} WHERE organization_id = ?`)
        .bind(organizationId)
        .first<{ n: number }>())!.n;
    }
  }
  return counts;
}

const objectsOf = async (organizationId: string) =>
  (await env.ASSETS.list({ prefix: `orgs/${organizationId}/` })).objects.length;

/** Content, a customer with a project and a task, an appointment, an asset, usage events: rows in most tables. */
async function populate(org: TestOrg) {
  const t = org.owner.token;
  const shard = (await shardOf(org.id)).n;
  const ok = async (res: Promise<{ status: number; body: any }>) => {
    const r = await res;
    expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
    return r.body;
  };
  const customer = await ok(api('POST', `/v1/orgs/${org.slug}/customers`, { token: t, body: { name: 'C' } }));
  const project = await ok(
    api('POST', `/v1/orgs/${org.slug}/projects`, { token: t, body: { name: 'P', customer_id: customer.id } }),
  );
  await ok(api('POST', `/v1/orgs/${org.slug}/projects/${project.id}/tasks`, { token: t, body: { title: 'T' } }));
  const item = await ok(
    api('POST', `/v1/orgs/${org.slug}/content`, { token: t, body: { title: 'Post', content_type: 'blog_post' } }),
  );
  await ok(api('POST', `/v1/orgs/${org.slug}/content/${item.id}/publish`, { token: t, body: {} }));
  const start = new Date(Date.now() + 86_400_000);
  await ok(
    api('POST', `/v1/orgs/${org.slug}/appointments`, {
      token: t,
      body: {
        title: 'A',
        start_time: start.toISOString(),
        end_time: new Date(start.getTime() + 3_600_000).toISOString(),
      },
    }),
  );
  await ok(
    SELF.fetch(`https://strive.test/v1/orgs/${org.slug}/assets?name=a.txt`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t}`, 'content-type': 'text/plain' },
      body: 'bytes',
    }).then(readResponse),
  );
  await countOnShard(shards[shard]!, [
    usageEvent(org.id, shard),
    usageEvent(org.id, shard, { resource_type: 'storage' }),
  ]);
  const dead = usageEvent(org.id, shard);
  await env.CATALOG.prepare(
    "INSERT INTO usage_dead_letters (id, organization_id, event, reason, attempts) VALUES (?, ?, ?, 'test', 5)",
  )
    .bind(dead.id, org.id, JSON.stringify(dead))
    .run();
}

const deadLettersOf = (organizationId: string) =>
  env.CATALOG.prepare('SELECT count(*) AS n FROM usage_dead_letters WHERE organization_id = ?')
    .bind(organizationId)
    .first('n');

describe('deleting an organization', () => {
  it('names every shard table with an organization_id', async () => {
    expect(TENANT_TABLES.map(getTableName).sort()).toEqual(await tenantTableNames());
  });

  it('leaves no shard row and no R2 object of it, and nothing of another organization is touched', async () => {
    const org = await newOrg();
    const other = await newOrg();
    await populate(org);
    await populate(other);
    // Usage events of the requests above reach the shard through the queue (batches of ≤ 2 s):
    // let them land first. Counted while the DELETE runs (after its shard batch, before its
    // catalog delete) they could still leave rows, the window the consumer's catalog check leaves
    // open; and the other organization's rows must hold still to be compared.
    await sleep(2500);
    const before = await rowsOf(org.id);
    for (const table of [
      'assets',
      'usage_events',
      'usage_tracking',
      'content',
      'customers',
      'projects',
      'tasks',
      'appointments',
      'activity_logs',
    ]) {
      expect(before[table], table).toBeGreaterThan(0);
    }
    expect(await objectsOf(org.id)).toBe(1);
    const othersRows = await rowsOf(other.id);
    const shard = (await shardOf(org.id)).n;

    const res = await api('DELETE', `/v1/orgs/${org.slug}`, { token: org.owner.token });
    expect(res.status).toBe(204);
    expect(
      Object.values(await rowsOf(org.id)).every((n) => n === 0),
      JSON.stringify(await rowsOf(org.id)),
    ).toBe(true);
    expect(await objectsOf(org.id)).toBe(0);
    expect(
      await env.CATALOG.prepare('SELECT count(*) AS n FROM organizations WHERE id = ?').bind(org.id).first('n'),
    ).toBe(0);
    expect(await deadLettersOf(org.id)).toBe(0);
    // An event queued before the deletion and delivered after it (like the DELETE's own
    // api_calls event) is acknowledged and counts nothing.
    const late = await deliver('strive-usage', [
      usageEvent(org.id, shard),
      usageEvent(org.id, shard, { resource_type: 'storage' }),
    ]);
    expect(late.acked).toEqual([0, 1]);
    expect(
      Object.values(await rowsOf(org.id)).every((n) => n === 0),
      JSON.stringify(await rowsOf(org.id)),
    ).toBe(true);
    expectProblem(await api('GET', `/v1/orgs/${org.slug}`, { token: org.owner.token }), 404, 'not_found');

    expect(await rowsOf(other.id)).toEqual(othersRows);
    expect(await objectsOf(other.id)).toBe(1);
    expect(await deadLettersOf(other.id)).toBe(1);
  });

  it('deletes R2 objects a page (1000 keys) at a time, orphans included', async () => {
    const org = await newOrg();
    // Objects no row names (an asset whose object delete failed) go too, past one list page.
    await Promise.all(
      Array.from({ length: 1005 }, (_, n) => env.ASSETS.put(`orgs/${org.id}/assets/orphan-${n}/x.txt`, 'x')),
    );
    expect((await api('DELETE', `/v1/orgs/${org.slug}`, { token: org.owner.token })).status).toBe(204);
    expect(await objectsOf(org.id)).toBe(0);
    // 1005 puts, two list pages and their deletes: ~14 s on an idle machine, more on a busy one.
  }, 90_000);
});

describe('the public cache and the organization', () => {
  async function published(org: TestOrg) {
    const item = await api('POST', `/v1/orgs/${org.slug}/content`, {
      token: org.owner.token,
      body: { title: 'Hello', content_type: 'blog_post' },
    });
    await api('POST', `/v1/orgs/${org.slug}/content/${item.body.id}/publish`, { token: org.owner.token, body: {} });
  }
  const warm = async (slug: string) => {
    for (const path of ['/content', '/content/hello', '/feed.xml']) {
      await api('GET', `/v1/public/${slug}${path}`);
      expect((await api('GET', `/v1/public/${slug}${path}`)).headers.get('x-cache'), path).toBe('hit');
    }
  };

  it('stops serving the old slug when the slug changes, and serves the new one', async () => {
    const org = await newOrg();
    await published(org);
    await warm(org.slug);
    const renamed = `${org.slug}-new`;
    expect(
      (await api('PATCH', `/v1/orgs/${org.slug}`, { token: org.owner.token, body: { slug: renamed } })).status,
    ).toBe(200);
    for (const path of ['/content', '/content/hello', '/feed.xml'])
      expectProblem(await api('GET', `/v1/public/${org.slug}${path}`), 404, 'not_found');
    expect((await api('GET', `/v1/public/${renamed}/content/hello`)).status).toBe(200);
    expect((await api('GET', `/v1/public/${renamed}/content`)).body.data).toHaveLength(1);
  });

  it('shows a new name in the cached feed at once', async () => {
    const org = await newOrg();
    await published(org);
    await warm(org.slug);
    expect(
      (await api('PATCH', `/v1/orgs/${org.slug}`, { token: org.owner.token, body: { name: 'Renamed & Co' } })).status,
    ).toBe(200);
    expect((await api('GET', `/v1/public/${org.slug}/feed.xml`)).body).toContain('<title>Renamed &amp; Co</title>');
  });

  it('answers 404 for every public URL of a deleted organization', async () => {
    const org = await newOrg();
    await published(org);
    await warm(org.slug);
    expect((await api('DELETE', `/v1/orgs/${org.slug}`, { token: org.owner.token })).status).toBe(204);
    for (const path of ['/content', '/content/hello', '/feed.xml'])
      expectProblem(await api('GET', `/v1/public/${org.slug}${path}`), 404, 'not_found');
  });
});

describe("the organization's fields (SCHEMA.md)", () => {
  const DERIVED = 'derived from the subscription';

  it('takes settings and billing_email on create, and returns every column under its name; internal ones never', async () => {
    const owner = (await newOrg()).owner;
    const slug = `fields-${crypto.randomUUID().slice(0, 8)}`;
    const settings = { timezone: 'Europe/Paris', locale: 'fr', features: { kanban: true } };
    const created = await api('POST', '/v1/orgs', {
      token: owner.token,
      body: {
        name: 'Fields Inc.',
        slug,
        description: 'All of them.',
        settings,
        billing_email: ' Billing@Fields.TEST ',
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({
      slug,
      settings,
      billing_email: 'billing@fields.test',
      subscription_status: 'active',
    });
    // A viewer reads the row as the schema has it; the shard, the creator and Stripe's ids stay inside.
    const org = { id: created.body.id, slug, owner };
    const viewer = await joinAs(org, 'viewer');
    await env.CATALOG.prepare(
      "UPDATE organizations SET stripe_customer_id = 'cus_internal', stripe_checkout_session_id = 'cs_internal' WHERE id = ?",
    )
      .bind(org.id)
      .run();
    const read = await api('GET', `/v1/orgs/${slug}`, { token: viewer.token });
    expect(read.status).toBe(200);
    expect(Object.keys(read.body).sort()).toEqual([
      'billing_email',
      'created_at',
      'data_region',
      'description',
      'id',
      'logo_url',
      'name',
      'role',
      'settings',
      'slug',
      'subscription_status',
      'updated_at',
      'website',
    ]);
    expect(JSON.stringify(read.body)).not.toContain('_internal');
  });

  it('lets whoever may edit the organization change billing_email, validated as an email; a viewer may not', async () => {
    const org = await newOrg();
    const viewer = await joinAs(org, 'viewer');
    const patched = await api('PATCH', `/v1/orgs/${org.slug}`, {
      token: org.owner.token,
      body: { billing_email: 'accounts@example.com' },
    });
    expect(patched.body.billing_email).toBe('accounts@example.com');
    const invalid = await api('PATCH', `/v1/orgs/${org.slug}`, {
      token: org.owner.token,
      body: { billing_email: 'not an email' },
    });
    expectProblem(invalid, 400, 'invalid_request');
    expect(invalid.body.errors[0].path).toBe('billing_email');
    expectProblem(
      await api('PATCH', `/v1/orgs/${org.slug}`, { token: viewer.token, body: { billing_email: 'mine@example.com' } }),
      403,
      'forbidden',
    );
    expect(
      (await api('PATCH', `/v1/orgs/${org.slug}`, { token: org.owner.token, body: { billing_email: null } })).body
        .billing_email,
    ).toBeNull();
  });

  it('refuses settings over 16 KB or not an object, on create as on PATCH', async () => {
    const org = await newOrg();
    const big = { notes: 'x'.repeat(17_000) };
    for (const [method, path] of [
      ['POST', '/v1/orgs'],
      ['PATCH', `/v1/orgs/${org.slug}`],
    ] as const) {
      for (const settings of [big, ['a'], 'nope']) {
        const res = await api(method, path, { token: org.owner.token, body: { name: 'Too much', settings } });
        expectProblem(res, 400, 'invalid_request');
        expect(
          res.body.errors.map((e: { path: string }) => e.path),
          method,
        ).toContain('settings');
      }
    }
  });

  it(
    'refuses subscription_status with a 400 that says it is derived, and derives trial, active and inactive from ' +
      'the subscription',
    async () => {
      const org = await newOrg();
      for (const value of ['active', 'inactive', 'trial']) {
        for (const [method, path] of [
          ['POST', '/v1/orgs'],
          ['PATCH', `/v1/orgs/${org.slug}`],
        ] as const) {
          const res = await api(method, path, {
            token: org.owner.token,
            body: { name: 'Derived', subscription_status: value },
          });
          expectProblem(res, 400, 'invalid_request');
          expect(res.body.errors).toEqual([{ path: 'subscription_status', message: expect.stringContaining(DERIVED) }]);
        }
      }
      const statusAfter = async (status: string) => {
        const catalog = catalogDb(env, D1Sessions.primary(env));
        await catalog.batch([
          ...subscriptionEffect(
            catalog,
            org.id,
            { status: status as SubscriptionStatus },
            { kind: 'checkout', subscriptionId: 'sub_x' },
          ),
        ]);
        return (await api('GET', `/v1/orgs/${org.slug}`, { token: org.owner.token })).body.subscription_status;
      };
      expect(await statusAfter('trialing')).toBe('trial');
      expect(await statusAfter('past_due')).toBe('active');
      expect(await statusAfter('unpaid')).toBe('inactive');
      expect(await statusAfter('cancelled')).toBe('inactive');
      expect(await statusAfter('active')).toBe('active');
    },
  );
});

describe('organizations a user owns', () => {
  /** POST /v1/orgs on a worker whose MAX_OWNED_ORGANIZATIONS is `max`. */
  async function create(token: string, max: string) {
    const ctx = createExecutionContext();
    const response = await createApp().request(
      'https://strive.test/v1/orgs',
      {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `Owned ${crypto.randomUUID().slice(0, 8)}` }),
      },
      { ...env, MAX_OWNED_ORGANIZATIONS: max },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    return readResponse(response, { method: 'POST', path: '/v1/orgs' });
  }

  it('are capped: concurrent creations past MAX_OWNED_ORGANIZATIONS are 403, and nothing of them is written', async () => {
    const user = await newUser('founder');
    const answers = await Promise.all(Array.from({ length: 5 }, () => create(user.token, '2')));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(2);
    for (const refused of answers.filter((a) => a.status !== 201)) {
      expectProblem(refused, 403, 'forbidden');
      expect(refused.body.detail).toContain('You own 2 organizations');
    }
    const owned = await env.CATALOG.prepare(
      "SELECT count(*) AS n FROM organization_members WHERE user_id = ? AND role = 'owner'",
    )
      .bind(user.id)
      .first<{ n: number }>();
    expect(owned!.n).toBe(2);
    const orphans = await env.CATALOG.prepare(
      'SELECT count(*) AS n FROM subscriptions WHERE organization_id NOT IN (SELECT id FROM organizations)',
    ).first<{ n: number }>();
    expect(orphans!.n).toBe(0);

    // Deleting one frees its place; another user is not affected.
    const first = answers.find((a) => a.status === 201)!.body;
    expect((await api('DELETE', `/v1/orgs/${first.slug}`, { token: user.token })).status).toBe(204);
    expect((await create(user.token, '2')).status).toBe(201);
    expect((await create((await newUser('other')).token, '2')).status).toBe(201);
  });

  it('are 10 at most by default (wrangler.toml)', async () => {
    const user = await newUser('founder');
    for (let n = 0; n < 10; n++) await newOrg(user);
    expectProblem(await api('POST', '/v1/orgs', { token: user.token, body: { name: 'Eleventh' } }), 403, 'forbidden');
  });
});
