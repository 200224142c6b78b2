import { z } from '@hono/zod-openapi';
import { assetsBucket } from '../../db/places';
import { Id } from '../../lib/fields';
import { defineRoute, json, noContent, OrgParam, type App, type TenantApp } from '../../lib/openapi';
import { pageOf, pageQuery } from '../../lib/pagination';
import { publicOrganization } from '../content/public-service';
import { publicRequest } from '../content/public-routes';
import { OrgSlugParam } from '../content/schemas';
import {
  deleteAsset,
  getAsset,
  listAssets,
  MAX_ASSET_BYTES,
  servePublicAsset,
  uploadAsset,
  type Asset,
} from './service';
import { AssetSchema, FileName } from './schemas';

/** What the API shows of a row: its R2 key is internal; its public URL is added. */
const present = (orgSlug: string, { r2_key: _key, ...asset }: Asset) => ({
  ...asset,
  url: `/v1/public/${orgSlug}/assets/${asset.id}`,
});

const params = z.object({ org: OrgParam });
const itemParams = z.object({ org: OrgParam, id: Id });
const tags = ['Assets'];

export function registerAssetRoutes(app: TenantApp, publicApp: App) {
  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/orgs/{org}/assets',
      beside: true,
      tags,
      permission: 'assets:write',
      streamsBody: true,
      summary:
        `Upload a file as the request body (≤ ${MAX_ASSET_BYTES} bytes, with Content-Length; images, PDF, audio, video, plain ` +
        `text), its type as Content-Type`,
      request: {
        params,
        query: z.object({ name: FileName }),
        body: {
          required: true,
          content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } },
        },
      },
      responses: {
        201: json(AssetSchema, 'The asset'),
        402: { description: 'Storage quota of the tier used up' },
        411: { description: 'No Content-Length (a chunked body is refused: the size is checked before reading)' },
        413: { description: `Over ${MAX_ASSET_BYTES} bytes` },
        415: { description: 'Not an allowed type' },
      },
    }),
    async (c) => {
      const ctx = c.get('tenant');
      const row = await uploadAsset({
        ctx,
        bucket: assetsBucket(c.env, ctx.organization),
        input: {
          name: c.req.valid('query').name,
          contentType: c.req.header('content-type'),
          contentLength: c.req.header('content-length'),
          body: c.req.raw.body,
        },
      });
      return c.json(present(ctx.organization.slug, row), 201);
    },
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/assets',
      tags,
      summary: 'List assets, newest first',
      permission: 'assets:read',
      request: { params, query: z.object(pageQuery) },
      responses: { 200: json(pageOf(AssetSchema), 'A page of assets') },
    }),
    async (c) => {
      const ctx = c.get('tenant');
      const page = await listAssets({ ctx, input: c.req.valid('query') });
      return c.json({ ...page, data: page.data.map((row) => present(ctx.organization.slug, row)) }, 200);
    },
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/assets/{id}',
      tags,
      summary: "An asset's metadata",
      permission: 'assets:read',
      request: { params: itemParams },
      responses: { 200: json(AssetSchema, 'The asset') },
    }),
    async (c) => {
      const ctx = c.get('tenant');
      return c.json(present(ctx.organization.slug, await getAsset({ ctx, id: c.req.valid('param').id })), 200);
    },
  );

  app.openapi(
    defineRoute({
      method: 'delete',
      path: '/v1/orgs/{org}/assets/{id}',
      tags,
      summary: 'Delete an asset: its row, then its object',
      permission: 'assets:delete',
      request: { params: itemParams },
      responses: { 204: noContent },
    }),
    async (c) => {
      const ctx = c.get('tenant');
      await deleteAsset({ ctx, bucket: assetsBucket(c.env, ctx.organization), id: c.req.valid('param').id });
      return c.body(null, 204);
    },
  );

  publicApp.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/public/{org_slug}/assets/{id}',
      tags: ['Public'],
      public: true,
      summary: 'Download an asset (no authentication): ETag, Range, `attachment` unless an image',
      request: { params: z.object({ org_slug: OrgSlugParam, id: Id }) },
      responses: {
        200: { description: 'The file, with its stored Content-Type' },
        206: { description: 'The requested range' },
        304: { description: 'Not modified (If-None-Match)' },
        416: { description: 'Range not satisfiable' },
      },
    }),
    async (c) => {
      const { org_slug, id } = c.req.valid('param');
      const organization = await publicOrganization(publicRequest(c), org_slug);
      return servePublicAsset(organization, assetsBucket(c.env, organization), id, {
        ifNoneMatch: c.req.header('if-none-match'),
        range: c.req.header('range'),
      });
    },
  );
}
