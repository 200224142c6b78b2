// CMS assets: bytes in R2 (`ASSETS`) at orgs/{org_id}/assets/{asset_id}/{file_name}, a metadata
// row in the organization's shard. The row is what makes an object an asset, so the order of
// every two-step change is chosen to never leave a row without its bytes:
// - upload: its size reserved against the storage quota first (usage/quota.ts), then the object,
//   then the row with its audit row and the reservation's release (one batch); if that batch
//   fails the object is deleted again and the reservation released.
// - delete: the row and its audit row first (one batch), then the object. If the object's delete
//   fails, it is left unreachable (nothing serves an object without its row) under its
//   organization's prefix, logged with its key, and removed with that prefix when the
//   organization is deleted; nobody loses a file they can still see listed. The reverse order
//   could leave a listed asset whose bytes are gone.
import { eq } from 'drizzle-orm';
import { assets } from '../../db/tenant';
import type { TenantStore } from '../../db/tenant-store';
import type { TenantContext } from '../../env';
import { actingUserId, requirePermission } from '../../auth/tenant';
import { uuidv7 } from '../../lib/ids';
import { newestFirst } from '../../lib/pagination';
import { ApiError, invalid, notFound } from '../../lib/problem';
import { auditedDelete, auditedInsert } from '../activity/audit';
import { releaseStorage, reserveStorage } from '../usage/quota';

export const MAX_ASSET_BYTES = 25 * 1024 * 1024;

/** Served as themselves: images (no SVG, which can carry script), PDF, audio, video, plain text. */
export const ASSET_TYPES: ReadonlySet<string> = new Set([
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'image/avif',
  'application/pdf',
  'audio/mpeg',
  'audio/ogg',
  'audio/wav',
  'audio/webm',
  'audio/aac',
  'audio/mp4',
  'audio/flac',
  'video/mp4',
  'video/webm',
  'video/ogg',
  'video/quicktime',
  'text/plain',
]);

export type Asset = typeof assets.$inferSelect;
export type Upload = {
  name: string;
  contentType: string | undefined;
  contentLength: string | undefined;
  body: ReadableStream<Uint8Array> | null;
};

/** Everything of an organization in R2 lives under this prefix. */
const organizationPrefix = (organizationId: string) => `orgs/${organizationId}/`;

const described = (action: 'create' | 'delete') => ({ action: `asset.${action}` as const, resource_type: 'asset' });
const tooLarge = () => new ApiError('payload_too_large', `Assets are limited to ${MAX_ASSET_BYTES} bytes.`);

/** The media type without parameters, lower-cased: what is checked and stored. */
const mediaType = (header: string | undefined) => header?.split(';')[0]!.trim().toLowerCase() ?? '';

/**
 * Counts the bytes going through and ends the stream early past `max`, whatever the runtime let
 * through: the consumer then sees a short body (FixedLengthStream fails) and the count says why.
 */
function byteLimit(max: number) {
  const state = { bytes: 0 };
  const stream = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      state.bytes += chunk.byteLength;
      if (state.bytes > max) {
        controller.terminate();
        return;
      }
      controller.enqueue(chunk);
    },
  });
  return { stream, state };
}

export async function uploadAsset({ ctx, bucket, input }: { ctx: TenantContext; bucket: R2Bucket; input: Upload }) {
  requirePermission(ctx, 'assets:write');
  const contentType = mediaType(input.contentType);
  if (!ASSET_TYPES.has(contentType)) {
    throw new ApiError(
      'unsupported_media_type',
      `Assets may be images, PDF, audio, video or plain text, not '${contentType || 'none'}'.`,
    );
  }
  // R2 needs the length up front, and the bytes are reserved against the quota before one is
  // read: a body without a declared length (chunked) would have to be buffered first, so it is refused.
  if (input.contentLength === undefined) {
    throw new ApiError(
      'length_required',
      'Send the file with a Content-Length: its size is checked against the limit and the quota before it is read.',
    );
  }
  const declared = Number(input.contentLength);
  if (!(Number.isSafeInteger(declared) && declared >= 0)) throw invalid('Content-Length', 'Not a byte count.');
  if (declared > MAX_ASSET_BYTES) throw tooLarge();
  if (!input.body || declared === 0) throw invalid('body', 'The file is empty.');
  const id = uuidv7();
  await reserveStorage(ctx, id, declared);
  let row: Asset;
  try {
    row = await storeAsset(ctx, bucket, { id, name: input.name, contentType, size: declared, body: input.body });
  } catch (error) {
    // The row's batch releases the reservation when it commits; whatever failed before frees it
    // here (and should even this fail, the reservation lapses).
    await releaseStorage(ctx, id)
      .run()
      .catch((release) => console.error(`asset ${id}: storage reservation not released`, release));
    throw error;
  }
  ctx.meter.record({ resource_type: 'storage', quantity: declared, resource_name: id });
  return row;
}

