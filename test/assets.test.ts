import { createExecutionContext, env, SELF, waitOnExecutionContext } from 'cloudflare:test';
import worker from '../src/index';
import { describe, expect, it } from 'vitest';
import { api, expectProblem, joinAs, newOrg, readResponse, type TestOrg, shardOf, withWriter } from './helpers';

const MB = 1024 * 1024;
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8]);

function upload(
  org: TestOrg,
  name: string,
  body: BodyInit | null,
  contentType: string | null,
  token = org.owner.token,
) {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (contentType) headers['content-type'] = contentType;
  return SELF.fetch(`https://strive.test/v1/orgs/${org.slug}/assets?name=${encodeURIComponent(name)}`, {
    method: 'POST',
    headers,
    body,
  }).then(readResponse);
}

/** The organization holds `bytes` already: an asset's row (bytes not in R2) and its counted usage, as the queue leaves them. */
async function holdStorage(org: TestOrg, bytes: number) {
  const shard = (await shardOf(org.id)).db;
  await shard.batch([
    shard
      .prepare(
        'INSERT INTO assets (id, organization_id, file_name, content_type, size, etag, r2_key) VALUES (?, ?, ' +
          "'held.pdf', 'application/pdf', ?, '\"held\"', 'held')",
      )
      .bind(crypto.randomUUID(), org.id, bytes),
    shard
      .prepare(
        'INSERT INTO usage_tracking (id, organization_id, resource_type, resource_name, usage_amount, ' +
          "billing_period) VALUES (?, ?, 'storage', 'held', ?, '2026-01-01')",
      )
      .bind(crypto.randomUUID(), org.id, bytes),
  ]);
}

const reservations = async (org: TestOrg) =>
  (await (
    await shardOf(org.id)
  ).db
    .prepare('SELECT count(*) AS n FROM storage_reservations WHERE organization_id = ?')
    .bind(org.id)
    .first<{ n: number }>())!.n;

/** A body that streams `total` bytes in 1 MB chunks, with no Content-Length (chunked). */
function chunked(total: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= total) return controller.close();
      const size = Math.min(MB, total - sent);
      sent += size;
      controller.enqueue(new Uint8Array(size));
    },
  });
}

