import { z } from '@hono/zod-openapi';
import { CONTENT_STATUSES, CONTENT_TYPES } from '../../db/enums';
import { Derived, Id, JsonObject, SearchText, SERVER_SET, WebUrl } from '../../lib/fields';
import { defineRoute, json, jsonBody, optionalJsonBody, noContent, OrgParam, type App } from '../../lib/openapi';
import { pageOf, pageQuery } from '../../lib/pagination';
import { MARKDOWN_MAX_CHARS, MARKDOWN_MAX_DEPTH, MARKDOWN_TOO_LONG } from './render';
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

export const SeoMetaSchema = JsonObject(8, {
  title: z.string().trim().min(1).max(200),
  description: z.string().trim().min(1).max(500),
  canonical_url: WebUrl().openapi({ description: "The feed's link to the item" }),
  image: WebUrl().openapi({ description: 'An http(s) image URL, e.g. a public asset URL' }),
}).openapi('SeoMeta', {
  description:
    'Any JSON object (≤ 8 KB): the keys Strive reads are checked when present, others are kept as sent. Public with the item once it is published',
});

const Slug = z
  .string()
  .max(100)
  .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'Lower-case letters and digits in words joined by single hyphens.')
  .openapi({ example: 'hello-world' });

export const ContentSchema = z
  .object({
    id: Id,
    organization_id: Id,
    title: z.string(),
    slug: z.string(),
    content: z.string().openapi({ description: 'Markdown' }),
    html: z.string().openapi({ description: 'The sanitised HTML rendering of `content`, made on write' }),
    excerpt: z.string().nullable(),
    content_type: z.enum(CONTENT_TYPES),
    status: z.enum(CONTENT_STATUSES),
    seo_meta: SeoMetaSchema,
    author_id: z.string().nullable(),
    published_at: z
      .string()
      .nullable()
      .openapi({ description: 'Public from this instant on (a future one schedules)' }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Content');

const ContentSummarySchema = ContentSchema.omit({ content: true, html: true }).openapi('ContentSummary');

const fields = {
  title: z.string().trim().min(1).max(300),
  slug: Slug.openapi({ description: 'Unique in the organization; made from the title when absent' }),
  content: z
    .string()
    .max(MARKDOWN_MAX_CHARS, MARKDOWN_TOO_LONG)
    .openapi({
      description: `Markdown; rendered and sanitised on write. At most ${MARKDOWN_MAX_CHARS} characters, block quotes and lists nested at most ${MARKDOWN_MAX_DEPTH} deep`,
    }),
  excerpt: z.string().trim().max(1000).nullable(),
  content_type: z.enum(CONTENT_TYPES),
  seo_meta: SeoMetaSchema,
  ...SERVER_SET,
  status: Derived('`draft` on creation; POST …/publish, /unpublish and /archive change it.'),
  published_at: Derived('set by POST …/publish (now, or a future instant that schedules), cleared by /unpublish.'),
  author_id: Derived("the acting user (an API key's creator) when the item is created."),
  html: Derived('rendered from `content` (Markdown) and sanitised on every write.'),
};

const ContentCreate = z.object(fields).partial().required({ title: true }).strict().openapi('ContentCreate');
const ContentPatch = z.object(fields).partial().strict().openapi('ContentPatch');
const Publish = z
  .object({
    published_at: z.iso
      .datetime({ offset: true })
      .transform((at) => new Date(at).toISOString())
      .openapi({ description: 'Default now; a future instant schedules the publication' }),
  })
  .partial()
  .strict()
  .openapi('ContentPublish');

const ContentQuery = z.object({
  ...pageQuery,
  status: z.enum(CONTENT_STATUSES).optional(),
  content_type: z.enum(CONTENT_TYPES).optional(),
  q: SearchText.openapi({
    description: 'Words (or word beginnings) of title, excerpt or body; empty: no search',
  }),
});

const params = z.object({ org: OrgParam });
const itemParams = z.object({ org: OrgParam, id: Id });
const tags = ['Content'];

export function registerContentRoutes(app: App) {
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
