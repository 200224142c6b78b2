// The public content cache (Cache API, `caches.default`), keyed by URLs this module makes:
//
//   {CACHE_ORIGIN}/{org_slug}/item/{slug}?format={json|html}   → one item (or its cached 404)
//   {CACHE_ORIGIN}/{org_slug}/generation                       → the organization's generation id
//   {CACHE_ORIGIN}/{org_slug}/{generation}/{resource}          → a list page or the feed
//
// No hit makes a D1 query: not even the slug → shard look-up, which only a miss makes. An item hit
// is ONE cache look-up: its key is stable, so a purge deletes it (the change's service names the
// slugs it touched). Lists and the feed have keys no purge can enumerate (any type, limit, cursor
// or origin): they live under the organization's generation, a hit is two look-ups, and a purge
// writes a new generation, after which every earlier list page is unreachable and ages out. The
// generation also holds the purging write's Strive-Bookmark: a miss under it reads D1 at least that
// new, so a replica that has not caught up with the write cannot put the old answer back.
//
// A purge writes the generation FIRST, then deletes the item keys. An item miss reads the
// generation before it reads D1 and again after storing; if it changed, it deletes what it stored.
// So a miss that read D1 before a change cannot leave its answer behind: either it stored before
// the purge's delete (which removes it), or it re-reads the generation after the purge wrote it
// (and removes it itself). Cached 404s cannot be enumerated (any slug): they last at most
// NOT_FOUND_TTL_S, which bounds how long a slug freed by a rename or deletion and taken by another
// organization can answer its old 404s.
//
// Clients get `Cache-Control: public, max-age=0, must-revalidate` and an ETag: browsers keep the
// body and revalidate each time (a 304 from the cache, zero D1), so an unpublished item is gone
// on the next page view. The Cache API is per data centre; a purge made in one reaches another
// when its copy expires (RESPONSE_TTL_S), and on *.workers.dev the Cache API does nothing.
import { formatBookmarks, parseBookmarks, type D1Sessions } from '../../db/sessions';
import type { TenantContext } from '../../env';
import { uuidv7 } from '../../lib/ids';
import { sha256Hex } from '../../lib/crypto';
import { notFound } from '../../lib/problem';

/** What serving a public answer needs of the request: plain values, no Hono context. */
export type PublicRequest = { d1: D1Sessions; ifNoneMatch: string | undefined };

const CACHE_ORIGIN = 'https://public-cache.strive.internal';
/** A generation outlives every response made under it; when it is evicted a new one starts. */
const GENERATION_TTL_S = 7 * 24 * 3600;
/** How long a data centre keeps a response: the bound on staleness where a purge did not run. */
export const RESPONSE_TTL_S = 3600;
/** How long a cached 404 may answer: such keys cannot be enumerated by a purge. */
export const NOT_FOUND_TTL_S = 60;
const CLIENT_CACHE_CONTROL = 'public, max-age=0, must-revalidate';
/**
 * A fragment opened directly (not fetched by a page) is a document of this origin: sanitised on
 * write already, and besides allowed no script, plugin or foreign frame.
 */
const FRAGMENT_CSP =
  "default-src 'none'; img-src https: http:; media-src https: http:; frame-src https://www.youtube-nocookie.com " +
  'https://player.vimeo.com; sandbox';

const generationKey = (orgSlug: string) => `${CACHE_ORIGIN}/${orgSlug}/generation`;

export type ItemFormat = 'json' | 'html';
const ITEM_FORMATS: readonly ItemFormat[] = ['json', 'html'];
const itemKey = (orgSlug: string, slug: string, format: ItemFormat) =>
  `${CACHE_ORIGIN}/${orgSlug}/item/${encodeURIComponent(slug)}?format=${format}`;

/** A generation: its id, then (after a purge) the purging write's Strive-Bookmark, on the next line. */
function generationEntry(id: string, bookmark = ''): Response {
  return new Response(`${id}\n${bookmark}`, { headers: { 'cache-control': `public, max-age=${GENERATION_TTL_S}` } });
}

/**
 * Makes the organization's cached lists and feed unreachable and deletes the cached items `slugs`
 * (every slug the change touched: an item's old and new one), after `ctx`'s writes; awaited, so
 * the change shows at once. `orgSlug`: another slug than the context's (a rename).
 */
export async function purgePublicContent(
  ctx: TenantContext,
  slugs: Iterable<string>,
  orgSlug = ctx.organization.slug,
): Promise<void> {
  // The generation first: see the race argument at the top.
  await purgePublicLists(orgSlug, ctx.d1);
  const keys = [...new Set(slugs)].flatMap((slug) => ITEM_FORMATS.map((format) => itemKey(orgSlug, slug, format)));
  // All at once: the runtime queues what exceeds its simultaneous-connection limit.
  await Promise.all(keys.map((key) => caches.default.delete(key)));
}

