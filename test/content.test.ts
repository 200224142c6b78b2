import { describe, expect, it } from 'vitest';
import { MARKDOWN_MAX_CHARS, MARKDOWN_MAX_DEPTH, renderMarkdown } from '../src/modules/content/render';
import { slugFromTitle } from '../src/modules/content/service';
import { api, expectProblem, joinAs, newOrg, newUser } from './helpers';
import { env } from 'cloudflare:test';

describe('the sanitiser (Markdown rendered on write)', () => {
  it('renders Markdown', () => {
    expect(renderMarkdown('# Hi\n\nSome **bold** and a [link](https://example.com "t").')).toBe(
      '<h1>Hi</h1>\n<p>Some <strong>bold</strong> and a <a href="https://example.com" title="t">link</a>.</p>',
    );
    expect(renderMarkdown('```js\nlet a = 1 < 2;\n```')).toBe(
      '<pre><code class="language-js">let a = 1 &lt; 2;\n</code></pre>',
    );
  });

  it.each([
    ['a script tag', '<script>alert(1)</script>ok'],
    ['a script inside Markdown', 'text <script src="https://evil.test/x.js"></script>'],
    ['onerror on an image', '<img src="https://example.com/x.png" onerror="alert(1)">'],
    ['onclick on a paragraph', '<p onclick="alert(1)">hi</p>'],
    ['a javascript: Markdown link', '[click](javascript:alert(1))'],
    ['a mixed-case javascript: link', '<a href="JaVaScRiPt:alert(1)">x</a>'],
    ['an entity-encoded javascript: link', '<a href="&#106;&#97;vascript:alert(1)">x</a>'],
    ['a hex-entity javascript: link with a tab', '<a href="java&#x09;script:alert(1)">x</a>'],
    ['a vbscript: link', '<a href="vbscript:msgbox(1)">x</a>'],
    ['a data: HTML link', '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>'],
    ['a data: image', '<img src="data:image/svg+xml;base64,PHN2Zy8+">'],
    ['an iframe from anywhere', '<iframe src="https://evil.test/"></iframe>'],
    ['a javascript: iframe', '<iframe src="javascript:alert(1)"></iframe>'],
    ['an iframe srcdoc', '<iframe srcdoc="<script>alert(1)</script>"></iframe>'],
    ['a style attribute', '<p style="background:url(javascript:alert(1))">x</p>'],
    ['a CSS expression', '<div style="width: expression(alert(1))">x</div>'],
    ['a style element', '<style>body{display:none}</style>x'],
    ['an SVG with onload', '<svg onload="alert(1)"><script>alert(1)</script></svg>'],
    ['an SVG use/href', '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>'],
    ['MathML with an href', '<math><mi xlink:href="javascript:alert(1)">x</mi></math>'],
    [
      'a form with a formaction',
      '<form action="https://evil.test"><button formaction="javascript:alert(1)">x</button></form>',
    ],
    ['an object/embed', '<object data="https://evil.test/x.swf"></object><embed src="https://evil.test/x.swf">'],
    ['a meta refresh', '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">'],
    ['a base tag', '<base href="https://evil.test/">'],
    ['a class that restyles the page', '<p class="hidden">x</p><code class="x onload">y</code>'],
    ['an HTML comment hiding markup', '<!--><img src=x onerror=alert(1)>-->'],
  ])('removes %s', (_, source) => {
    const html = renderMarkdown(source);
    expect(html).not.toMatch(/<script|<style|<svg|<math|<form|<object|<embed|<meta|<base|<button/i);
    expect(html).not.toMatch(/\son\w+\s*=/i);
    expect(html).not.toMatch(/javascript:|vbscript:|data:|expression\(|style=|srcdoc|evil\.test|class="(?!language-)/i);
  });

  it('keeps allow-listed video iframes and nothing else of them', () => {
    const html = renderMarkdown(
      '<iframe src="https://www.youtube-nocookie.com/embed/abc" width="560" onload="x()" allow="camera"></iframe>',
    );
    expect(html).toBe('<iframe src="https://www.youtube-nocookie.com/embed/abc" width="560"></iframe>');
    expect(renderMarkdown('<iframe src="https://player.vimeo.com/video/1"></iframe>')).toContain(
      'src="https://player.vimeo.com/video/1"',
    );
    // A refused frame or image goes entirely, rather than staying as an empty box.
    expect(
      renderMarkdown('a <iframe src="https://www.youtube.com/embed/abc"></iframe> b <img src="javascript:x" alt="i">'),
    ).toBe('<p>a  b </p>');
  });

  it('keeps http(s), mailto and relative links and plain images', () => {
    expect(renderMarkdown('[a](https://x.test) [b](mailto:a@b.test) [c](/docs) ![i](https://x.test/i.png)')).toBe(
      '<p><a href="https://x.test">a</a> <a href="mailto:a@b.test">b</a> <a href="/docs">c</a> <img ' +
        'src="https://x.test/i.png" alt="i"></p>',
    );
  });
});

describe('slugs', () => {
  it.each([
    ['Hello World', 'hello-world'],
    ['  Crème brûlée à Paris! ', 'creme-brulee-a-paris'],
    ['Ünïcödé — 2026 édition', 'unicode-2026-edition'],
    ['C++ & Rust: a tale', 'c-rust-a-tale'],
    ['日本語', ''],
  ])('%s → %s', (title, slug) => expect(slugFromTitle(title)).toBe(slug));
});

const postBody = {
  title: 'Crème brûlée',
  content: '# Hi\n\nSome **bold**<script>alert(1)</script>',
  excerpt: 'Dessert',
  content_type: 'blog_post',
};

describe('content', () => {
  it('creates a draft (slug from the title, html rendered, author the creator) in one batch with its audit row', async () => {
    const org = await newOrg();
    const member = await joinAs(org, 'member');
    await api('GET', `/v1/orgs/${org.slug}`, { token: member.token }); // warm
    const res = await api('POST', `/v1/orgs/${org.slug}/content`, {
      token: member.token,
      body: {
        ...postBody,
        seo_meta: {
          title: 'T',
          description: 'D',
          canonical_url: 'https://acme.test/p',
          image: 'https://acme.test/i.png',
          keywords: ['a', 'b'],
          og: { type: 'article' },
        },
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.roundTrips).toBe(1);
    expect(res.body).toMatchObject({
      slug: 'creme-brulee',
      status: 'draft',
      content_type: 'blog_post',
      author_id: member.id,
      published_at: null,
      html: '<h1>Hi</h1>\n<p>Some <strong>bold</strong></p>',
      seo_meta: {
        title: 'T',
        description: 'D',
        canonical_url: 'https://acme.test/p',
        image: 'https://acme.test/i.png',
        keywords: ['a', 'b'],
        og: { type: 'article' },
      },
    });
    const log = await api('GET', `/v1/orgs/${org.slug}/activity?resource_id=${res.body.id}`, {
      token: org.owner.token,
    });
    expect(log.body.data.map((r: { action: string }) => r.action)).toEqual(['content.create']);

    const got = await api('GET', `/v1/orgs/${org.slug}/content/${res.body.id}`, { token: member.token });
    expect(got.body.content).toBe(postBody.content);
    expect(got.roundTrips).toBe(1);
  });

  it('refuses a taken slug with 409, per organization', async () => {
    const org = await newOrg();
    const other = await newOrg();
    const t = org.owner.token;
    expect((await api('POST', `/v1/orgs/${org.slug}/content`, { token: t, body: { title: 'Hello' } })).status).toBe(
      201,
    );
    expectProblem(
      await api('POST', `/v1/orgs/${org.slug}/content`, { token: t, body: { title: 'Hello!' } }),
      409,
      'conflict',
    );
    const second = await api('POST', `/v1/orgs/${org.slug}/content`, {
      token: t,
      body: { title: 'Hello', slug: 'hello-2' },
    });
    expect(second.status).toBe(201);
    expectProblem(
      await api('PATCH', `/v1/orgs/${org.slug}/content/${second.body.id}`, { token: t, body: { slug: 'hello' } }),
      409,
      'conflict',
    );
    expect(
      (await api('POST', `/v1/orgs/${other.slug}/content`, { token: other.owner.token, body: { title: 'Hello' } }))
        .status,
    ).toBe(201);
  });

  it('validates every field', async () => {
    const org = await newOrg();
    const res = await api('POST', `/v1/orgs/${org.slug}/content`, {
      token: org.owner.token,
      body: {
        title: '',
        slug: 'Not A Slug',
        content_type: 'tweet',
        excerpt: 5,
        extra: 1,
        seo_meta: { canonical_url: 'javascript:alert(1)', image: 'ftp://x.test/i.png', title: 5, keywords: 'x' },
        status: 'published',
        author_id: org.owner.id,
      },
    });
    expectProblem(res, 400, 'invalid_request');
    const paths = res.body.errors.map((e: { path: string }) => e.path);
    for (const path of [
      'title',
      'slug',
      'content_type',
      'excerpt',
      'extra',
      'seo_meta.canonical_url',
      'seo_meta.image',
      'seo_meta.title',
      'status',
      'author_id',
    ]) {
      expect(paths).toContain(path);
    }
    // Keys of seo_meta that Strive does not read are the client's: kept as sent.
    expect(paths).not.toContain('seo_meta.keywords');
    // The workflow's columns say how they are set.
    expect(res.body.errors.find((e: { path: string }) => e.path === 'status').message).toContain('POST …/publish');
    const tooBig = await api('POST', `/v1/orgs/${org.slug}/content`, {
      token: org.owner.token,
      body: { title: 'Big', seo_meta: { blob: 'x'.repeat(9000) } },
    });
    expectProblem(tooBig, 400, 'invalid_request');
    expect(tooBig.body.errors[0].path).toBe('seo_meta');
    expectProblem(
      await api('POST', `/v1/orgs/${org.slug}/content`, { token: org.owner.token, body: { title: '日本語' } }),
      400,
      'invalid_request',
    );
    const publish = await api('POST', `/v1/orgs/${org.slug}/content/${crypto.randomUUID()}/publish`, {
      token: org.owner.token,
      body: { published_at: 'tomorrow' },
    });
    expectProblem(publish, 400, 'invalid_request');
  });

  it('re-renders on edit and filters the list by status, type and title', async () => {
    const org = await newOrg();
    const t = org.owner.token;
    const a = (
      await api('POST', `/v1/orgs/${org.slug}/content`, {
        token: t,
        body: { title: 'Alpha post', content_type: 'blog_post' },
      })
    ).body;
    await api('POST', `/v1/orgs/${org.slug}/content`, { token: t, body: { title: 'Beta page' } });
    const edited = await api('PATCH', `/v1/orgs/${org.slug}/content/${a.id}`, {
      token: t,
      body: { content: '<img src=x onerror=alert(1)>*new*' },
    });
    expect(edited.status).toBe(200);
    expect(edited.body.html).toBe('<p><em>new</em></p>');
    expect(edited.roundTrips).toBe(1);
    await api('POST', `/v1/orgs/${org.slug}/content/${a.id}/publish`, { token: t });
    const list = async (query: string) =>
      (await api('GET', `/v1/orgs/${org.slug}/content?${query}`, { token: t })).body.data.map(
        (r: { title: string }) => r.title,
      );
    expect(await list('')).toEqual(['Beta page', 'Alpha post']);
    expect(await list('status=published')).toEqual(['Alpha post']);
    expect(await list('content_type=page')).toEqual(['Beta page']);
    expect(await list('q=BETA')).toEqual(['Beta page']);
    // A long term, and wildcards: words of the title, excerpt and body, each a word's beginning.
    const long = 'A very long title about 100% of the quarterly_results, told twice over for good measure';
    await api('POST', `/v1/orgs/${org.slug}/content`, {
      token: t,
      body: { title: long, excerpt: 'Figures in brief', content: '## Outlook\n\nMargins *widened*.' },
    });
    expect(await list(`q=${encodeURIComponent(long.slice(2, 70).toUpperCase())}`)).toEqual([long]);
    expect(await list('q=brief%20margins%20widen')).toEqual([long]);
    expect(await list('q=a_p')).toEqual(['Alpha post']);
    const nothing = await api('GET', `/v1/orgs/${org.slug}/content?q=%25`, { token: t });
    expectProblem(nothing, 400, 'invalid_request');
    const page = await api('GET', `/v1/orgs/${org.slug}/content?limit=1`, { token: t });
    expect(page.body.data[0]).not.toHaveProperty('html');
    expect(page.body.next_cursor).toBeTruthy();
    expect(page.roundTrips).toBe(1);
  });

  it('lets members write drafts, and only publishers publish or change published items', async () => {
    const org = await newOrg();
    const member = await joinAs(org, 'member');
    const publisher = await joinAs(org, 'member', { grant: ['content:publish'] });
    const admin = await joinAs(org, 'admin');
    const viewer = await joinAs(org, 'viewer');
    expectProblem(
      await api('POST', `/v1/orgs/${org.slug}/content`, { token: viewer.token, body: { title: 'x' } }),
      403,
      'forbidden',
    );
    const item = (await api('POST', `/v1/orgs/${org.slug}/content`, { token: member.token, body: { title: 'Draft' } }))
      .body;
    expect(
      (
        await api('PATCH', `/v1/orgs/${org.slug}/content/${item.id}`, {
          token: member.token,
          body: { title: 'Draft 2' },
        })
      ).status,
    ).toBe(200);
    expectProblem(
      await api('POST', `/v1/orgs/${org.slug}/content/${item.id}/publish`, { token: member.token }),
      403,
      'forbidden',
    );
    // Sent the way many clients send a bodiless POST: a JSON Content-Type and an empty body.
    const published = await api('POST', `/v1/orgs/${org.slug}/content/${item.id}/publish`, {
      token: publisher.token,
      headers: { 'content-type': 'application/json' },
    });
    expect(published.status, JSON.stringify(published.body)).toBe(200);
    expect(published.body.status).toBe('published');
    const edit = await api('PATCH', `/v1/orgs/${org.slug}/content/${item.id}`, {
      token: member.token,
      body: { title: 'Sneaky' },
    });
    expectProblem(edit, 403, 'forbidden');
    expect(edit.body.detail).toContain('content:publish');
    expect((await api('GET', `/v1/orgs/${org.slug}/content/${item.id}`, { token: member.token })).body.title).toBe(
      'Draft 2',
    );
    expectProblem(
      await api('POST', `/v1/orgs/${org.slug}/content/${item.id}/archive`, { token: publisher.token }),
      403,
      'forbidden',
    );
    expectProblem(
      await api('POST', `/v1/orgs/${org.slug}/content/${item.id}/unpublish`, { token: member.token }),
      403,
      'forbidden',
    );
    const unpublished = await api('POST', `/v1/orgs/${org.slug}/content/${item.id}/unpublish`, { token: admin.token });
    expect(unpublished.body).toMatchObject({ status: 'draft', published_at: null });
    const archived = await api('POST', `/v1/orgs/${org.slug}/content/${item.id}/archive`, { token: admin.token });
    expect(archived.body.status).toBe('archived');
    expectProblem(
      await api('DELETE', `/v1/orgs/${org.slug}/content/${item.id}`, { token: member.token }),
      403,
      'forbidden',
    );
    expect((await api('DELETE', `/v1/orgs/${org.slug}/content/${item.id}`, { token: admin.token })).status).toBe(204);
    const log = await api('GET', `/v1/orgs/${org.slug}/activity?resource_id=${item.id}&limit=20`, {
      token: org.owner.token,
    });
    expect(log.body.data.map((r: { action: string }) => r.action)).toEqual([
      'content.delete',
      'content.archive',
      'content.unpublish',
      'content.publish',
      'content.update',
      'content.create',
    ]);
  });

  it('lets a platform moderator archive content of any organization, and nothing more', async () => {
    const org = await newOrg();
    const item = (
      await api('POST', `/v1/orgs/${org.slug}/content`, { token: org.owner.token, body: { title: 'Spam' } })
    ).body;
    await api('POST', `/v1/orgs/${org.slug}/content/${item.id}/publish`, { token: org.owner.token });
    const moderator = await newUser('moderator');
    await env.CATALOG.prepare("UPDATE users SET role = 'moderator' WHERE id = ?").bind(moderator.id).run();
    const mod = { token: moderator.token };
    expectProblem(await api('POST', `/v1/orgs/${org.slug}/content/${item.id}/unpublish`, mod), 403, 'forbidden');
    expectProblem(
      await api('PATCH', `/v1/orgs/${org.slug}/content/${item.id}`, { ...mod, body: { title: 'x' } }),
      403,
      'forbidden',
    );
    const archived = await api('POST', `/v1/orgs/${org.slug}/content/${item.id}/archive`, mod);
    expect(archived.status, JSON.stringify(archived.body)).toBe(200);
    expect(archived.body.status).toBe('archived');
  });

  it('bounds what it renders: a size and a nesting limit, each a 400 naming content and the limit', async () => {
    const org = await newOrg();
    const t = org.owner.token;
    const create = (content: string) =>
      api('POST', `/v1/orgs/${org.slug}/content`, {
        token: t,
        body: { title: 'Limits', slug: `l-${crypto.randomUUID().slice(0, 8)}`, content },
      });
    const refused = (res: Awaited<ReturnType<typeof create>>, limit: number) => {
      expectProblem(res, 400, 'invalid_request');
      expect(res.body.errors).toEqual([{ path: 'content', message: expect.stringContaining(String(limit)) }]);
    };
    // The limits are published with the field.
    const spec = (await api('GET', '/openapi.json')).body;
    const field = spec.components.schemas.ContentCreate.properties.content;
    expect(field.maxLength).toBe(MARKDOWN_MAX_CHARS);
    expect(field.description).toContain(`${MARKDOWN_MAX_DEPTH} deep`);

    refused(await create('a'.repeat(MARKDOWN_MAX_CHARS + 1)), MARKDOWN_MAX_CHARS);
    // Deeply nested block quotes crashed the old renderer (a 500); lists and a mix of both are nested too.
    for (const deep of [
      '>'.repeat(MARKDOWN_MAX_CHARS),
      `${'>'.repeat(MARKDOWN_MAX_DEPTH + 1)} x`,
      `${'> '.repeat(MARKDOWN_MAX_DEPTH)}- x`,
      Array.from({ length: MARKDOWN_MAX_DEPTH + 1 }, (_, i) => `${'  '.repeat(i)}- item ${i}`).join('\n'),
    ]) {
      refused(await create(deep), MARKDOWN_MAX_DEPTH);
    }
    const item = (await create('fine')).body;
    refused(
      await api('PATCH', `/v1/orgs/${org.slug}/content/${item.id}`, { token: t, body: { content: '>'.repeat(1000) } }),
      MARKDOWN_MAX_DEPTH,
    );

    // At the limits everything renders, the innermost text included (nothing is cut off).
    const quotes = await create(`${'>'.repeat(MARKDOWN_MAX_DEPTH)} innermost`);
    expect(quotes.status, JSON.stringify(quotes.body)).toBe(201);
    expect(quotes.body.html.match(/<blockquote>/g)).toHaveLength(MARKDOWN_MAX_DEPTH);
    expect(quotes.body.html).toContain('innermost');
    const lists = await create(
      Array.from({ length: MARKDOWN_MAX_DEPTH }, (_, i) => `${'  '.repeat(i)}- item ${i}`).join('\n') + '\n\nafter',
    );
    expect(lists.status).toBe(201);
    expect(lists.body.html.match(/<ul>/g)).toHaveLength(MARKDOWN_MAX_DEPTH);
    expect(lists.body.html).toContain(`item ${MARKDOWN_MAX_DEPTH - 1}`);
    expect(lists.body.html).toContain('<p>after</p>');
    // The emphasis run that took 22 s (at 200,000 characters) renders, as text.
    const emphasis = await create('_a'.repeat(MARKDOWN_MAX_CHARS / 2));
    expect(emphasis.status).toBe(201);
    expect(emphasis.body.html).toBe(`<p>${'_a'.repeat(MARKDOWN_MAX_CHARS / 2)}</p>`);
  });

  it('answers 404 for content of another organization', async () => {
    const org = await newOrg();
    const other = await newOrg();
    const item = (
      await api('POST', `/v1/orgs/${org.slug}/content`, { token: org.owner.token, body: { title: 'Mine' } })
    ).body;
    // `other`'s owner, in their own organization, asking for `org`'s item by id.
    for (const [method, path] of [
      ['GET', ''],
      ['PATCH', ''],
      ['DELETE', ''],
      ['POST', '/publish'],
      ['POST', '/archive'],
    ] as const) {
      const res = await api(method, `/v1/orgs/${other.slug}/content/${item.id}${path}`, {
        token: other.owner.token,
        body: method === 'PATCH' ? { title: 'x' } : undefined,
      });
      expectProblem(res, 404, 'not_found');
    }
  });
});
