// Requests per user (session) and per API key, through the Workers rate-limiting binding
// (wrangler.toml: RATE_LIMITER, limit per 60 s). Before any database work, so a client over its
// limit costs no D1 round trip.
import { createMiddleware } from 'hono/factory';
import { hashApiKey } from '../auth/api-keys';
import type { Credentials, UserEnv } from '../env';
import { ApiError } from '../lib/problem';

/** The binding's period: a refused client may try again within it. */
const PERIOD_SECONDS = 60;

/** Whose requests count together: a session's user, or an API key by its hash (the secret itself never leaves this request). */
export const rateLimitKey = async (credentials: Credentials): Promise<string> =>
  credentials.type === 'session' ? `user:${credentials.clerkUserId}` : `key:${await hashApiKey(credentials.secret)}`;

export const rateLimit = createMiddleware<UserEnv>(async (c, next) => {
  const credentials = c.get('credentials');
  const { success } = await c.env.RATE_LIMITER.limit({ key: await rateLimitKey(credentials) });
  if (!success) {
    throw new ApiError(
      'rate_limited',
      `Too many requests for this ${credentials.type === 'session' ? 'user' : 'API key'}: try again within a minute.`,
      undefined,
      {
        'retry-after': String(PERIOD_SECONDS),
      },
    );
  }
  await next();
});