/** Makes the organization's cached lists and feed unreachable (a new generation), after `d1`'s writes. */
export const purgePublicLists = (orgSlug: string, d1: D1Sessions) =>
  caches.default.put(generationKey(orgSlug), generationEntry(uuidv7(), formatBookmarks(d1.bookmarks())));

type Generation = { id: string; bookmarks: Map<string, string> };

async function readGeneration(orgSlug: string): Promise<Generation | undefined> {
  const entry = await caches.default.match(generationKey(orgSlug));
  if (!entry) return undefined;
  const [id = '', bookmark = ''] = (await entry.text()).split('\n');
  return { id, bookmarks: (bookmark && parseBookmarks(bookmark)) || new Map() };
}

async function currentGeneration(orgSlug: string): Promise<Generation> {
  const generation = await readGeneration(orgSlug);
  if (generation) return generation;
  const id = uuidv7();
  await caches.default.put(generationKey(orgSlug), generationEntry(id));
  return { id, bookmarks: new Map() };
}

/** A public answer as produced on a miss; `ttl` (seconds) bounds how long it may be served. */
export type PublicAnswer = { status: 200 | 404; body: string; contentType: string; ttl: number };

/** Seconds until `at` (ISO), capped at the response TTL, at least 1: a scheduled item appears on time. */
export function ttlUntil(at: string | null | undefined, now: number): number {
  if (!at) return RESPONSE_TTL_S;
  return Math.max(1, Math.min(RESPONSE_TTL_S, Math.ceil((Date.parse(at) - now) / 1000)));
}

function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t.replace(/^W\//, '') === etag;
  });
}

/** A miss: `produce` reads D1 at least as new as the generation's purge, and its answer is stored under `key`. */
async function produceAndStore(
  request: PublicRequest,
  key: string,
  generation: Generation,
  produce: () => Promise<PublicAnswer>,
): Promise<Response> {
  for (const [database, bookmark] of generation.bookmarks) request.d1.atLeast(database, bookmark);
  const answer = await produce();
  const etag = `"${(await sha256Hex(answer.body)).slice(0, 32)}"`;
  const ttl = answer.status === 404 ? Math.min(answer.ttl, NOT_FOUND_TTL_S) : answer.ttl;
  const cached = new Response(answer.body, {
    status: answer.status,
    headers: { 'content-type': answer.contentType, etag, 'cache-control': `public, max-age=${ttl}` },
  });
  // Stored before answering (a local write, on misses only), so the very next request hits.
  await caches.default.put(key, cached.clone());
  return cached;
}

/**
 * A list page or the feed of the organization, from the cache under its generation, or from
 * `produce` on a miss (then stored). `resource` must name everything the answer depends on (the
 * validated query, canonically).
 */
export async function servePublic(
  request: PublicRequest,
  orgSlug: string,
  resource: string,
  produce: () => Promise<PublicAnswer>,
) {
  const generation = await currentGeneration(orgSlug);
  const key = `${CACHE_ORIGIN}/${orgSlug}/${generation.id}/${resource}`;
  const cached = await caches.default.match(key);
  if (cached) return respond(request, cached, 'hit');
  return respond(request, await produceAndStore(request, key, generation, produce), 'miss');
}

/** An item of the organization in `format`: one cache look-up on a hit; on a miss, see the race argument at the top. */
export async function servePublicItem(
  request: PublicRequest,
  orgSlug: string,
  slug: string,
  format: ItemFormat,
  produce: () => Promise<PublicAnswer>,
) {
  const key = itemKey(orgSlug, slug, format);
  const cached = await caches.default.match(key);
  if (cached) return respond(request, cached, 'hit');
  const before = await currentGeneration(orgSlug);
  const answer = await produceAndStore(request, key, before, produce);
  // A purge ran meanwhile (or the generation was evicted): what was stored may be stale; it was
  // true when read, so it is still the answer.
  if ((await readGeneration(orgSlug))?.id !== before.id) await caches.default.delete(key);
  return respond(request, answer, 'miss');
}

/** The client's answer from a cached one; cached 404s (unknown or scheduled items) as a fresh problem+json. */
function respond(request: PublicRequest, cached: Response, outcome: 'hit' | 'miss') {
  if (cached.status === 404) throw notFound('content');
  const etag = cached.headers.get('etag')!;
  const headers = { etag, 'cache-control': CLIENT_CACHE_CONTROL, 'x-cache': outcome };
  if (etagMatches(request.ifNoneMatch, etag)) return new Response(null, { status: 304, headers });
  // A new Response: a cached one's headers are immutable, and the middleware adds its own.
  const contentType = cached.headers.get('content-type')!;
  const policy: Record<string, string> = contentType.startsWith('text/html')
    ? { 'content-security-policy': FRAGMENT_CSP }
    : {};
  return new Response(cached.body, { status: 200, headers: { ...headers, ...policy, 'content-type': contentType } });
}
