// The public content cache (Cache API, `caches.default`), keyed by URLs this module makes:
//
//   {CACHE_ORIGIN}/{org_slug}/generation                       → the organization's generation id
//   {CACHE_ORIGIN}/{org_slug}/{generation}/{resource}          → one cached public response
//
// A hit is two cache look-ups and no D1 query at all: not even the slug → shard look-up, which
// only a miss makes. A purge is one cache write: a new generation, after which every earlier
// response of the organization (items in both formats, every list page, the feed) is unreachable
// and ages out. One deterministic key covers every variant (any limit, cursor or type), and a
// miss that read D1 before the change and stores its answer after the purge stores it under the
// old generation, where nobody looks: a purge cannot be undone by a concurrent miss. The
// generation also holds the purging write's Strive-Bookmark: a miss under it reads D1 at least
// that new, so a replica that has not caught up with the write cannot put the old answer back.
//
// Clients get `Cache-Control: public, max-age=0, must-revalidate` and an ETag: browsers keep the
// body and revalidate each time (a 304 from the cache, zero D1), so an unpublished item is gone
// on the next page view. The Cache API is per data centre; a purge made in one reaches another
// when its copy expires (RESPONSE_TTL_S), and on *.workers.dev the Cache API does nothing.
import { formatBookmarks, parseBookmarks, type D1Sessions } from '../../db/sessions';
import type { AppEnv, TenantContext } from '../../env';
import { uuidv7 } from '../../lib/ids';
import { sha256Hex } from '../../lib/crypto';
import { notFound } from '../../lib/problem';

const CACHE_ORIGIN = 'https://public-cache.strive.internal';
/** A generation outlives every response made under it; when it is evicted a new one starts. */
const GENERATION_TTL_S = 7 * 24 * 3600;
/** How long a data centre keeps a response: the bound on staleness where a purge did not run. */
export const RESPONSE_TTL_S = 3600;
const CLIENT_CACHE_CONTROL = 'public, max-age=0, must-revalidate';
/**
 * A fragment opened directly (not fetched by a page) is a document of this origin: sanitised on
 * write already, and besides allowed no script, plugin or foreign frame.
 */
const FRAGMENT_CSP =
  "default-src 'none'; img-src https: http:; media-src https: http:; frame-src https://www.youtube-nocookie.com " +
  'https://player.vimeo.com; sandbox';

const generationKey = (orgSlug: string) => `${CACHE_ORIGIN}/${orgSlug}/generation`;

/** A generation: its id, then (after a purge) the purging write's Strive-Bookmark, on the next line. */
function generationEntry(id: string, bookmark = ''): Response {
  return new Response(`${id}\n${bookmark}`, { headers: { 'cache-control': `public, max-age=${GENERATION_TTL_S}` } });
}

/**
 * Makes every cached public response of the organization unreachable, after `ctx`'s writes;
 * awaited, so the change shows at once. `orgSlug`: another slug than the context's (a rename).
 */
export async function purgePublicContent(ctx: TenantContext, orgSlug = ctx.organization.slug): Promise<void> {
  await caches.default.put(generationKey(orgSlug), generationEntry(uuidv7(), formatBookmarks(ctx.d1.bookmarks())));
}

async function currentGeneration(orgSlug: string): Promise<{ id: string; bookmarks: Map<string, string> }> {
  const entry = await caches.default.match(generationKey(orgSlug));
  if (!entry) {
    const id = uuidv7();
    await caches.default.put(generationKey(orgSlug), generationEntry(id));
    return { id, bookmarks: new Map() };
  }
  const [id = '', bookmark = ''] = (await entry.text()).split('\n');
  return { id, bookmarks: (bookmark && parseBookmarks(bookmark)) || new Map() };
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

/**
 * Serves `resource` of the organization from the cache, or from `produce` on a miss (then stored).
 * `resource` must name everything the answer depends on (the validated query, canonically).
 * Cached 404s (unknown or scheduled items) are answered as a fresh problem+json.
 */
export async function servePublic(
  request: { d1: D1Sessions; ifNoneMatch: string | undefined },
  orgSlug: string,
  resource: string,
  produce: () => Promise<PublicAnswer>,
) {
  const generation = await currentGeneration(orgSlug);
  const key = `${CACHE_ORIGIN}/${orgSlug}/${generation.id}/${resource}`;
  let cached = await caches.default.match(key);
  const outcome = cached ? 'hit' : 'miss';
  if (!cached) {
    for (const [database, bookmark] of generation.bookmarks) request.d1.atLeast(database, bookmark);
    const answer = await produce();
    const etag = `"${(await sha256Hex(answer.body)).slice(0, 32)}"`;
    cached = new Response(answer.body, {
      status: answer.status,
      headers: { 'content-type': answer.contentType, etag, 'cache-control': `public, max-age=${answer.ttl}` },
    });
    // Stored before answering (a local write, on misses only), so the very next request hits.
    await caches.default.put(key, cached.clone());
  }
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
