import { catalogDb } from '../../db/shards';
import { defineRoute, json, type UserApp } from '../../lib/openapi';
import { me } from './service';
import { MeSchema } from './schemas';

export function registerMeRoutes(app: UserApp) {
  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/me',
      tags: ['Identity'],
      summary: 'The caller and their memberships',
      responses: { 200: json(MeSchema, 'The caller') },
    }),
    async (c) => c.json(await me(catalogDb(c.env, c.get('d1')), c.get('credentials')), 200),
  );
}
