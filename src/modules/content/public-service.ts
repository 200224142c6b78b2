// What the public sees of an organization's content, read on a cache miss: the organization by
// slug in the catalog (1 round trip), then its shard (1 round trip, a batch when two reads are
// needed). Only items with status 'published' and published_at <= now exist here.
import { and, desc, eq, gt, lte, min, type SQL } from 'drizzle-orm';
import { organizations, shards } from '../../db/catalog';
import type { DataRegion } from '../../db/enums';
import { organizationShard } from '../../db/places';
import { catalogDb, shardDb } from '../../db/shards';
import { content } from '../../db/tenant';
import { TenantStore } from '../../db/tenant-store';
import type { Bindings } from '../../env';
import type { D1Sessions } from '../../db/sessions';
import { newestFirstByTimeQuery, toTimePage } from '../../lib/pagination';
import { notFound } from '../../lib/problem';
import { ttlUntil, type PublicAnswer } from './public-cache';
import { webUrlOrNull } from '../../lib/fields';
import { escapeHtml, withoutTags } from './render';
import type { PublicQuery } from './schemas';

export type PublicOrganization = {
  id: string;
  slug: string;
  name: string;
  website: string | null;
  data_region: DataRegion | null;
  store: TenantStore;
};

/** The organization behind a public URL, with a store on its shard; unknown → 404. */
export async function publicOrganization(
  { env, d1 }: { env: Bindings; d1: D1Sessions },
  slug: string,
): Promise<PublicOrganization> {
  const org = await catalogDb(env, d1)
    .select({
      id: organizations.id,
      slug: organizations.slug,
      name: organizations.name,
      website: organizations.website,
      shard: organizations.shard,
      data_region: shards.region,
    })
    .from(organizations)
    .leftJoin(shards, organizationShard)
    .where(eq(organizations.slug, slug))
    .get();
  if (!org) throw notFound('organization');
  return { ...org, store: new TenantStore(shardDb(env, org.shard, d1), org.id) };
}

/** The query-time publishing rule: scheduled items appear when their time comes, with no job. */
const visible = (now: string): SQL => and(eq(content.status, 'published'), lte(content.published_at, now))!;

/** The next scheduled publication: cached lists must not outlive it. */
const nextPublication = (store: TenantStore, now: string) =>
  store.selectFields(
    content,
    { at: min(content.published_at) },
    and(eq(content.status, 'published'), gt(content.published_at, now)),
  );

const publicFields = {
  id: content.id,
  slug: content.slug,
  title: content.title,
  excerpt: content.excerpt,
  content_type: content.content_type,
  seo_meta: content.seo_meta,
  published_at: content.published_at,
  updated_at: content.updated_at,
};

const json = (value: unknown, ttl: number): PublicAnswer => ({
  status: 200,
  body: JSON.stringify(value),
  contentType: 'application/json',
  ttl,
});

export async function publicList(org: PublicOrganization, input: PublicQuery): Promise<PublicAnswer> {
  const now = Date.now();
  const iso = new Date(now).toISOString();
  const [rows, [next]] = await org.store.batch([
    newestFirstByTimeQuery(content.published_at, content.id, input, (after) =>
      org.store.selectFields(
        content,
        publicFields,
        and(visible(iso), input.type ? eq(content.content_type, input.type) : undefined, after),
      ),
    ),
    nextPublication(org.store, iso),
  ]);
  // Newest publication first, like the feed: a scheduled item shows at its time, not its creation's.
  return json(
    toTimePage(rows, input.limit, (row) => row.published_at!),
    ttlUntil(next?.at, now),
  );
}

/** By slug, in JSON or as an embeddable fragment. A scheduled item's 404 lasts until its time. */
export async function publicItem(
  org: PublicOrganization,
  slug: string,
  format: 'json' | 'html',
): Promise<PublicAnswer> {
  const now = Date.now();
  const row = await org.store
    .selectFields(content, { ...publicFields, status: content.status, html: content.html }, eq(content.slug, slug))
    .get();
  if (!row || row.status !== 'published' || !row.published_at || Date.parse(row.published_at) > now) {
    const scheduled = row?.status === 'published' ? row.published_at : null;
    return { status: 404, body: '', contentType: 'text/plain', ttl: ttlUntil(scheduled, now) };
  }
  const { status: _status, ...item } = row;
  if (format === 'json') return json(item, ttlUntil(null, now));
  // The fragment a page embeds: the stored HTML was sanitised on write; only the title is added here.
  const fragment =
    `<article class="strive-content" data-strive-slug="${escapeHtml(item.slug)}">` +
    `<h1>${escapeHtml(item.title)}</h1>\n${item.html}\n</article>`;
  return { status: 200, body: fragment, contentType: 'text/html; charset=utf-8', ttl: ttlUntil(null, now) };
}

/**
 * How many items an organization-wide purge (a rename, a deletion) deletes from the cache, newest
 * publication first: two keys each, within a request's subrequest limit (1,000 on Workers Paid).
 * Older ones stay cached under the old slug until they expire (RESPONSE_TTL_S).
 */
export const MAX_PURGED_ITEMS = 400;

/** The slugs of the published items (scheduled ones too) whose cached copies an organization-wide purge deletes. */
export const publishedSlugs = (store: TenantStore) =>
  store
    .selectFields(content, { slug: content.slug }, eq(content.status, 'published'))
    .orderBy(desc(content.published_at), desc(content.id))
    .limit(MAX_PURGED_ITEMS);

const FEED_SIZE = 50;

/** RSS 2.0 of the published blog posts, newest publication first. Every text is escaped. */
export async function publicFeed(org: PublicOrganization, origin: string): Promise<PublicAnswer> {
  const now = Date.now();
  const iso = new Date(now).toISOString();
  const [posts, [next]] = await org.store.batch([
    org.store
      .selectFields(
        content,
        { ...publicFields, html: content.html },
        and(visible(iso), eq(content.content_type, 'blog_post')),
      )
      .orderBy(desc(content.published_at), desc(content.id))
      .limit(FEED_SIZE),
    nextPublication(org.store, iso),
  ]);
  const base = `${origin}/v1/public/${org.slug}`;
  // Readers render <title> and <description> as HTML once the XML is decoded: text is made inert as
  // HTML first (a description is HTML: the sanitised body, or the escaped excerpt), then escaped as XML.
  const items = posts.map((post) => {
    const link = post.seo_meta.canonical_url ?? `${base}/content/${encodeURIComponent(post.slug)}?format=html`;
    return (
      `<item><title>${escapeHtml(withoutTags(post.title))}</title><link>${escapeHtml(link)}</link>` +
      `<guid isPermaLink="false">${post.id}</guid><pubDate>${new Date(post.published_at!).toUTCString()}</pubDate>` +
      `<description>${escapeHtml(post.excerpt === null ? post.html : escapeHtml(post.excerpt))}</description></item>`
    );
  });
  // A website stored before only http(s) was accepted is left out rather than linked.
  const home = webUrlOrNull(org.website) ?? `${base}/content?type=blog_post`;
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>' +
    `<title>${escapeHtml(withoutTags(org.name))}</title><link>${escapeHtml(home)}</link>` +
    `<description>${escapeHtml(escapeHtml(`Blog posts of ${org.name}`))}</description>${items.join('')}</channel></rss>\n`;
  return { status: 200, body, contentType: 'application/rss+xml; charset=utf-8', ttl: ttlUntil(next?.at, now) };
}
