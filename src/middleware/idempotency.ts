// Idempotency-Key on every mutation (POST, PUT, PATCH, DELETE): the first answer is stored for 24 h
// and replayed to a repeat with the same key, method, path and body; the same key with another
// request is refused. Costs two catalog round trips (claim the key, store the answer) and only when
// the header is sent.
// A route declared `issuesSecret` (API keys, calendar feed tokens, the appointment webhook) shows its secret once: its
// success answer is not stored (status only, body NULL), and a repeat is a 409 saying so. The
// repeat still creates nothing; the client lists the resource or issues a new secret.
import { and, eq, lt, sql } from 'drizzle-orm';
import { createMiddleware } from 'hono/factory';
import { hashApiKey } from '../auth/api-keys';
import { idempotency_keys } from '../db/catalog';
import { catalogDb } from '../db/shards';
import type { Credentials, UserEnv } from '../env';
import { sha256Hex } from '../lib/crypto';
import { ApiError, conflict } from '../lib/problem';

const REPLAY_WINDOW_MS = 24 * 60 * 60 * 1000;
/** Answers stored before this instant are past the replay window. */
const replayWindowStart = (now: Date) => new Date(now.getTime() - REPLAY_WINDOW_MS).toISOString();
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
export const MUTATIONS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

async function ownerOf(credentials: Credentials): Promise<string> {
  return credentials.type === 'session'
    ? `user:${credentials.clerkUserId}`
    : `api_key:${await hashApiKey(credentials.secret)}`;
}

export const idempotency = createMiddleware<UserEnv>(async (c, next) => {
  const key = c.req.header('idempotency-key');
  if (!MUTATIONS.has(c.req.method) || key === undefined) return next();
  if (!KEY_PATTERN.test(key)) {
    throw new ApiError('invalid_request', 'Idempotency-Key must be 1–255 printable ASCII characters.', [
      { path: 'Idempotency-Key', message: 'Must be 1–255 printable ASCII characters.' },
    ]);
  }
  const catalog = catalogDb(c.env, c.get('d1'));
  const owner = await ownerOf(c.get('credentials'));
  // The key belongs to its owner; the hash pins it to one request: method, path (the organization
  // is in it), query and body.
  const { search } = new URL(c.req.url);
  const requestHash = await sha256Hex(`${c.req.method} ${c.req.path}${search}\n${await c.req.text()}`);
  const now = new Date();
  const expired = replayWindowStart(now);

  // Claim the key: a new row, or one whose 24 h have passed. One statement, so two concurrent
  // requests with the same key cannot both run.
  const claimed = await catalog
    .insert(idempotency_keys)
    .values({ owner, key, request_hash: requestHash, created_at: now.toISOString() })
    .onConflictDoUpdate({
      target: [idempotency_keys.owner, idempotency_keys.key],
      set: {
        request_hash: requestHash,
        status: null,
        response_body: null,
        content_type: null,
        created_at: now.toISOString(),
      },
      setWhere: lt(idempotency_keys.created_at, expired),
    })
    .returning({ owner: idempotency_keys.owner })
    .get();

  const row = and(eq(idempotency_keys.owner, owner), eq(idempotency_keys.key, key));
  if (!claimed) {
    const first = await catalog.select().from(idempotency_keys).where(row).get();
    if (!first || first.request_hash !== requestHash) {
      throw conflict('This Idempotency-Key was already used with a different request.');
    }
    if (first.status === null) throw conflict('A request with this Idempotency-Key is still in progress.');
    if (first.response_body === null) {
      throw conflict(
        'The request with this Idempotency-Key succeeded and issued a secret, which is shown once and not kept: it is not replayed.',
      );
    }
    // A 204 is replayed as it was sent: a Response with that status may not carry a body at all.
    if (first.status === 204) return c.newResponse(null, 204, { 'idempotent-replayed': 'true' });
    return c.newResponse(first.response_body, first.status as 200, {
      'content-type': first.content_type ?? 'application/json',
      'idempotent-replayed': 'true',
    });
  }

  await next();

  if (c.res.status >= 500) {
    // A failure is not an answer worth replaying: free the key so the client can retry.
    await catalog.delete(idempotency_keys).where(row).run();
    return;
  }
  const secretIssued = c.get('issuesSecret') === true && c.res.status < 300;
  await catalog
    .update(idempotency_keys)
    .set({
      status: c.res.status,
      response_body: secretIssued ? null : await c.res.clone().text(),
      content_type: secretIssued ? null : c.res.headers.get('content-type'),
    })
    .where(and(row, sql`${idempotency_keys.status} IS NULL`))
    .run();
});

/** Per cron run: bounded, so that one run stays short; a backlog goes over the next runs. */
const EXPIRED_KEYS_PER_RUN = 5000;

/**
 * The cron's clean-up: answers older than the replay window are never replayed again (the claim
 * overwrites them), so they go, with whatever of an organization's data they held.
 */
export async function deleteExpiredIdempotencyKeys(catalog: D1Database, now: Date): Promise<void> {
  const expired = replayWindowStart(now);
  await catalog
    .prepare(
      'DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys WHERE created_at < ?1 LIMIT ?2)',
    )
    .bind(expired, EXPIRED_KEYS_PER_RUN)
    .run();
}
