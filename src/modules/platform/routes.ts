import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../../env';
import { DATA_REGIONS, USER_ROLES } from '../../db/enums';
import { catalogDb } from '../../db/shards';
import { requestInfo } from '../../auth/tenant';
import { platformAdmin } from '../../auth/users';
import { Id } from '../../lib/fields';
import { defineRoute, json, jsonBody, type App } from '../../lib/openapi';
import { pageOf, pageQuery } from '../../lib/pagination';
import { ActivitySchema } from '../activity/routes';
import { UserSchema } from '../me/routes';
import { listPlatformActivity, setUserRole } from './service';
import { listShards, setShardOpen } from './shards';

const Health = z.object({ status: z.literal('ok') }).openapi('Health');

const UserRolePatch = z
  .object({ role: z.enum(USER_ROLES) })
  .strict()
  .openapi('UserRolePatch');
const ShardSchema = z
  .object({
    binding: z.string().openapi({ example: 'SHARD_0' }),
    region: z
      .enum(DATA_REGIONS)
      .nullable()
      .openapi({ description: 'Location hint, or `eu`; null without a `shards` row' }),
    open: z.boolean().openapi({ description: 'Takes new organizations' }),
    organizations: z.number().int(),
    rows: z.number().int().openapi({ description: 'Rows of every tenant table' }),
    bytes: z.number().int().openapi({ description: "The database's size, as D1 reports it" }),
    limit_bytes: z.number().int().openapi({ description: "D1's most bytes per database" }),
    used: z.number().openapi({ description: 'bytes / limit_bytes' }),
  })
  .openapi('Shard');
const ShardPatch = z.object({ open: z.boolean() }).strict().openapi('ShardPatch');
const PlatformActivitySchema = ActivitySchema.omit({ organization_id: true }).openapi('PlatformActivity');

export function registerPlatformRoutes(app: App) {
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

  app.openapi(
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

  const shardsAction = (c: Context<AppEnv>) => ({
    env: c.env,
    catalog: catalogDb(c.env, c.get('d1')),
    d1: c.get('d1'),
    actor: c.get('platformUser'),
    request: requestInfo(c),
  });

  app.openapi(
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

  app.openapi(
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

  app.openapi(
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
}
