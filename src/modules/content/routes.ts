import { z } from '@hono/zod-openapi';
import { Id } from '../../lib/fields';
import { defineRoute, json, jsonBody, optionalJsonBody, noContent, OrgParam, type TenantApp } from '../../lib/openapi';
import { pageOf } from '../../lib/pagination';
import {
  archiveContent,
  createContent,
  deleteContent,
  getContent,
  listContent,
  publishContent,
  unpublishContent,
  updateContent,
} from './service';
import { ContentCreate, ContentPatch, ContentQuery, ContentSchema, ContentSummarySchema, Publish } from './schemas';

const params = z.object({ org: OrgParam });
const itemParams = z.object({ org: OrgParam, id: Id });
const tags = ['Content'];

export function registerContentRoutes(app: TenantApp) {
  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/content',
      tags,
      summary: 'List content (every status), newest first',
      permission: 'content:read',
      request: { params, query: ContentQuery },
      responses: { 200: json(pageOf(ContentSummarySchema), 'A page of content, without `content` and `html`') },
    }),
    async (c) => c.json(await listContent({ ctx: c.get('tenant'), input: c.req.valid('query') }), 200),
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/orgs/{org}/content',
      tags,
      summary: 'Create a draft',
      permission: 'content:write',
      request: { params, body: jsonBody(ContentCreate) },
      responses: { 201: json(ContentSchema, 'The draft') },
    }),
    async (c) => c.json(await createContent({ ctx: c.get('tenant'), input: c.req.valid('json') }), 201),
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/content/{id}',
      tags,
      summary: 'Get an item',
      permission: 'content:read',
      request: { params: itemParams },
      responses: { 200: json(ContentSchema, 'The item') },
    }),
    async (c) => c.json(await getContent({ ctx: c.get('tenant'), id: c.req.valid('param').id }), 200),
  );

  app.openapi(
    defineRoute({
      method: 'patch',
      path: '/v1/orgs/{org}/content/{id}',
      tags,
      permission: 'content:write',
      summary:
        'Edit an item (a published or archived one also needs content:publish); a published one is purged from the public cache',
      request: { params: itemParams, body: jsonBody(ContentPatch) },
      responses: { 200: json(ContentSchema, 'The item') },
    }),
    async (c) =>
      c.json(
        await updateContent({ ctx: c.get('tenant'), id: c.req.valid('param').id, input: c.req.valid('json') }),
        200,
      ),
  );

  app.openapi(
    defineRoute({
      method: 'delete',
      path: '/v1/orgs/{org}/content/{id}',
      tags,
      summary: 'Delete an item',
      permission: 'content:delete',
      request: { params: itemParams },
      responses: { 204: noContent },
    }),
    async (c) => {
      await deleteContent({ ctx: c.get('tenant'), id: c.req.valid('param').id });
      return c.body(null, 204);
    },
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/orgs/{org}/content/{id}/publish',
      tags,
      permission: 'content:publish',
      summary: 'Publish now, or at a future `published_at` (public from that instant; no job involved)',
      request: { params: itemParams, body: optionalJsonBody(Publish) },
      responses: { 200: json(ContentSchema, 'The item') },
    }),
    async (c) => {
      const body = c.req.valid('json') as z.infer<typeof Publish> | undefined;
      return c.json(
        await publishContent({ ctx: c.get('tenant'), id: c.req.valid('param').id, publishedAt: body?.published_at }),
        200,
      );
    },
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/orgs/{org}/content/{id}/unpublish',
      tags,
      summary: 'Back to draft',
      permission: 'content:publish',
      request: { params: itemParams },
      responses: { 200: json(ContentSchema, 'The item') },
    }),
    async (c) => c.json(await unpublishContent({ ctx: c.get('tenant'), id: c.req.valid('param').id }), 200),
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/orgs/{org}/content/{id}/archive',
      tags,
      summary: 'Archive (admins; platform moderators in any organization)',
      permission: 'content:archive',
      request: { params: itemParams },
      responses: { 200: json(ContentSchema, 'The item') },
    }),
    async (c) => c.json(await archiveContent({ ctx: c.get('tenant'), id: c.req.valid('param').id }), 200),
  );
}
