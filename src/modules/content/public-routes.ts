// Public content: no authentication, CORS open, served through the cache of public-cache.ts.
// Each cache key is made from the validated query only, in a fixed order: unknown parameters
// cannot multiply the cached copies or force a miss.
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../../env';
import { defineRoute, json, type App } from '../../lib/openapi';
import { EMBED_SCRIPT } from './embed';
import { servePublic, servePublicItem } from './public-cache';
import { publicFeed, publicItem, publicList, publicOrganization } from './public-service';
import { ItemQuery, OrgSlugParam, PublicItemSchema, PublicQuery } from './schemas';

const params = z.object({ org_slug: OrgSlugParam });
const itemParams = z.object({ org_slug: OrgSlugParam, slug: z.string().min(1).max(100) });

const cached = { description: 'With `ETag`; `If-None-Match` → 304. `x-cache: hit|miss`.' };
const tags = ['Public'];

/** What the public reads need of the request: plain values for the services. */
export const publicRequest = (c: Context<AppEnv>) => ({
  env: c.env,
  d1: c.get('d1'),
  ifNoneMatch: c.req.header('if-none-match'),
});

export function registerPublicContentRoutes(app: App) {
  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/public/{org_slug}/content',
      tags,
      public: true,
      summary: 'Published content, newest publication first (drafts, scheduled and archived items never appear)',
      request: { params, query: PublicQuery },
      responses: {
        200: json(z.object({ data: z.array(PublicItemSchema), next_cursor: z.string().nullable() }), 'A page'),
        304: cached,
      },
    }),
    async (c) => {
      const { org_slug } = c.req.valid('param');
      const { type, limit, cursor } = c.req.valid('query');
      const resource = `content?type=${type ?? ''}&limit=${limit}&cursor=${cursor ?? ''}`;
      return servePublic(publicRequest(c), org_slug, resource, async () =>
        publicList(await publicOrganization(publicRequest(c), org_slug), { type, limit, cursor }),
      );
    },
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/public/{org_slug}/content/{slug}',
      tags,
      public: true,
      summary: 'A published item: JSON with its sanitised `html`, or `?format=html` for the embeddable fragment',
      request: { params: itemParams, query: ItemQuery },
      responses: {
        200: {
          description: 'The item',
          content: {
            'application/json': { schema: PublicItemSchema.extend({ html: z.string() }) },
            'text/html': { schema: z.string() },
          },
        },
        304: cached,
      },
    }),
    async (c) => {
      const { org_slug, slug } = c.req.valid('param');
      const { format } = c.req.valid('query');
      return servePublicItem(publicRequest(c), org_slug, slug, format, async () =>
        publicItem(await publicOrganization(publicRequest(c), org_slug), slug, format),
      );
    },
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/public/{org_slug}/feed.xml',
      tags,
      public: true,
      summary: 'RSS 2.0 of the published blog posts',
      request: { params },
      responses: {
        200: { description: 'RSS 2.0', content: { 'application/rss+xml': { schema: z.string() } } },
        304: cached,
      },
    }),
    async (c) => {
      const { org_slug } = c.req.valid('param');
      // The feed's links are absolute: one cached copy per host the Worker is reached on.
      const origin = new URL(c.req.url).origin;
      return servePublic(publicRequest(c), org_slug, `feed.xml?origin=${encodeURIComponent(origin)}`, async () =>
        publicFeed(await publicOrganization(publicRequest(c), org_slug), origin),
      );
    },
  );

  app.get('/embed.js', (c) =>
    c.body(EMBED_SCRIPT, 200, {
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': 'public, max-age=3600',
    }),
  );
}