describe('assets', () => {
  it('uploads a file to R2 with a metadata row and its audit row, lists, gets and deletes it', async () => {
    const org = await newOrg();
    await api('GET', `/v1/orgs/${org.slug}`, { token: org.owner.token }); // warms the access cache
    const res = await upload(org, 'logo é.png', PNG, 'image/png');
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.roundTrips).toBe(2); // the storage reservation, then the row with its audit row and the release
    const asset = res.body;
    expect(asset).toMatchObject({
      file_name: 'logo é.png',
      content_type: 'image/png',
      size: PNG.length,
      url: `/v1/public/${org.slug}/assets/${asset.id}`,
    });
    expect(asset).not.toHaveProperty('r2_key');
    const object = await env.ASSETS.get(`orgs/${org.id}/assets/${asset.id}/logo é.png`);
    expect(new Uint8Array(await object!.arrayBuffer())).toEqual(PNG);
    expect(object!.httpEtag).toBe(asset.etag);

    const list = await api('GET', `/v1/orgs/${org.slug}/assets`, { token: org.owner.token });
    expect(list.body.data.map((a: { id: string }) => a.id)).toEqual([asset.id]);
    expect(list.roundTrips).toBe(1);
    expect((await api('GET', `/v1/orgs/${org.slug}/assets/${asset.id}`, { token: org.owner.token })).body).toEqual(
      asset,
    );

    const deleted = await api('DELETE', `/v1/orgs/${org.slug}/assets/${asset.id}`, { token: org.owner.token });
    expect(deleted.status).toBe(204);
    expect(deleted.roundTrips).toBe(1); // the row is read in the batch that deletes it
    expect(await env.ASSETS.head(`orgs/${org.id}/assets/${asset.id}/logo é.png`)).toBeNull();
    expectProblem(
      await api('GET', `/v1/orgs/${org.slug}/assets/${asset.id}`, { token: org.owner.token }),
      404,
      'not_found',
    );
    expectProblem(await api('GET', `/v1/public/${org.slug}/assets/${asset.id}`), 404, 'not_found');
    const log = await api('GET', `/v1/orgs/${org.slug}/activity?resource_id=${asset.id}`, { token: org.owner.token });
    expect(log.body.data.map((r: { action: string }) => r.action)).toEqual(['asset.delete', 'asset.create']);
  });

  it('refuses types off the allow-list with 415', async () => {
    const org = await newOrg();
    for (const type of ['image/svg+xml', 'text/html', 'application/x-msdownload', 'application/json', null]) {
      expectProblem(await upload(org, 'x', PNG, type), 415, 'unsupported_media_type');
    }
    expect((await upload(org, 'notes.txt', 'hello', 'Text/Plain; charset=utf-8')).body.content_type).toBe('text/plain');
  });

  it('refuses files over 25 MB with 413 by their Content-Length, before reading', async () => {
    const org = await newOrg();
    expectProblem(
      await upload(org, 'big.pdf', new Uint8Array(25 * MB + 1), 'application/pdf'),
      413,
      'payload_too_large',
    );
    expect((await api('GET', `/v1/orgs/${org.slug}/assets`, { token: org.owner.token })).body.data).toEqual([]);
    expect((await env.ASSETS.list({ prefix: `orgs/${org.id}/` })).objects).toEqual([]);
  });

  it('refuses a body without Content-Length (chunked) with 411, before reading it or the quota', async () => {
    const org = await newOrg();
    await api('GET', `/v1/orgs/${org.slug}`, { token: org.owner.token }); // warms the access cache
    // Handed to the Worker directly: through SELF, a body the Worker never reads would still be
    // streaming when it answers, and the test's side of the connection would fail.
    const request = new Request(`https://strive.test/v1/orgs/${org.slug}/assets?name=small.pdf`, {
      method: 'POST',
      headers: { authorization: `Bearer ${org.owner.token}`, 'content-type': 'application/pdf' },
      body: chunked(3 * MB),
    });
    expect(request.headers.get('content-length')).toBeNull();
    const context = createExecutionContext();
    const res = await readResponse(await worker.fetch(request, env, context));
    await waitOnExecutionContext(context);
    expectProblem(res, 411, 'length_required');
    expect(res.roundTrips).toBe(0); // not even the quota's sum
    expect((await api('GET', `/v1/orgs/${org.slug}/assets`, { token: org.owner.token })).body.data).toEqual([]);
    expect((await env.ASSETS.list({ prefix: `orgs/${org.id}/` })).objects).toEqual([]);
  });

  it('still limits JSON bodies elsewhere to 1 MB', async () => {
    const org = await newOrg();
    const res = await api('POST', `/v1/orgs/${org.slug}/content`, {
      token: org.owner.token,
      body: { title: 'x', content: 'a'.repeat(MB + 1) },
    });
    expectProblem(res, 413, 'payload_too_large');
  });

  it('refuses bad names and empty files with 400', async () => {
    const org = await newOrg();
    for (const name of ['', 'a/b.png', '..', 'a\\b.png']) {
      const res = await upload(org, name, PNG, 'image/png');
      expectProblem(res, 400, 'invalid_request');
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain('name');
    }
    expectProblem(await upload(org, 'empty.png', new Uint8Array(0), 'image/png'), 400, 'invalid_request');
  });

  it("answers 402 when the tier's storage quota would be passed", async () => {
    const org = await newOrg();
    await holdStorage(org, 100 * MB - 10);
    expectProblem(await upload(org, 'logo.png', PNG, 'image/png'), 402, 'quota_exceeded');
    expect((await env.ASSETS.list({ prefix: `orgs/${org.id}/` })).objects).toEqual([]);
  });

  it('reserves the bytes before reading: racing uploads at the limit store at most the limit', async () => {
    const org = await newOrg();
    await api('GET', `/v1/orgs/${org.slug}`, { token: org.owner.token }); // warms the access cache
    await holdStorage(org, 100 * MB - 3 * MB);
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, n) => upload(org, `part-${n}.pdf`, new Uint8Array(MB), 'application/pdf')),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(3);
    for (const refused of results.filter((r) => r.status !== 201)) expectProblem(refused, 402, 'quota_exceeded');
    const shard = (await shardOf(org.id)).db;
    const stored = await shard
      .prepare('SELECT sum(size) AS bytes, count(*) AS files FROM assets WHERE organization_id = ?')
      .bind(org.id)
      .first<{ bytes: number; files: number }>();
    expect(stored).toEqual({ bytes: 100 * MB, files: 4 });
    expect((await env.ASSETS.list({ prefix: `orgs/${org.id}/` })).objects).toHaveLength(3);
    expect(await reservations(org)).toBe(0); // each released in its row's batch
  });

  it("gives reserved bytes back when the upload fails, and a deleted file's bytes at once", async () => {
    const org = await newOrg();
    await holdStorage(org, 100 * MB - MB);
    // R2 takes the whole body, then fails. The upload runs in the organization's writer: its
    // binding here runs the writer's app (what the object runs) with the failing bucket.
    const context = createExecutionContext();
    const failing = withWriter(
      {
        ...env,
        ASSETS: {
          put: async (_key: string, body: ReadableStream) => {
            await new Response(body).arrayBuffer();
            throw new Error('R2 is down');
          },
        },
      },
      context,
    );
    const request = new Request(`https://strive.test/v1/orgs/${org.slug}/assets?name=a.pdf`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${org.owner.token}`,
        'content-type': 'application/pdf',
        'content-length': String(MB),
      },
      body: new Uint8Array(MB),
    });
    expectProblem(await readResponse(await worker.fetch(request, failing as never, context)), 500, 'internal');
    await waitOnExecutionContext(context);
    expect(await reservations(org)).toBe(0);

    const first = await upload(org, 'a.pdf', new Uint8Array(MB), 'application/pdf');
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expectProblem(await upload(org, 'b.pdf', PNG, 'application/pdf'), 402, 'quota_exceeded');
    // The queue has not counted the upload nor the deletion yet: the quota does not wait for it.
    expect(
      (await api('DELETE', `/v1/orgs/${org.slug}/assets/${first.body.id}`, { token: org.owner.token })).status,
    ).toBe(204);
    expect((await upload(org, 'b.pdf', new Uint8Array(MB), 'application/pdf')).status).toBe(201);
  });

  it('counts uploads in progress, and forgets a reservation whose upload never ended once it lapses', async () => {
    const org = await newOrg();
    const shard = (await shardOf(org.id)).db;
    await shard
      .prepare('INSERT INTO storage_reservations (id, organization_id, bytes, expires_at) VALUES (?, ?, ?, ?)')
      .bind(crypto.randomUUID(), org.id, 100 * MB, new Date(Date.now() + 60_000).toISOString())
      .run();
    expectProblem(await upload(org, 'a.png', PNG, 'image/png'), 402, 'quota_exceeded');
    await shard
      .prepare('UPDATE storage_reservations SET expires_at = ? WHERE organization_id = ?')
      .bind(new Date(Date.now() - 1).toISOString(), org.id)
      .run();
    expect((await upload(org, 'a.png', PNG, 'image/png')).status).toBe(201);
    expect(await reservations(org)).toBe(0); // the lapsed one dropped by the next reservation's batch
  });

  it('lets members upload, viewers only read, admins delete', async () => {
    const org = await newOrg();
    const member = await joinAs(org, 'member');
    const viewer = await joinAs(org, 'viewer');
    expectProblem(await upload(org, 'x.png', PNG, 'image/png', viewer.token), 403, 'forbidden');
    const asset = (await upload(org, 'x.png', PNG, 'image/png', member.token)).body;
    expect((await api('GET', `/v1/orgs/${org.slug}/assets/${asset.id}`, { token: viewer.token })).status).toBe(200);
    expectProblem(
      await api('DELETE', `/v1/orgs/${org.slug}/assets/${asset.id}`, { token: member.token }),
      403,
      'forbidden',
    );
    const other = await newOrg();
    expectProblem(
      await api('GET', `/v1/orgs/${other.slug}/assets/${asset.id}`, { token: other.owner.token }),
      404,
      'not_found',
    );
    expectProblem(
      await api('DELETE', `/v1/orgs/${other.slug}/assets/${asset.id}`, { token: other.owner.token }),
      404,
      'not_found',
    );
    expectProblem(await api('GET', `/v1/public/${other.slug}/assets/${asset.id}`), 404, 'not_found');
  });
});

describe('public asset delivery', () => {
  const text = 'Hello, range requests!';

  it('streams the file with its type, ETag, Cache-Control and nosniff; images inline, others as attachments', async () => {
    const org = await newOrg();
    const txt = (await upload(org, 'notes "1".txt', text, 'text/plain')).body;
    const png = (await upload(org, 'logo.png', PNG, 'image/png')).body;
    const res = await api('GET', txt.url);
    expect(res.status).toBe(200);
    expect(res.body).toBe(text);
    expect(res.roundTrips).toBe(2);
    expect(
      Object.fromEntries(
        [
          'content-type',
          'content-length',
          'etag',
          'accept-ranges',
          'cache-control',
          'x-content-type-options',
          'content-disposition',
          'cross-origin-resource-policy',
          'access-control-allow-origin',
        ].map((h) => [h, res.headers.get(h)]),
      ),
    ).toEqual({
      'content-type': 'text/plain',
      'content-length': String(text.length),
      etag: txt.etag,
      'accept-ranges': 'bytes',
      'cache-control': 'public, max-age=3600',
      'x-content-type-options': 'nosniff',
      'content-disposition': `attachment; filename*=UTF-8''notes%20%221%22.txt`,
      'cross-origin-resource-policy': 'cross-origin',
      'access-control-allow-origin': '*',
    });
    const image = await SELF.fetch(`https://strive.test${png.url}`);
    expect(image.headers.get('content-disposition')).toBe(`inline; filename*=UTF-8''logo.png`);
    expect(new Uint8Array(await image.arrayBuffer())).toEqual(PNG);
  });

  it('answers Range with 206 (start-end, open, suffix), 416 past the end, 304 on If-None-Match', async () => {
    const org = await newOrg();
    const asset = (await upload(org, 'r.txt', text, 'text/plain')).body;
    const get = (headers: Record<string, string>) => api('GET', asset.url, { headers });
    const cases: [string, string, string][] = [
      ['bytes=0-4', 'Hello', `bytes 0-4/${text.length}`],
      ['bytes=7-', text.slice(7), `bytes 7-${text.length - 1}/${text.length}`],
      ['bytes=-9', text.slice(-9), `bytes ${text.length - 9}-${text.length - 1}/${text.length}`],
      ['bytes=7-1000', text.slice(7), `bytes 7-${text.length - 1}/${text.length}`],
    ];
    for (const [range, body, contentRange] of cases) {
      const res = await get({ range });
      expect(res.status, range).toBe(206);
      expect(res.body).toBe(body);
      expect(res.headers.get('content-range')).toBe(contentRange);
      expect(res.headers.get('content-length')).toBe(String(body.length));
    }
    const unsatisfiable = await get({ range: `bytes=${text.length}-` });
    expectProblem(unsatisfiable, 416, 'range_not_satisfiable');
    expect(unsatisfiable.headers.get('content-range')).toBe(`bytes */${text.length}`);
    // A page of another origin may read the range it got.
    const embedded = await get({ range: 'bytes=0-4', origin: 'https://blog.example.com' });
    expect(embedded.headers.get('access-control-expose-headers')).toContain('content-range');
    // A range this endpoint does not serve (several) is ignored: the whole file.
    expect((await get({ range: 'bytes=0-1,3-4' })).status).toBe(200);
    const notModified = await get({ 'if-none-match': asset.etag });
    expect(notModified.status).toBe(304);
    expect(notModified.body).toBe('');
  });
});