/** The bytes into R2, then the row with its audit row and the reservation's release (one batch). */
async function storeAsset(
  ctx: TenantContext,
  bucket: R2Bucket,
  file: { id: string; name: string; contentType: string; size: number; body: ReadableStream<Uint8Array> },
): Promise<Asset> {
  // The count and FixedLengthStream hold the body to its declared length.
  const limit = byteLimit(file.size);
  const payload = file.body.pipeThrough(limit.stream).pipeThrough(new FixedLengthStream(file.size));
  const key = `${organizationPrefix(ctx.organization.id)}assets/${file.id}/${file.name}`;
  let object: R2Object;
  try {
    object = await bucket.put(key, payload, { httpMetadata: { contentType: file.contentType } });
  } catch (error) {
    if (limit.state.bytes !== file.size)
      throw invalid('body', `The body does not have its Content-Length (${file.size} bytes).`);
    throw error;
  }
  try {
    return await auditedInsert(
      ctx,
      assets,
      {
        id: file.id,
        file_name: file.name,
        content_type: file.contentType,
        size: file.size,
        etag: object.httpEtag,
        r2_key: key,
        created_by: actingUserId(ctx.actor),
        created_at: new Date().toISOString(),
      },
      described('create'),
      [releaseStorage(ctx, file.id)],
    );
  } catch (error) {
    await bucket.delete(key); // no object without its row
    throw error;
  }
}

export async function listAssets({ ctx, input }: { ctx: TenantContext; input: { limit: number; cursor?: string } }) {
  requirePermission(ctx, 'assets:read');
  return newestFirst(assets.id, input, (after) => ctx.store.select(assets, after));
}

export async function getAsset({ ctx, id }: { ctx: TenantContext; id: string }) {
  requirePermission(ctx, 'assets:read');
  const row = await ctx.store.select(assets, eq(assets.id, id)).get();
  if (!row) throw notFound('asset');
  return row;
}

export async function deleteAsset({ ctx, bucket, id }: { ctx: TenantContext; bucket: R2Bucket; id: string }) {
  requirePermission(ctx, 'assets:delete');
  // The row is read in the batch that deletes it: its key and size, in one round trip.
  const [rows] = await auditedDelete(ctx, assets, id, described('delete'), [
    ctx.store.select(assets, eq(assets.id, id)),
  ]);
  const row = (rows as Asset[])[0]!;
  ctx.meter.record({ resource_type: 'storage', quantity: -row.size, resource_name: id });
  try {
    await bucket.delete(row.r2_key);
  } catch (error) {
    console.error(`asset ${id}: row deleted, object ${row.r2_key} left until its organization is deleted`, error);
  }
}

/**
 * Deletes every R2 object of the organization, a listed page (R2's maximum, 1000 keys) per
 * delete call. A failure throws: the caller has not yet deleted the organization, so it can run
 * again.
 */
export async function deleteOrganizationObjects(bucket: R2Bucket, organizationId: string): Promise<void> {
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix: organizationPrefix(organizationId), limit: 1000, cursor });
    if (page.objects.length > 0) await bucket.delete(page.objects.map((object) => object.key));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
}

/** A single `bytes=` range; anything else (several ranges, garbage) is ignored: the whole file. */
export function parseRange(
  header: string | undefined,
  size: number,
): { offset: number; length: number } | 'unsatisfiable' | undefined {
  const match = header && /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (!match[1] && !match[2])) return undefined;
  if (!match[1]) {
    const suffix = Number(match[2]);
    if (suffix === 0) return 'unsatisfiable';
    const offset = Math.max(0, size - suffix);
    return { offset, length: size - offset };
  }
  const start = Number(match[1]);
  if (start >= size) return 'unsatisfiable';
  const end = match[2] ? Number(match[2]) : size - 1;
  if (end < start) return undefined;
  return { offset: start, length: Math.min(end, size - 1) - start + 1 };
}

/**
 * Public delivery, streamed from R2: ETag and 304, one Range (206, 416), the stored type, and
 * `attachment` for anything that is not an image, so no upload renders as a page of this origin.
 */
export async function servePublicAsset(
  org: { store: TenantStore },
  bucket: R2Bucket,
  id: string,
  request: { ifNoneMatch?: string; range?: string },
) {
  const row = await org.store.select(assets, eq(assets.id, id)).get();
  if (!row) throw notFound('asset');
  const disposition =
    `${row.content_type.startsWith('image/') ? 'inline' : 'attachment'}; ` +
    `filename*=UTF-8''${encodeURIComponent(row.file_name)}`;
  const headers: Record<string, string> = {
    etag: row.etag,
    'accept-ranges': 'bytes',
    'cache-control': 'public, max-age=3600',
    'content-type': row.content_type,
    'content-disposition': disposition,
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; sandbox",
  };
  if (request.ifNoneMatch?.split(',').some((tag) => tag.trim().replace(/^W\//, '') === row.etag)) {
    return new Response(null, { status: 304, headers });
  }
  const range = parseRange(request.range, row.size);
  if (range === 'unsatisfiable') {
    throw new ApiError('range_not_satisfiable', `The file has ${row.size} bytes.`, undefined, {
      'content-range': `bytes */${row.size}`,
    });
  }
  const object = await bucket.get(row.r2_key, range ? { range } : {});
  if (!object) throw notFound('asset');
  if (!range)
    return new Response(object.body, { status: 200, headers: { ...headers, 'content-length': String(row.size) } });
  return new Response(object.body, {
    status: 206,
    headers: {
      ...headers,
      'content-length': String(range.length),
      'content-range': `bytes ${range.offset}-${range.offset + range.length - 1}/${row.size}`,
    },
  });
}
