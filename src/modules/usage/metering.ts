// Every authenticated /v1/orgs/{org}/… request is an `api_calls` event, queued through waitUntil
// (no D1 round trip, nothing awaited on the request's path), and the month's api_calls quota is
// checked against a figure this isolate keeps, not a query per request.
//
// Requests outside an organization (/v1/me, POST /v1/orgs) are not metered: there is no
// organization to bill them to. Refused requests (401, 404 before the tenant is known, 429, the
// 402 below) are not metered either.
import { createMiddleware } from 'hono/factory';
import { routePath } from 'hono/route';
import { D1Sessions } from '../../db/sessions';
import { shardDb } from '../../db/shards';
import { TenantStore } from '../../db/tenant-store';
import type { AppEnv, TenantContext, TenantEnv } from '../../env';
import { ApiError } from '../../lib/problem';
import { TIER_LIMITS } from '../billing/tiers';
import { billingPeriod, usedThisPeriod } from './quota';

/**
 * Routes an organization over its api_calls quota can still reach (and are still metered): seeing
 * its usage and subscription, and upgrading, are the way out of the 402.
 */
const BILLING_ROUTE = /^\/v1\/orgs\/[^/]+\/(usage|subscription|billing\/)/;

/** How long an isolate trusts its api_calls figure before reading the shard again (off the path). */
const REFRESH_MS = 60_000;

type Figure = { period: string; used: number; readAt: number; reading: boolean };
const apiCalls = new Map<string, Figure>();

/**
 * The organization's api_calls this period as this isolate knows it: the shard's total as last
 * read, plus this isolate's requests since. Read again in the background once a minute, so the
 * first request of an isolate is never refused and a limit is enforced within about a minute
 * and the consumer's delay (a few seconds) — a soft limit, by design, for a per-request check.
 */
function figureOf(ctx: TenantContext, env: AppEnv['Bindings'], waitUntil: (p: Promise<unknown>) => void): Figure {
  const period = billingPeriod();
  let figure = apiCalls.get(ctx.organization.id);
  if (!figure || figure.period !== period) {
    figure = { period, used: 0, readAt: 0, reading: false };
    apiCalls.set(ctx.organization.id, figure);
  }
  if (!figure.reading && figure.readAt < Date.now() - REFRESH_MS) {
    figure.reading = true;
    const counted = figure;
    // Its own sessions: this read is not the request's. A replica's figure will do: the limit is
    // soft by design, a minute and the consumer's delay behind.
    const store = new TenantStore(
      shardDb(env, ctx.organization.shard, D1Sessions.open(env, 'nearest')),
      ctx.organization.id,
    );
    waitUntil(
      usedThisPeriod({ ...ctx, store }, 'api_calls')
        .then((used) => Object.assign(counted, { used, readAt: Date.now() }))
        .catch((error) => console.error('api_calls figure not read', error))
        .finally(() => (counted.reading = false)),
    );
  }
  return figure;
}

export const meterApiCalls = createMiddleware<TenantEnv>(async (c, next) => {
  if (c.env.USAGE_METERING === 'false') return next();
  const ctx = c.get('tenant');
  const limit = TIER_LIMITS[ctx.organization.tier].api_calls;
  if (limit !== null) {
    const figure = figureOf(ctx, c.env, (p) => c.executionCtx.waitUntil(p));
    if (figure.used >= limit && !BILLING_ROUTE.test(c.req.path)) {
      throw new ApiError(
        'quota_exceeded',
        `The ${ctx.organization.tier} tier allows ${limit} API calls a month and they are used. Upgrade the ` +
          `subscription or wait for the next period.`,
      );
    }
    figure.used++;
  }
  // The route pattern, not the path: totals per endpoint, without an id in the name.
  ctx.meter.record({ resource_type: 'api_calls', quantity: 1, resource_name: `${c.req.method} ${routePath(c, -1)}` });
  await next();
});

/** Tests and the bench: forget this isolate's figures. */
export const forgetApiCallFigures = () => apiCalls.clear();
