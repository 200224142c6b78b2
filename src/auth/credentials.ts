// Authentication: turn the Authorization header (or `?token=` on an upgrade of a socket route, or on
// the calendar feed) into verified credentials. No database here: a session JWT is verified with the key alone.
import { verifyToken } from '@clerk/backend';
import { createMiddleware } from 'hono/factory';
import type { Bindings, Credentials, UserEnv } from '../env';
import { webUrlOrNull } from '../lib/fields';
import { ApiError } from '../lib/problem';
import { API_KEY_PREFIX } from './api-keys';
import { CALENDAR_TOKEN_PREFIX } from './calendar-tokens';

const unauthenticated = (detail: string) =>
  new ApiError('unauthenticated', detail, undefined, { 'www-authenticate': 'Bearer' });

function bearerToken(request: Request): string | undefined {
  const header = request.headers.get('authorization');
  if (header) {
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw unauthenticated('The Authorization header must be "Bearer <token>".');
    return match[1];
  }
  // Browsers cannot set headers on a WebSocket, so an upgrade of a socket route may carry the token
  // in the query; no other route takes one there (a query string ends up in logs and referrers).
  const url = new URL(request.url);
  if (request.headers.get('upgrade')?.toLowerCase() === 'websocket' && SOCKET_PATH.test(url.pathname)) {
    return url.searchParams.get('token') ?? undefined;
  }
  return undefined;
}

/** The socket routes: …/projects/{id}/board/ws and …/conversations/{id}/ws. */
const SOCKET_PATH = /^\/v1\/orgs\/[^/]+\/(?:projects\/[^/]+\/board|conversations\/[^/]+)\/ws$/;

/** Calendar apps subscribe to a URL and cannot send headers: this path alone takes a feed token in the query. */
const CALENDAR_FEED_PATH = /^\/v1\/orgs\/[^/]+\/appointments\.ics$/;

function calendarFeedToken(request: Request): string | undefined {
  if (request.headers.has('authorization')) return undefined;
  const url = new URL(request.url);
  const token = url.searchParams.get('token');
  if (token === null || !CALENDAR_FEED_PATH.test(url.pathname)) return undefined;
  if (!token.startsWith(CALENDAR_TOKEN_PREFIX))
    throw unauthenticated('`token` must be a calendar feed token (scal_…).');
  return token;
}

type SessionClaims = { sub: string; email?: unknown; email_verified?: unknown; name?: unknown; picture?: unknown };

async function verifySession(token: string, env: Bindings): Promise<Credentials> {
  if (!env.CLERK_JWT_KEY && !env.CLERK_SECRET_KEY) {
    throw new ApiError('not_configured', 'Session tokens cannot be verified: set CLERK_JWT_KEY or CLERK_SECRET_KEY.');
  }
  const authorizedParties = env.CLERK_AUTHORIZED_PARTIES.split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  let claims: SessionClaims;
  try {
    claims = (await verifyToken(token, {
      // A PEM key verifies networkless; without it the SDK fetches (and caches) Clerk's JWKS.
      ...(env.CLERK_JWT_KEY ? { jwtKey: env.CLERK_JWT_KEY } : { secretKey: env.CLERK_SECRET_KEY }),
      ...(authorizedParties.length ? { authorizedParties } : {}),
    })) as SessionClaims;
  } catch {
    // The SDK's reason (expired, bad signature, wrong azp) stays in our logs, not in the answer.
    throw unauthenticated('The session token is invalid or expired.');
  }
  const text = (value: unknown) => (typeof value === 'string' && value.length > 0 ? value : undefined);
  return {
    type: 'session',
    clerkUserId: claims.sub,
    // The email provisions a user and claims their invitation, so it counts only when the token
    // says Clerk verified it (`{{user.email_verified}}`, a boolean, or its text).
    email:
      claims.email_verified === true || claims.email_verified === 'true'
        ? text(claims.email)?.toLowerCase()
        : undefined,
    name: text(claims.name),
    avatarUrl: webUrlOrNull(claims.picture) ?? undefined,
  };
}

/** Requires credentials on every route it guards: 401 without them. */
export const authenticate = createMiddleware<UserEnv>(async (c, next) => {
  const feedToken = calendarFeedToken(c.req.raw);
  if (feedToken) {
    c.set('credentials', { type: 'calendar_feed', secret: feedToken });
    return next();
  }
  const token = bearerToken(c.req.raw);
  if (!token) throw unauthenticated('Send "Authorization: Bearer <session token or API key>".');
  c.set(
    'credentials',
    token.startsWith(API_KEY_PREFIX) ? { type: 'api_key', secret: token } : await verifySession(token, c.env),
  );
  await next();
});
