// The request's D1 sessions (src/db/sessions.ts) and the consistency contract with the client:
//
// - `Strive-Bookmark` (request header, or the `strive_bookmark` cookie a browser sends back):
//   the value a previous response carried. Each database it names is read at least that new.
// - `Strive-Consistency: primary`: every query of the request on the primary.
// - Neither: reads from the nearest replica, at most the replica lag behind the primary.
//
// Every response that touched D1 (or received a bookmark) carries `Strive-Bookmark`: the newest
// bookmark of each database, the ones it did not touch carried over from the request. Authenticated
// responses that moved it also set the cookie, so a browser reads its own writes with no code.
import type { Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { createMiddleware } from 'hono/factory';
import { D1Sessions, formatBookmarks, parseBookmarks } from '../db/sessions';
import { shardCount } from '../db/shards';
import type { AppEnv } from '../env';
import { ApiError } from '../lib/problem';

export const BOOKMARK_HEADER = 'strive-bookmark';
export const CONSISTENCY_HEADER = 'strive-consistency';
const BOOKMARK_COOKIE = 'strive_bookmark';
/** A bookmark older than the replica lag is met by every replica; an hour covers a replica far behind. */
const COOKIE_MAX_AGE_S = 3600;

const malformed = (path: string, headers?: Record<string, string>) =>
  new ApiError(
    'invalid_request',
    `${path} must be a value this API returned in Strive-Bookmark, sent back unchanged.`,
    [{ path, message: 'Not a Strive-Bookmark value.' }],
    headers,
  );

/** The client's bookmarks, of databases this deployment has (others are ignored), or 400. */
function clientBookmarks(c: Context<AppEnv>): Map<string, string> {
  const header = c.req.header(BOOKMARK_HEADER);
  const cookie = header === undefined ? getCookie(c, BOOKMARK_COOKIE) : undefined;
  const value = header ?? cookie;
  if (value === undefined) return new Map();
  const parsed = parseBookmarks(value.trim());
  if (!parsed) {
    if (header !== undefined) throw malformed('Strive-Bookmark');
    // A cookie the client cannot fix itself (it is HttpOnly): cleared by the same answer.
    throw malformed(BOOKMARK_COOKIE, {
      'set-cookie': `${BOOKMARK_COOKIE}=; Path=/v1; Max-Age=0; Secure; HttpOnly; SameSite=Lax`,
    });
  }
  const shards = shardCount(c.env);
  for (const database of parsed.keys()) {
    if (database !== 'catalog' && Number(database.slice('shard_'.length)) >= shards) parsed.delete(database);
  }
  return parsed;
}

function readMode(c: Context<AppEnv>): 'nearest' | 'primary' {
  const consistency = c.req.header(CONSISTENCY_HEADER);
  if (consistency === undefined) return 'nearest';
  if (consistency.trim().toLowerCase() === 'primary') return 'primary';
  throw new ApiError('invalid_request', 'Strive-Consistency takes one value: `primary`.', [
    { path: 'Strive-Consistency', message: 'Must be `primary`.' },
  ]);
}

/** `cookie`: whether the app is a browser session's; embeds and webhooks get no cookie. */
export const d1Sessions = ({ cookie }: { cookie: boolean }) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const client = clientBookmarks(c);
    const sent = formatBookmarks(client);
    const d1 = D1Sessions.open(c.env, readMode(c), client);
    c.set('d1', d1);
    await next();
    if (c.env.EXPOSE_D1_ROUND_TRIPS === 'true') {
      c.header('x-d1-round-trips', String(d1.count));
      c.header('x-d1-far-hops', String(d1.farHops));
      c.header(
        'x-d1-instances',
        d1.trips.map((trip) => `${trip.database}:${trip.instance}${trip.beside ? '@object' : ''}`).join(', '),
      );
    }
    const bookmark = formatBookmarks(d1.bookmarks());
    if (!bookmark) return;
    c.header(BOOKMARK_HEADER, bookmark);
    if (bookmark !== sent && cookie) {
      setCookie(c, BOOKMARK_COOKIE, bookmark, {
        path: '/v1',
        maxAge: COOKIE_MAX_AGE_S,
        secure: true,
        httpOnly: true,
        sameSite: 'Lax',
      });
    }
  });
