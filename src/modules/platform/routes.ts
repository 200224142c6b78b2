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
import {
  Health,
  MoveSchema,
  MoveStart,
  PlatformActivitySchema,
  ShardPatch,
  ShardSchema,
  UserRolePatch,
} from './schemas';
import { cancelMove, defaultMoveOptions, getMove, runMove, startMove } from './moves';
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

  adminApp.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/admin/organizations/{org}/moves',
      tags: ['Platform'],
      middleware: [platformAdmin],
      summary:
        'Start moving an organization to another shard (platform admins; audited). Its writes answer 503 `moving` until the flip; ' +
        'POST …/moves/{id}/step drives it (npm run org:move)',
      request: { params: z.object({ org: z.string().max(100) }), body: jsonBody(MoveStart) },
      responses: { 201: json(MoveSchema, 'The move, recorded') },
    }),
    async (c) => c.json(await startMove(shardsAction(c), c.req.valid('param').org, c.req.valid('json')), 201),
  );

  adminApp.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/admin/moves/{id}',
      tags: ['Platform'],
      middleware: [platformAdmin],
      summary: 'A move: its phase, progress and checks (platform admins)',
      request: { params: z.object({ id: Id }) },
      responses: { 200: json(MoveSchema, 'The move') },
    }),
    async (c) => c.json(await getMove(shardsAction(c), c.req.valid('param').id), 200),
  );

  adminApp.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/admin/moves/{id}/step',
      tags: ['Platform'],
      middleware: [platformAdmin],
      summary:
        'Run the move for up to a few seconds, one bounded step after another, from its recorded phase (platform admins); ' +
        'send again until `done`, after `wait_ms`',
      request: { params: z.object({ id: Id }) },
      responses: { 200: json(MoveSchema, 'The move, as far as it got') },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      await getMove(shardsAction(c), id); // 404 for no such move
      return c.json(await runMove(c.env, id, defaultMoveOptions(c.env), STEP_BUDGET_MS, c.var.d1), 200);
    },
  );

  adminApp.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/admin/moves/{id}/cancel',
      tags: ['Platform'],
      middleware: [platformAdmin],
      summary: 'Cancel a move before its flip: its next steps roll it back (platform admins; audited)',
      request: { params: z.object({ id: Id }) },
      responses: { 200: json(MoveSchema, 'The move, rolling back') },
    }),
    async (c) => c.json(await cancelMove(shardsAction(c), c.req.valid('param').id), 200),
  );
}

/** One step request's work: well inside a Worker request's limits, short enough to show progress. */
const STEP_BUDGET_MS = 5_000;
