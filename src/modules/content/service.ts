// CMS content. Markdown is rendered to sanitised HTML on write (render.ts), so public reads serve
// stored HTML. Every write is one shard batch with its audit row; a write that changes what the
// public sees then purges the organization's public cache (public-cache.ts) before answering: its
// lists and feed, and the item under every slug it had or has (read in the same batch).
//
// Workflow: draft → published (now, or scheduled by a future `published_at`) → draft again
// (unpublish) or archived. Members write drafts; changing a published or archived item, like
// publishing, takes `content:publish`; archiving takes `content:archive` (admins, and platform
// moderators in any organization).
import { and, eq, getTableColumns } from 'drizzle-orm';
import { content } from '../../db/tenant';
import { isUniqueViolation } from '../../db/errors';
import type { TenantContext } from '../../env';
import { actingUserId, requirePermission } from '../../auth/tenant';
import { uuidv7 } from '../../lib/ids';
import { newestFirst } from '../../lib/pagination';
import { conflict, forbidden, invalid, notFound } from '../../lib/problem';
import { auditedDelete, auditedInsert, auditedUpdate } from '../activity/audit';
import { purgePublicContent } from './public-cache';
import { renderMarkdown } from './render';
import { matchesWords, slugify } from '../../lib/text';
import type { ContentCreate, ContentPatch, ContentQuery } from './schemas';

export type Content = typeof content.$inferSelect;

const described = (action: string) => ({ action: `content.${action}` as const, resource_type: 'content' });

/** A slug made from a title: lower-case ASCII words joined by hyphens (é → e). */
export const slugFromTitle = (title: string) => slugify(title, 100);

/** The list leaves out `content` and `html`: a page of full documents could weigh megabytes. */
const { content: _markdown, html: _html, ...summaryFields } = getTableColumns(content);

/** The item's slug as it is before the batch's write: its cached public copy is under it. */
const slugBefore = (ctx: TenantContext, id: string) =>
  ctx.store.selectFields(content, { slug: content.slug }, eq(content.id, id));
const slugsIn = (before: unknown[] | undefined) => ((before?.[0] ?? []) as { slug: string }[]).map((row) => row.slug);

export async function listContent({ ctx, input }: { ctx: TenantContext; input: ContentQuery }) {
  requirePermission(ctx, 'content:read');
  return newestFirst(content.id, input, (after) =>
    ctx.store.selectFields(
      content,
      summaryFields,
      and(
        input.status ? eq(content.status, input.status) : undefined,
        input.content_type ? eq(content.content_type, input.content_type) : undefined,
        input.q ? matchesWords(content, 'content_fts', input.q, ctx.organization.id) : undefined,
        after,
      ),
    ),
  );
}

export async function getContent({ ctx, id }: { ctx: TenantContext; id: string }) {
  requirePermission(ctx, 'content:read');
  const row = await ctx.store.select(content, eq(content.id, id)).get();
  if (!row) throw notFound('content');
  return row;
}

/** Slug taken → 409, from the unique index: the check and the write are one statement. */
async function slugUnique<T>(write: Promise<T>): Promise<T> {
  try {
    return await write;
  } catch (error) {
    if (isUniqueViolation(error, 'slug')) throw conflict('Another item of this organization already has this slug.');
    throw error;
  }
}

export async function createContent({ ctx, input }: { ctx: TenantContext; input: ContentCreate }) {
  requirePermission(ctx, 'content:write');
  const slug = input.slug ?? slugFromTitle(input.title);
  if (!slug) throw invalid('slug', 'The title has no letters or digits to make a slug from: send a slug.');
  const markdown = input.content ?? '';
  const now = new Date().toISOString();
  return slugUnique(
    auditedInsert(
      ctx,
      content,
      {
        id: uuidv7(),
        title: input.title,
        slug,
        content: markdown,
        html: renderMarkdown(markdown),
        excerpt: input.excerpt ?? null,
        content_type: input.content_type ?? 'page',
        status: 'draft',
        seo_meta: input.seo_meta ?? {},
        author_id: actingUserId(ctx.actor),
        published_at: null,
        created_at: now,
        updated_at: now,
      },
      described('create'),
    ),
  );
}

/**
 * An edit. Without `content:publish` only drafts can be edited: the guard rides in the update's
 * WHERE, so a published item cannot be changed between a check and the write.
 */
export async function updateContent({ ctx, id, input }: { ctx: TenantContext; id: string; input: ContentPatch }) {
  requirePermission(ctx, 'content:write');
  const mayPublish = ctx.permissions.has('content:publish');
  const patch = input.content === undefined ? input : { ...input, html: renderMarkdown(input.content) };
  const { row, changed, before } = await slugUnique(
    auditedUpdate(ctx, content, id, patch, described('update'), {
      guard: mayPublish ? undefined : eq(content.status, 'draft'),
      before: [slugBefore(ctx, id)],
    }),
  );
  if (!changed && row.status !== 'draft' && !mayPublish) throw forbidden('content:publish');
  if (changed && row.status === 'published') await purgePublicContent(ctx, [row.slug, ...slugsIn(before)]);
  return row;
}

export async function deleteContent({ ctx, id }: { ctx: TenantContext; id: string }) {
  requirePermission(ctx, 'content:delete');
  const before = await auditedDelete(ctx, content, id, described('delete'), [slugBefore(ctx, id)]);
  await purgePublicContent(ctx, slugsIn(before));
}

/** The state changes: each one a guarded update and its audit row, then a purge. */
async function transition(
  ctx: TenantContext,
  id: string,
  action: string,
  patch: Partial<Pick<Content, 'status' | 'published_at'>>,
) {
  const { row, changed } = await auditedUpdate(ctx, content, id, patch, described(action));
  if (changed) await purgePublicContent(ctx, [row.slug]);
  return row;
}

/**
 * Published items are public from `published_at` on: a query-time rule (status = 'published' AND
 * published_at <= now), exact to the request, with no cron. A future `published_at` schedules.
 */
export async function publishContent({
  ctx,
  id,
  publishedAt,
}: {
  ctx: TenantContext;
  id: string;
  publishedAt?: string;
}) {
  requirePermission(ctx, 'content:publish');
  return transition(ctx, id, 'publish', { status: 'published', published_at: publishedAt ?? new Date().toISOString() });
}

export async function unpublishContent({ ctx, id }: { ctx: TenantContext; id: string }) {
  requirePermission(ctx, 'content:publish');
  return transition(ctx, id, 'unpublish', { status: 'draft', published_at: null });
}

export async function archiveContent({ ctx, id }: { ctx: TenantContext; id: string }) {
  requirePermission(ctx, 'content:archive');
  return transition(ctx, id, 'archive', { status: 'archived' });
}
