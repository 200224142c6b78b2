// Every URL the API stores to show or link (an organization's website and logo, a meeting link,
// a post's canonical URL and image, an avatar) is an http(s) URL on a domain name, stored as the
// URL parser reads it (src/lib/fields.ts WebUrl): never `javascript:` or `data:`.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { api, expectProblem, newOrg, signToken } from './helpers';

const SCRIPTED = [
  'javascript:alert(1)',
  'JavaScript:alert(1)',
  ' javascript:alert(1)',
  'java\tscript:alert(1)',
  'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==',
  'data:image/svg+xml,<svg onload=alert(1)>',
  'vbscript:msgbox(1)',
  'file:///etc/passwd',
  '//evil.example.com/x',
  'https://trusted.example.com@evil.example.com/',
  'https://127.0.0.1/',
  'https://localhost/',
];

describe('stored URLs', () => {
  it("refuses an organization's website and logo that are not http(s) on a domain name, and stores them normalised", async () => {
    const org = await newOrg();
    for (const field of ['website', 'logo_url']) {
      for (const url of SCRIPTED) {
        const res = await api('PATCH', `/v1/orgs/${org.slug}`, { token: org.owner.token, body: { [field]: url } });
        expectProblem(res, 400, 'invalid_request');
        expect(
          res.body.errors.map((e: { path: string }) => e.path),
          `${field} ${url}`,
        ).toEqual([field]);
      }
    }
    const res = await api('PATCH', `/v1/orgs/${org.slug}`, {
      token: org.owner.token,
      body: { website: 'HTTPS://Acme.example.com', logo_url: 'http:cdn.example.com/logo.png' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({
      website: 'https://acme.example.com/',
      logo_url: 'http://cdn.example.com/logo.png',
    });
  });

  it('links the feed to a website only if it is http(s), even one stored before the rule', async () => {
    const org = await newOrg();
    await env.CATALOG.prepare('UPDATE organizations SET website = ? WHERE id = ?')
      .bind('javascript:alert(1)', org.id)
      .run();
    const feed = (await api('GET', `/v1/public/${org.slug}/feed.xml`)).body as string;
    expect(feed).not.toContain('javascript:');
    expect(feed).toContain(`<link>https://strive.test/v1/public/${org.slug}/content?type=blog_post</link>`);
  });

  it("refuses a meeting link or a post's canonical URL or image that is not http(s)", async () => {
    const org = await newOrg();
    const start = Date.now() + 86_400_000;
    const times = { start_time: new Date(start).toISOString(), end_time: new Date(start + 3_600_000).toISOString() };
    for (const url of SCRIPTED) {
      const booked = await api('POST', `/v1/orgs/${org.slug}/appointments`, {
        token: org.owner.token,
        body: { title: 'Call', ...times, meeting_url: url },
      });
      expectProblem(booked, 400, 'invalid_request');
      expect(booked.body.errors.map((e: { path: string }) => e.path)).toEqual(['meeting_url']);
      const posted = await api('POST', `/v1/orgs/${org.slug}/content`, {
        token: org.owner.token,
        body: { title: 'Post', seo_meta: { canonical_url: url, image: url } },
      });
      expectProblem(posted, 400, 'invalid_request');
      expect(posted.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
        'seo_meta.canonical_url',
        'seo_meta.image',
      ]);
    }
    const booked = await api('POST', `/v1/orgs/${org.slug}/appointments`, {
      token: org.owner.token,
      body: { title: 'Call', ...times, meeting_url: 'https:meet.example.com/x' },
    });
    expect(booked.status, JSON.stringify(booked.body)).toBe(201);
    expect(booked.body.meeting_url).toBe('https://meet.example.com/x');
  });

  it("keeps an avatar from a session token's picture claim only if it is http(s)", async () => {
    const sub = `user_avatar_${crypto.randomUUID().slice(0, 8)}`;
    const email = `${sub}@strive.test`;
    const me = await api('GET', '/v1/me', { token: await signToken({ sub, email, picture: 'javascript:alert(1)' }) });
    expect(me.status, JSON.stringify(me.body)).toBe(200);
    expect(me.body.avatar_url).toBeNull();
  });
});
