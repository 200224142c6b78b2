import { z } from '@hono/zod-openapi';
import { catalogDb } from '../../db/shards';
import { requestInfo } from '../../auth/tenant';
import { platformAdmin } from '../../auth/users';
import { Id } from '../../lib/fields';
import { defineRoute, json, jsonBody, type AdminApp, type App } from '../../lib/openapi';
import { pageOf, pageQuery } from '../../lib/pagination';
import { UserSchema } from '../me/schemas';
import { listPlatformActivity, setUserRole } from './service';
import { Health, PlatformActivitySchema, UserRolePatch } from './schemas';

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
}
