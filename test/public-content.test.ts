import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, expectProblem, newOrg, type TestOrg } from './helpers';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function post(org: TestOrg, body: Record<string, unknown>, publish?: { published_at?: string }) {
  const created = await api('POST', `/v1/orgs/${org.slug}/content`, {
    token: org.owner.token,
    body: { content_type: 'blog_post', ...body },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  if (publish) {
    const published = await api('POST', `/v1/orgs/${org.slug}/content/${created.body.id}/publish`, {
      token: org.owner.token,
      body: publish,
    });
    expect(published.status, JSON.stringify(published.body)).toBe(200);
  }
  return created.body as { id: string; slug: string };
}

const pub = (org: TestOrg, path: string, headers?: Record<string, string>) =>
  api('GET', `/v1/public/${org.slug}${path}`, { headers });
const slugsOf = (res: { body: { data: { slug: string }[] } }) => res.body.data.map((item) => item.slug);
/** The cache entry of an item as public-cache.ts keys it. */
const itemEntry = (org: TestOrg, slug: string, format = 'json') =>
  caches.default.match(`https://public-cache.strive.internal/${org.slug}/item/${slug}?format=${format}`);

afterEach(() => {
  vi.restoreAllMocks();
});

describe('public content', () => {
  it('serves a published item as JSON and as a sanitised fragment; a hit costs no D1 round trip', async () => {
    const org = await newOrg();
    await post(org, { title: 'Hello <World>', content: 'Hi **there**<img src=x onerror=alert(1)>', excerpt: 'E' }, {});
    const miss = await pub(org, '/content/hello-world');
    expect(miss.status, JSON.stringify(miss.body)).toBe(200);
    expect(miss.roundTrips).toBe(2); // the catalog's slug → shard look-up, then the shard
    expect(miss.headers.get('x-cache')).toBe('miss');
    expect(miss.body).toMatchObject({
      slug: 'hello-world',
      title: 'Hello <World>',
      excerpt: 'E',
      html: '<p>Hi <strong>there</strong></p>',
    });
    expect(miss.body).not.toHaveProperty('content');
    expect(miss.body).not.toHaveProperty('author_id');

    const hit = await pub(org, '/content/hello-world');
    expect(hit.roundTrips).toBe(0);
    expect(hit.headers.get('x-cache')).toBe('hit');
    expect(hit.body).toEqual(miss.body);
    expect(hit.headers.get('etag')).toBe(miss.headers.get('etag'));
    expect(hit.headers.get('cache-control')).toBe('public, max-age=0, must-revalidate');
    expect(hit.headers.get('access-control-allow-origin')).toBe('*');
    expect(hit.headers.get('cross-origin-resource-policy')).toBe('cross-origin');

    // A hit is one Cache API look-up (the item's own key), nothing else of the cache.
    const lookups = vi.spyOn(caches.default, 'match');
    const writes = vi.spyOn(caches.default, 'put');
    expect((await pub(org, '/content/hello-world')).headers.get('x-cache')).toBe('hit');
    expect(lookups).toHaveBeenCalledTimes(1);
    expect(writes).not.toHaveBeenCalled();
    vi.restoreAllMocks();

    // Parameters the endpoint does not know are not part of the key: still a hit.
    expect((await pub(org, '/content/hello-world?utm_source=x')).roundTrips).toBe(0);

    const fragment = await pub(org, '/content/hello-world?format=html');
    expect(fragment.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(fragment.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(fragment.headers.get('content-security-policy')).toContain('sandbox');
    expect(fragment.body).toBe(
      '<article class="strive-content" data-strive-slug="hello-world"><h1>Hello &lt;World&gt;</h1>\n<p>Hi ' +
        '<strong>there</strong></p>\n</article>',
    );
    expect((await pub(org, '/content/hello-world?format=html')).roundTrips).toBe(0);
  });

  it('answers 304 to If-None-Match, from the cache', async () => {
    const org = await newOrg();
    await post(org, { title: 'Cached' }, {});
    const first = await pub(org, '/content/cached');
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    const again = await pub(org, '/content/cached', { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.body).toBe('');
    expect(again.roundTrips).toBe(0);
    expect(again.headers.get('etag')).toBe(etag);
    expect((await pub(org, '/content/cached', { 'if-none-match': '"other"' })).status).toBe(200);
    const list = await pub(org, '/content');
    expect((await pub(org, '/content', { 'if-none-match': `W/${list.headers.get('etag')}` })).status).toBe(304);
  });

  it("never shows drafts, archived items or another organization's content; unknown organizations are 404", async () => {
    const org = await newOrg();
    const other = await newOrg();
    await post(org, { title: 'Draft' });
    const archived = await post(org, { title: 'Archived' }, {});
    await api('POST', `/v1/orgs/${org.slug}/content/${archived.id}/archive`, { token: org.owner.token });
    await post(other, { title: 'Theirs' }, {});
    expect(slugsOf(await pub(org, '/content'))).toEqual([]);
    for (const slug of ['draft', 'archived', 'theirs'])
      expectProblem(await pub(org, `/content/${slug}`), 404, 'not_found');
    expectProblem(await api('GET', '/v1/public/no-such-org/content'), 404, 'not_found');
    expectProblem(await api('GET', '/v1/public/no-such-org/content/x'), 404, 'not_found');
    expectProblem(await api('GET', '/v1/public/no-such-org/feed.xml'), 404, 'not_found');
    expectProblem(await pub(org, '/content?type=nope'), 400, 'invalid_request');
  });

  it('lists by type with a cursor, newest first, and a hit is 0 round trips', async () => {
    const org = await newOrg();
    for (const title of ['One', 'Two', 'Three']) await post(org, { title }, {});
    await post(org, { title: 'A page', content_type: 'page' }, {});
    const first = await pub(org, '/content?type=blog_post&limit=2');
    expect(first.roundTrips).toBe(2);
    expect(slugsOf(first)).toEqual(['three', 'two']);
    const second = await pub(org, `/content?type=blog_post&limit=2&cursor=${first.body.next_cursor}`);
    expect(slugsOf(second)).toEqual(['one']);
    expect(second.body.next_cursor).toBeNull();
    expect(slugsOf(await pub(org, '/content?type=page'))).toEqual(['a-page']);
    expect(slugsOf(await pub(org, '/content'))).toEqual(['a-page', 'three', 'two', 'one']);
    expect((await pub(org, '/content?type=blog_post&limit=2')).roundTrips).toBe(0);
  });

  it('purges on publish, edit of a published item, unpublish and archive, so each change shows at once', async () => {
    const org = await newOrg();
    const t = org.owner.token;
    const item = await post(org, { title: 'News', content: 'v1' });
    const lists = ['/content', '/content?type=blog_post', '/feed.xml'];
    const prime = async () => {
      for (const path of [...lists, '/content/news', '/content/news?format=html']) await pub(org, path);
    };

    await prime(); // caches the 404 and empty lists
    expect((await pub(org, '/content/news')).status).toBe(404);
    await api('POST', `/v1/orgs/${org.slug}/content/${item.id}/publish`, { token: t });
    expect((await pub(org, '/content/news')).body.html).toBe('<p>v1</p>');
    expect(await pub(org, '/content/news?format=html')).toMatchObject({ status: 200 });
    expect(slugsOf(await pub(org, '/content'))).toEqual(['news']);
    expect(slugsOf(await pub(org, '/content?type=blog_post'))).toEqual(['news']);
    expect((await pub(org, '/feed.xml')).body).toContain('<title>News</title>');

    await prime();
    const edited = await api('PATCH', `/v1/orgs/${org.slug}/content/${item.id}`, {
      token: t,
      body: { title: 'News!', content: 'v2' },
    });
    expect(edited.status).toBe(200);
    expect((await pub(org, '/content/news')).body).toMatchObject({ title: 'News!', html: '<p>v2</p>' });
    expect((await pub(org, '/content/news?format=html')).body).toContain('<p>v2</p>');
    expect((await pub(org, '/content')).body.data[0].title).toBe('News!');
    expect((await pub(org, '/feed.xml')).body).toContain('<title>News!</title>');

    await prime();
    await api('POST', `/v1/orgs/${org.slug}/content/${item.id}/unpublish`, { token: t });
    expectProblem(await pub(org, '/content/news'), 404, 'not_found');
    expectProblem(await pub(org, '/content/news?format=html'), 404, 'not_found');
    expect(slugsOf(await pub(org, '/content'))).toEqual([]);
    expect((await pub(org, '/feed.xml')).body).not.toContain('News');

    await api('POST', `/v1/orgs/${org.slug}/content/${item.id}/publish`, { token: t });
    await prime();
    await api('POST', `/v1/orgs/${org.slug}/content/${item.id}/archive`, { token: t });
    expectProblem(await pub(org, '/content/news'), 404, 'not_found');
    expect(slugsOf(await pub(org, '/content?type=blog_post'))).toEqual([]);
    expect((await pub(org, '/feed.xml')).body).not.toContain('News');
  });

  it("purges an item under its old and its new slug, and a deleted item's", async () => {
    const org = await newOrg();
    const item = await post(org, { title: 'Old name' }, {});
    expect((await pub(org, '/content/old-name')).status).toBe(200);
    expect((await pub(org, '/content/old-name?format=html')).headers.get('x-cache')).toBe('miss');
    expectProblem(await pub(org, '/content/new-name'), 404, 'not_found'); // a cached 404 …
    expect((await itemEntry(org, 'new-name'))?.status).toBe(404);

    const renamed = await api('PATCH', `/v1/orgs/${org.slug}/content/${item.id}`, {
      token: org.owner.token,
      body: { slug: 'new-name' },
    });
    expect(renamed.status).toBe(200);
    // … gone at once, and the old slug's copies in both formats too.
    expect((await pub(org, '/content/new-name')).body.slug).toBe('new-name');
    expectProblem(await pub(org, '/content/old-name'), 404, 'not_found');
    expectProblem(await pub(org, '/content/old-name?format=html'), 404, 'not_found');

    expect((await pub(org, '/content/new-name?format=html')).status).toBe(200);
    expect((await pub(org, '/content/new-name')).headers.get('x-cache')).toBe('hit');
    expect((await api('DELETE', `/v1/orgs/${org.slug}/content/${item.id}`, { token: org.owner.token })).status).toBe(
      204,
    );
    expectProblem(await pub(org, '/content/new-name'), 404, 'not_found');
    expectProblem(await pub(org, '/content/new-name?format=html'), 404, 'not_found');
  });

  it('caches a 404 for at most 60 s: no purge can name every slug', async () => {
    const org = await newOrg();
    const at = new Date(Date.now() + 7200_000).toISOString();
    await post(org, { title: 'Much later' }, { published_at: at });
    for (const slug of ['nothing-here', 'much-later']) {
      expectProblem(await pub(org, `/content/${slug}`), 404, 'not_found');
      expect((await itemEntry(org, slug))?.headers.get('cache-control'), slug).toBe('public, max-age=60');
    }
  });

  it('leaves no stale item behind when a change and its purge land while a miss reads D1', async () => {
    const org = await newOrg();
    const item = await post(org, { title: 'Before' }, {});
    const put = caches.default.put.bind(caches.default);
    let raced = false;
    // The miss has read D1 (title 'Before') and is about to store: the edit and its whole purge run first.
    vi.spyOn(caches.default, 'put').mockImplementation(async (key, response) => {
      const url = typeof key === 'string' ? key : key instanceof URL ? key.href : key.url;
      if (!raced && url.includes('/item/before')) {
        raced = true;
        const edited = await api('PATCH', `/v1/orgs/${org.slug}/content/${item.id}`, {
          token: org.owner.token,
          body: { title: 'After' },
        });
        expect(edited.status).toBe(200);
      }
      return put(key, response);
    });
    const miss = await pub(org, '/content/before');
    expect(raced).toBe(true);
    expect(miss.body.title).toBe('Before'); // true when it was read
    vi.restoreAllMocks();
    expect(await itemEntry(org, 'before')).toBeUndefined();
    const next = await pub(org, '/content/before');
    expect(next.headers.get('x-cache')).toBe('miss');
    expect(next.body.title).toBe('After');
  });

  it('keeps serving the cached copy when a draft changes (no purge needed)', async () => {
    const org = await newOrg();
    await post(org, { title: 'Live' }, {});
    const draft = await post(org, { title: 'Draft' });
    await pub(org, '/content');
    await api('PATCH', `/v1/orgs/${org.slug}/content/${draft.id}`, {
      token: org.owner.token,
      body: { content: 'more' },
    });
    expect((await pub(org, '/content')).roundTrips).toBe(0);
  });

  it('publishes a scheduled item at its time: not before, and no cached copy outlives that time', async () => {
    const org = await newOrg();
    await post(org, { title: 'Now' }, {});
    const at = new Date(Date.now() + 2000).toISOString();
    await post(org, { title: 'Later' }, { published_at: at });
    const before = await pub(org, '/content');
    expect(slugsOf(before)).toEqual(['now']);
    expectProblem(await pub(org, '/content/later'), 404, 'not_found');
    expect((await pub(org, '/feed.xml')).body).not.toContain('Later');
    // Cached meanwhile (a hit), but only until the scheduled time.
    expect((await pub(org, '/content')).roundTrips).toBe(0);

    await sleep(Math.max(0, Date.parse(at) - Date.now()) + 1200);
    expect(slugsOf(await pub(org, '/content'))).toEqual(['later', 'now']);
    expect((await pub(org, '/content/later')).status).toBe(200);
    expect((await pub(org, '/feed.xml')).body).toContain('<title>Later</title>');
  });

  it('serves RSS 2.0 of blog posts with every text escaped', async () => {
    const org = await newOrg();
    await post(
      org,
      {
        title: 'Fish & <Chips>',
        excerpt: '"quoted" & \'single\'',
        seo_meta: { canonical_url: 'https://acme.test/a?b=1&c=2' },
      },
      {},
    );
    await post(org, { title: 'Second', content: '<b>bold</b>' }, {});
    await post(org, { title: 'A page', content_type: 'page' }, {});
    const feed = await pub(org, '/feed.xml');
    expect(feed.status).toBe(200);
    expect(feed.headers.get('content-type')).toBe('application/rss+xml; charset=utf-8');
    const xml = feed.body as string;
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>')).toBe(true);
    // Escaped as XML, and what a reader renders as HTML starts no tag (see the next test).
    expect(xml).toContain('<title>Fish &amp; &amp;lt;Chips&amp;gt;</title>');
    expect(xml).toContain('<link>https://acme.test/a?b=1&amp;c=2</link>');
    expect(xml).toContain('<description>&amp;quot;quoted&amp;quot; &amp;amp; &amp;#39;single&amp;#39;</description>');
    expect(xml).toContain('<description>&lt;p&gt;&lt;b&gt;bold&lt;/b&gt;&lt;/p&gt;</description>');
    expect(xml).toContain(`<link>https://strive.test/v1/public/${org.slug}/content/second?format=html</link>`);
    expect(xml).not.toContain('A page');
    expect(xml.match(/<item>/g)).toHaveLength(2);
    expect(xml.indexOf('Second')).toBeLessThan(xml.indexOf('Fish'));
    expect((await pub(org, '/feed.xml')).roundTrips).toBe(0);
  });

  it('gives feed readers that render titles and descriptions as HTML text, never markup', async () => {
    const org = await newOrg();
    const name = '<img src=x onerror=alert(1)> Org';
    expect((await api('PATCH', `/v1/orgs/${org.slug}`, { token: org.owner.token, body: { name } })).status).toBe(200);
    const title = '<img src=x onerror=alert(2)>Fish & Chips';
    const excerpt = '<img src=x onerror=alert(3)> "quoted" & \'single\' <script>alert(4)</script>';
    await post(org, { title, excerpt }, {});
    await post(org, { title: '<svg onload=alert(5)>', content: '<img src=x onerror=alert(6)>**bold**' }, {});
    const xml = (await pub(org, '/feed.xml')).body as string;
    // What a reader has once the XML is parsed: each element's text, entities decoded.
    const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" };
    const decode = (text: string) => text.replace(/&(amp|lt|gt|quot|#39);/g, (_, name: string) => XML_ENTITIES[name]!);
    const texts = [...xml.matchAll(/<(title|description)>([^<]*)<\/\1>/g)].map((match) => decode(match[2]!));
    expect(texts).toHaveLength(6);
    // Rendered as HTML, none of them starts a tag other than the sanitised body's own.
    for (const text of texts) expect(text.replace(/<\/?(p|strong)>/g, '')).not.toMatch(/<[a-z!/?]/i);
    const html = (text: string) => decode(text); // HTML's entities for these characters are XML's
    expect(texts).toContain(`&lt;img src=x onerror=alert(1)&gt; Org`);
    expect(html(texts.find((t) => t.includes('Fish'))!)).toBe(title);
    expect(html(texts.find((t) => t.includes('quoted'))!)).toBe(excerpt);
    expect(texts).toContain('<p><strong>bold</strong></p>');
  });

  it('serves /embed.js, embeddable from any site', async () => {
    const res = await api('GET', '/embed.js');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(res.body).toContain('data-strive-org');
    expect(res.body).toContain('?format=html');
    // The rest of the API stays same-origin for resource embedding.
    expect((await api('GET', '/health')).headers.get('cross-origin-resource-policy')).toBe('same-origin');
  });

  it('answers CORS preflights for the public endpoints with any origin', async () => {
    const res = await api('OPTIONS', '/v1/public/acme/content', {
      headers: { origin: 'https://blog.example', 'access-control-request-method': 'GET' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('lists newest publication first, not newest creation, with a cursor through equal times', async () => {
    const org = await newOrg();
    const hour = 3_600_000;
    const at = (ms: number) => new Date(Date.now() + ms).toISOString();
    const tie = at(-5 * hour);
    // Created (and so id-ordered) first → last; published in another order, two at the same instant.
    await post(org, { title: 'Oldest news' }, { published_at: at(-9 * hour) });
    await post(org, { title: 'Latest news' }, { published_at: at(-1 * hour) });
    await post(org, { title: 'Tie one' }, { published_at: tie });
    await post(org, { title: 'Tie two' }, { published_at: tie });
    await post(org, { title: 'Middle news' }, { published_at: at(-3 * hour) });
    await post(org, { title: 'Scheduled' }, { published_at: at(hour) });
    const expected = ['latest-news', 'middle-news', 'tie-two', 'tie-one', 'oldest-news'];

    const all = await pub(org, '/content');
    expect(all.roundTrips).toBe(2); // the catalog look-up, then one shard batch
    expect(slugsOf(all)).toEqual(expected);
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof pub>> = await pub(
        org,
        `/content?type=blog_post&limit=1${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status, JSON.stringify(page.body)).toBe(200);
      paged.push(...slugsOf(page));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(paged).toEqual(expected);
    // The feed agrees.
    const feed = (await pub(org, '/feed.xml')).body as string;
    const positions = expected.map((slug) => feed.indexOf(`/content/${slug}?`));
    expect(positions.every((position) => position > 0)).toBe(true);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    // A cursor of the id-ordered lists is not one of this list's.
    const idCursor = btoa(crypto.randomUUID()).replace(/=+$/, '');
    expectProblem(await pub(org, `/content?cursor=${idCursor}`), 400, 'invalid_request');
  });

  it('purges nothing of another organization', async () => {
    const org = await newOrg();
    const other = await newOrg();
    await post(org, { title: 'First' }, {});
    await post(other, { title: 'Stays' }, {});
    const paths = ['/content', '/content/stays', '/feed.xml'];
    for (const path of paths) await pub(other, path);
    for (const path of paths) expect((await pub(other, path)).headers.get('x-cache'), path).toBe('hit');
    await pub(org, '/content');
    expect((await pub(org, '/content')).headers.get('x-cache')).toBe('hit');

    await post(org, { title: 'Mine' }, {});
    // The change purged its own organization (what makes the next check mean something) …
    const mine = await pub(org, '/content');
    expect(mine.headers.get('x-cache')).toBe('miss');
    expect(slugsOf(mine)).toEqual(['mine', 'first']);
    // … and nothing of the other one.
    for (const path of paths) {
      const res = await pub(other, path);
      expect(res.headers.get('x-cache'), path).toBe('hit');
      expect(res.roundTrips).toBe(0);
    }
  });
});
