import { z } from '@hono/zod-openapi';
import { defineRoute, json, type App } from '../../lib/openapi';

const Health = z.object({ status: z.literal('ok') }).openapi('Health');

export function registerPlatformRoutes(app: App) {
  app.openapi(
    defineRoute({
      method: 'get', path: '/health', tags: ['Platform'], public: true, summary: 'Liveness: answers without touching a database',
      responses: { 200: json(Health, 'Alive') },
    }),
    (c) => c.json({ status: 'ok' as const }, 200),
  );
}
