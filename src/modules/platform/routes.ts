import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AdminEnv } from '../../env';
import { catalogDb } from '../../db/shards';
import { requestInfo } from '../../auth/tenant';
import { platformAdmin } from '../../auth/users';
import { Id } from '../../lib/fields';
import { defineRoute, json, jsonBody, type AdminApp, type App } from '../../lib/openapi';
import { pageOf, pageQuery } from '../../lib/pagination';
import { UserSchema } from '../me/schemas';
import { listPlatformActivity, setUserRole } from './service';
import { Health, PlatformActivitySchema, ShardPatch, ShardSchema, UserRolePatch } from './schemas';
import { listShards, setShardOpen } from './shards';

/** What the shard actions need of an admin request: plain values. */
const shardsAction = (c: Context<AdminEnv>) => ({
  env: c.env,
  catalog: catalogDb(c.env, c.get('d1')),
  d1: c.get('d1'),
  actor: c.get('platformUser'),
  request: requestInfo(c),
});

export function registerPlatformRoutes(app: App, adminApp: AdminApp) {
  app.openapi(
    defineRoute({
      method: 'get',
      path: '/health',
      tags: ['Platform'],
      public: true,
      summary: 'Liveness: answers without touching a database',
      responses: { 200: json(Health, 'Alive') },
    }),
    (c) => c.json({ status: 'ok' as const }, 200),
  );

  adminApp.openapi(
    defineRoute({
      method: 'patch',
      path: '/v1/admin/users/{id}',
      tags: ['Platform'],
      middleware: [platformAdmin],
      summary: "Set a user's global role (platform admins; audited in the platform activity log)",
      request: { params: z.object({ id: Id }), body: jsonBody(UserRolePatch) },
      responses: { 200: json(UserSchema, 'The user') },
    }),
    async (c) => {
      const action = {
        catalog: catalogDb(c.env, c.get('d1')),
        d1: c.get('d1'),
        actor: c.get('platformUser'),
        request: requestInfo(c),
      };
      return c.json(await setUserRole(action, c.req.valid('param').id, c.req.valid('json').role), 200);
    },
  );

  adminApp.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/admin/activity',
      tags: ['Platform'],
      middleware: [platformAdmin],
      summary: 'The platform activity log (global role changes), newest first (platform admins)',
      request: { query: z.object(pageQuery) },
      responses: { 200: json(pageOf(PlatformActivitySchema), 'A page of platform activity') },
    }),
    async (c) =>
      c.json(
        await listPlatformActivity(
          { catalog: catalogDb(c.env, c.get('d1')), actor: c.get('platformUser') },
          c.req.valid('query'),
        ),
        200,
      ),
  );

  adminApp.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/admin/shards',
      tags: ['Platform'],
      middleware: [platformAdmin],
      summary:
        "Every shard: its place, whether it takes new organizations, what it holds against D1's limit (platform admins)",
      responses: { 200: json(z.object({ data: z.array(ShardSchema) }), 'The shards') },
    }),
    async (c) => c.json({ data: await listShards(shardsAction(c)) }, 200),
  );

  adminApp.openapi(
    defineRoute({
      method: 'patch',
      path: '/v1/admin/shards/{binding}',
      tags: ['Platform'],
      middleware: [platformAdmin],
      summary: 'Open or close a shard to new organizations (platform admins; audited in the platform activity log)',
      request: { params: z.object({ binding: z.string().max(20) }), body: jsonBody(ShardPatch) },
      responses: { 200: json(ShardSchema, 'The shard') },
    }),
    async (c) =>
      c.json(await setShardOpen(shardsAction(c), c.req.valid('param').binding, c.req.valid('json').open), 200),
  );
}
