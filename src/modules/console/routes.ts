// The web console: a single-page app (console/, built into the CONSOLE assets binding) mounted at
// /app, its configuration, and the local-dev sign-in. None of these is part of the API document:
// the console itself uses only the public API and its sockets.
import type { Context } from 'hono';
import type { AppEnv } from '../../env';
import { devClerkUserId, signSessionToken } from '../../auth/session-tokens';
import { ApiError, invalid } from '../../lib/problem';
import type { App } from '../../lib/openapi';

const MOUNT = '/app';
const DEV_TOKEN_TTL_SECONDS = 3600;
/** scripts/token.mjs's issuer: the dev key signs as the same pretend Clerk instance. */
const DEV_ISSUER = 'https://clerk.strive.dev';
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Dev sign-in needs both the dev private key (written to .dev.vars by scripts/dev-setup.mjs, which
 * wrangler never deploys) and a loopback host: a deployed Worker answers on its own host name,
 * so even a key set there by mistake mints nothing.
 */
function devSigningKey(c: Context<AppEnv>): string | undefined {
  const key = c.env.DEV_SESSION_SIGNING_KEY;
  return key && LOOPBACK.has(new URL(c.req.url).hostname) ? key : undefined;
}

/** `pk_test_…`/`pk_live_…` is base64 of Clerk's Frontend API host and a `$`. */
export function clerkFrontendApi(publishableKey: string): string | null {
  const match = /^pk_(?:test|live)_([A-Za-z0-9+/=_-]+)$/.exec(publishableKey);
  if (!match) return null;
  try {
    const host = atob(match[1]!.replace(/-/g, '+').replace(/_/g, '/')).replace(/\$$/, '');
    return /^[a-z0-9.-]+$/i.test(host) ? host : null;
  } catch {
    return null;
  }
}

/**
 * Scripts come only from the console's own files (and Clerk's, when configured): the content
 * preview shows server-sanitised HTML, and this is the second line behind that sanitiser.
 */
function contentSecurityPolicy(clerkHost: string | null): string {
  const clerk = clerkHost ? ` https://${clerkHost}` : '';
  return [
    "default-src 'self'",
    `script-src 'self'${clerk}`,
    `connect-src 'self'${clerk}`,
    "img-src 'self' https: data: blob:",
    "style-src 'self' 'unsafe-inline'",
    'frame-src https://www.youtube-nocookie.com https://player.vimeo.com',
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export function registerConsoleRoutes(app: App) {
  app.get(MOUNT, (c) => c.redirect(`${MOUNT}/`, 308));

  /** What the console needs before anyone signs in: how they sign in. */
  app.get(`${MOUNT}/config.json`, (c) => {
    const publishableKey = c.env.CLERK_PUBLISHABLE_KEY || null;
    c.header('cache-control', 'no-store');
    return c.json({
      sign_in: devSigningKey(c) ? 'dev' : publishableKey ? 'clerk' : 'none',
      clerk_publishable_key: publishableKey,
    });
  });

  /** Local dev only: a session token for any email, as `npm run token` makes (404 elsewhere). */
  app.post(`${MOUNT}/dev-session`, async (c) => {
    const key = devSigningKey(c);
    if (!key) throw new ApiError('not_found', `No route for POST ${c.req.path}.`);
    const body = (await c.req.json().catch(() => null)) as { email?: unknown } | null;
    const email = typeof body?.email === 'string' ? body.email.trim().toLowerCase() : '';
    if (!/^[^\s@]+@[^\s@]+$/.test(email)) throw invalid('email', 'An email address is required.');
    const iat = Math.floor(Date.now() / 1000);
    const token = await signSessionToken(
      key,
      {
        sub: await devClerkUserId(email),
        email,
        // A dev address counts as verified, as `npm run token` has it (first-use provisioning needs it).
        email_verified: true,
        iat,
        nbf: iat - 5,
        exp: iat + DEV_TOKEN_TTL_SECONDS,
        iss: DEV_ISSUER,
        sid: `sess_dev_${crypto.randomUUID().replace(/-/g, '')}`,
        azp: new URL(c.req.url).origin,
      },
      'dev',
    );
    return c.json({ token, expires_at: new Date((iat + DEV_TOKEN_TTL_SECONDS) * 1000).toISOString() });
  });

  // The app's files; any other path under /app is its index.html (not_found_handling =
  // "single-page-application"), which routes in the browser.
  app.get(`${MOUNT}/*`, async (c) => {
    const url = new URL(c.req.url);
    url.pathname = url.pathname.slice(MOUNT.length);
    const file = await c.env.CONSOLE.fetch(new Request(url, c.req.raw));
    const response = new Response(file.body, file);
    const clerkHost = c.env.CLERK_PUBLISHABLE_KEY ? clerkFrontendApi(c.env.CLERK_PUBLISHABLE_KEY) : null;
    response.headers.set('content-security-policy', contentSecurityPolicy(clerkHost));
    return response;
  });
}
