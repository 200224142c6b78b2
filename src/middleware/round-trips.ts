import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../env';

/** Starts the request's D1 round-trip count; dev, tests and the bench read it from a header. */
export const roundTrips = createMiddleware<AppEnv>(async (c, next) => {
  const counter = { count: 0 };
  c.set('roundTrips', counter);
  await next();
  if (c.env.EXPOSE_D1_ROUND_TRIPS === 'true') c.header('x-d1-round-trips', String(counter.count));
});
