// Content's shapes: the read shapes, create, patch, publish and the list query; the public API's query and item.
import { z } from '@hono/zod-openapi';
import { CONTENT_STATUSES, CONTENT_TYPES } from '../../db/enums';
import { Derived, Id, JsonObject, SearchText, SERVER_SET, WebUrl } from '../../lib/fields';
import { pageQuery, timePageQuery } from '../../lib/pagination';
import { MARKDOWN_MAX_CHARS, MARKDOWN_MAX_DEPTH, MARKDOWN_TOO_LONG } from './render';

export const SeoMetaSchema = JsonObject(8, {
  title: z.string().trim().min(1).max(200),
  description: z.string().trim().min(1).max(500),
  canonical_url: WebUrl().openapi({ description: "The feed's link to the item" }),
  image: WebUrl().openapi({ description: 'An http(s) image URL, e.g. a public asset URL' }),
}).openapi('SeoMeta', {
  description:
    'Any JSON object (≤ 8 KB): the keys Strive reads are checked when present, others are kept as sent. Public with the item once it ' +
    'is published',
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

export const ContentSummarySchema = ContentSchema.omit({ content: true, html: true }).openapi('ContentSummary');

const fields = {
  title: z.string().trim().min(1).max(300),
  slug: Slug.openapi({ description: 'Unique in the organization; made from the title when absent' }),
  content: z
    .string()
    .max(MARKDOWN_MAX_CHARS, MARKDOWN_TOO_LONG)
    .openapi({
      description:
        `Markdown; rendered and sanitised on write. At most ${MARKDOWN_MAX_CHARS} characters, block quotes and lists nested ` +
        `at most ${MARKDOWN_MAX_DEPTH} deep`,
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

export const ContentCreate = z.object(fields).partial().required({ title: true }).strict().openapi('ContentCreate');

export const ContentPatch = z.object(fields).partial().strict().openapi('ContentPatch');

export const Publish = z
  .object({
    published_at: z.iso
      .datetime({ offset: true })
      .transform((at) => new Date(at).toISOString())
      .openapi({ description: 'Default now; a future instant schedules the publication' }),
  })
  .partial()
  .strict()
  .openapi('ContentPublish');

export const ContentQuery = z.object({
  ...pageQuery,
  status: z.enum(CONTENT_STATUSES).optional(),
  content_type: z.enum(CONTENT_TYPES).optional(),
  q: SearchText.openapi({
    description: 'Words (or word beginnings) of title, excerpt or body; empty: no search',
  }),
});

export const OrgSlugParam = z
  .string()
  .min(1)
  .max(64)
  .openapi({ description: "The organization's slug", example: 'acme' });

export const PublicQuery = z.object({ ...timePageQuery, type: z.enum(CONTENT_TYPES).optional() });

export const ItemQuery = z.object({
  format: z
    .enum(['json', 'html'])
    .default('json')
    .openapi({ description: '`html`: an embeddable fragment (sanitised)' }),
});

export const PublicItemSchema = z
  .object({
    id: z.string(),
    slug: z.string(),
    title: z.string(),
    excerpt: z.string().nullable(),
    content_type: z.enum(CONTENT_TYPES),
    seo_meta: z.record(z.string(), z.unknown()),
    published_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('PublicContentSummary');

export type ContentCreate = z.output<typeof ContentCreate>;
export type ContentPatch = z.output<typeof ContentPatch>;
export type ContentQuery = z.output<typeof ContentQuery>;
export type PublicQuery = z.output<typeof PublicQuery>;
