// Per-client limits for traffic that no user or API key answers for, keyed by the address
// Cloudflare gives as CF-Connecting-IP (an IPv6 address by its /64, which one client holds whole):
// - public routes (/v1/public/*, /embed.js): every request counts (PUBLIC_RATE_LIMITER, generous:
//   an embed on a busy page is many visitors, each with their own address);
// - credentialed routes: every failed authentication (a 401) counts (AUTH_FAILURE_LIMITER). Past
//   the limit the answer is 429 instead of 401, and for the rest of the period this isolate
//   refuses the address's unknown API keys and feed tokens before looking them up (resolveTenant
//   calls `assertNotGuessing`), so guessing costs no D1 query. A cached credential, and a session
//   (verified without the database), still work from that address.
// Without CF-Connecting-IP (tests, a request that did not come through Cloudflare) nothing is
// limited here. Like every ratelimit binding, the counts are per Cloudflare location and approximate.
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env';
import { ApiError } from '../lib/problem';

/** Both bindings' period (wrangler.toml). */
const PERIOD_SECONDS = 60;

/** The first four groups of an IPv6 address (its /64); an IPv4 address whole. */
export function clientKey(ip: string): string {
  if (!ip.includes(':')) return ip;
  const [head = '', tail] = ip.toLowerCase().split('::');
  const groups = head ? head.split(':') : [];
  if (tail !== undefined) {
    const rest = tail ? tail.split(':') : [];
    groups.push(...Array<string>(Math.max(0, 8 - groups.length - rest.length)).fill('0'), ...rest);
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

const clientOf = <E extends AppEnv>(c: Context<E>) => {
  const ip = c.req.header('cf-connecting-ip');
  return ip ? clientKey(ip.trim()) : undefined;
};

const refused = (what: string) =>
  new ApiError('rate_limited', `Too many ${what} from this address: try again within a minute.`, undefined, {
    'retry-after': String(PERIOD_SECONDS),
  });

export const limitPublicByClient = createMiddleware<AppEnv>(async (c, next) => {
  const client = clientOf(c);
  if (client && !(await c.env.PUBLIC_RATE_LIMITER.limit({ key: client })).success) throw refused('requests');
  await next();
});

/** Addresses over the failed-authentication limit, until when (this isolate's view). */
const guessing = new Map<string, number>();
const GUESSING_MAX = 10_000;

export const limitFailedAuthentication = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  const client = clientOf(c);
  if (c.res.status !== 401 || !client) return;
  if ((await c.env.AUTH_FAILURE_LIMITER.limit({ key: client })).success) return;
  if (guessing.size >= GUESSING_MAX) guessing.clear();
  guessing.set(client, Date.now() + PERIOD_SECONDS * 1000);
  throw refused('failed authentications');
});

/** Before a credential is looked up in the database: 429 while its address is over the failure limit. */
export function assertNotGuessing<E extends AppEnv>(c: Context<E>): void {
  const client = clientOf(c);
  const until = client && guessing.get(client);
  if (until && until > Date.now()) throw refused('failed authentications');
}
