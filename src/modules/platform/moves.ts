// Online moves of an organization between shards (issue 16), a state machine recorded in the
// catalog (organization_moves) and advanced one bounded, idempotent step at a time from its phase
// and cursor, so that a crash anywhere resumes where the record says:
//
//   requested → fenced → copying → verifying → verified → flipped → cleaning → cleaned
//                 └──────────┴──────────┴──────────┴→ rolling_back → rolled_back
//
// - fence: a move_fences row on the source shard; its triggers (tenant migration 0010) refuse
//   every write of the organization there, whoever sends it (requests → 503 `moving`, objects,
//   consumers → retried). It holds from its commit in every isolate: no cache to wait out.
//   Reads go on from the source.
// - copy: every tenant table, parents first, in pages by primary key (one JSON parameter per
//   INSERT, ON CONFLICT DO NOTHING: a page done again adds nothing); tasks' parent links in a
//   second pass (a task may point at a newer one). activity_logs goes before webhook_endpoints, so
//   the outbox trigger finds no active endpoint and makes no event again. The FTS triggers index
//   the rows on the destination. R2 objects are copied when the bucket changes (EU ↔ not).
// - verify: per table (and objects), rows and a sum of row hashes read back from both sides.
//   A mismatch rolls back: the destination's rows (and copied objects) go, the fence is lifted.
// - flip: organizations.shard in one catalog batch with the phase; caches purged, open sockets
//   closed (their clients reconnect and read the new shard). The source keeps its fence.
// - clean: after MOVE_SETTLE_MS (a request or chat answer that read the old shard before the flip
//   has ended), the source rows and old-bucket objects are deleted and the fence last.
import { and, eq, getTableColumns, getTableName, lt, notInArray, sql } from 'drizzle-orm';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';
import { forgetAccess } from '../../auth/access-cache';
import { requirePlatformAdmin } from '../../auth/users';
import {
  organization_moves,
  organizations,
  platform_activity_logs,
  shards,
  type MoveCheck,
  type MoveCursor,
} from '../../db/catalog';
import { ENDED_MOVE_PHASES, type DataRegion, type MovePhase } from '../../db/enums';
import { isUniqueViolation } from '../../db/errors';
import { assetsBucket } from '../../db/places';
import { D1Sessions } from '../../db/sessions';
import { catalogDb, shardBinding, shardCount, type CatalogDb } from '../../db/shards';
import * as tenant from '../../db/tenant';
import type { Bindings, RequestInfo, SessionUser } from '../../env';
import { uuidv7 } from '../../lib/ids';
import { conflict, invalid, notFound } from '../../lib/problem';
import { chatSessions } from '../../realtime/chat-session';
import { boards } from '../../realtime/kanban-client';
import { purgePublicLists } from '../content/public-cache';
import { TENANT_TABLES } from '../organizations/service';
import { platformAuditFields } from './service';

/** A chat answer may write up to AI_TIMEOUT_MS (60 s) after it read the shard; access is kept 30 s. */
export const MOVE_SETTLE_MS = 90_000;
/** Rows per page: D1 takes them as one JSON parameter per statement (≤ 100 bound parameters, ≤ 2 MB each). */
export const MOVE_PAGE_ROWS = 200;
/** Fewer rows per page where one row may be large: a conversation holds up to 1 MB, an item its text and HTML. */
const LARGE_ROWS: Record<string, number> = { ai_conversations: 4, content: 20 };
const rowsPerPage = (table: Table, pageRows: number) => Math.min(pageRows, LARGE_ROWS[table.name] ?? pageRows);
/** Most JSON characters per INSERT: well under D1's 2 MB per value, whatever the rows hold. */
const STATEMENT_CHARS = 500_000;
/** Objects per page: each is one GET and one PUT (or one DELETE per page). */
const OBJECTS_PER_PAGE = 50;

export type MoveOptions = { settleMs: number; pageRows: number };
export const defaultMoveOptions = (env: { MOVE_SETTLE_MS?: string }): MoveOptions => ({
  settleMs: env.MOVE_SETTLE_MS ? Number(env.MOVE_SETTLE_MS) : MOVE_SETTLE_MS,
  pageRows: MOVE_PAGE_ROWS,
});

type Move = typeof organization_moves.$inferSelect;
type MoveAction = { env: Bindings; catalog: CatalogDb; d1: D1Sessions; actor: SessionUser; request: RequestInfo };

const binding = (shard: number) => `SHARD_${shard}`;
const CANCELLABLE: readonly MovePhase[] = ['requested', 'fenced', 'copying', 'verifying', 'verified'];

/** A move as the API shows it; `wait_ms`: how long its next step has nothing to do. */
export function presentMove(move: Move, now = Date.now(), settleMs = MOVE_SETTLE_MS) {
  const { from_shard, to_shard, steps: _steps, ...rest } = move;
  const waiting = move.phase === 'flipped' && move.cursor.unit >= 2 && move.flipped_at;
  return {
    ...rest,
    from: binding(from_shard),
    to: binding(to_shard),
    done: ENDED_MOVE_PHASES.includes(move.phase),
    wait_ms: waiting ? Math.max(0, Date.parse(move.flipped_at!) + settleMs - now) : 0,
  };
}

// --- Tables --------------------------------------------------------------------------------

type Table = { name: string; pk: string; columns: string[] };
const describe = (table: SQLiteTable): Table => {
  const columns = Object.values(getTableColumns(table));
  return { name: getTableName(table), pk: columns.find((c) => c.primary)!.name, columns: columns.map((c) => c.name) };
};
/** Children first (deletes); the fence table is the move's own, never copied. */
const CHILDREN_FIRST = TENANT_TABLES.filter((t) => t !== tenant.move_fences).map(describe);
/** Parents first (copies): activity_logs before webhook_endpoints, see the top. */
const PARENTS_FIRST = [...CHILDREN_FIRST].reverse();
/** Columns pointing at a row of the same table, set in a second pass once every row is there. */
const LINKS: Record<string, string> = { tasks: 'parent_task_id' };

type Unit = { kind: 'rows'; table: Table } | { kind: 'links'; table: Table; column: string } | { kind: 'objects' };
const COPY_UNITS: Unit[] = PARENTS_FIRST.flatMap((table): Unit[] =>
  LINKS[table.name]
    ? [
        { kind: 'rows', table },
        { kind: 'links', table, column: LINKS[table.name]! },
      ]
    : [{ kind: 'rows', table }],
);
const VERIFY_UNITS: Unit[] = PARENTS_FIRST.map((table) => ({ kind: 'rows', table }));
const DELETE_UNITS: Unit[] = CHILDREN_FIRST.map((table) => ({ kind: 'rows', table }));
const quoted = (name: string) => `"${name}"`;

/** A page of the organization's rows of `table` after `after` by primary key. */
async function page(db: D1Database, table: Table, organizationId: string, after: string | null, limit: number) {
  const { results } = await db
    .prepare(
      `SELECT ${table.columns.map(quoted).join(', ')} FROM ${quoted(table.name)} WHERE organization_id = ?1 ` +
        `AND (?2 IS NULL OR ${quoted(table.pk)} > ?2) ORDER BY ${quoted(table.pk)} LIMIT ?3`,
    )
    .bind(organizationId, after, limit)
    .all<Record<string, unknown>>();
  return results;
}

/** Rows in statements of at most STATEMENT_CHARS of JSON each. */
function chunks(rows: Record<string, unknown>[]): string[] {
  const out: string[] = [];
  let current: string[] = [];
  let size = 0;
  for (const row of rows) {
    const text = JSON.stringify(row);
    if (current.length > 0 && size + text.length > STATEMENT_CHARS) {
      out.push(`[${current.join(',')}]`);
      current = [];
      size = 0;
    }
    current.push(text);
    size += text.length + 1;
  }
  if (current.length > 0) out.push(`[${current.join(',')}]`);
  return out;
}

const field = (column: string) => `json_extract(j.value, '$.${column}')`;

/** Copies a page of rows: INSERT … SELECT from one JSON parameter, the links (if any) left NULL for now. */
async function copyRows(destination: D1Database, table: Table, rows: Record<string, unknown>[]) {
  const link = LINKS[table.name];
  const values = table.columns.map((column) => (column === link ? 'NULL' : field(column)));
  const insert =
    `INSERT INTO ${quoted(table.name)} (${table.columns.map(quoted).join(', ')}) SELECT ${values.join(', ')} ` +
    `FROM json_each(?1) AS j WHERE true ON CONFLICT (${quoted(table.pk)}) DO NOTHING`;
  const statements = chunks(rows).map((json) => destination.prepare(insert).bind(json));
  if (statements.length > 0) await destination.batch(statements);
}

/** Sets a page's self-references, now that every row of the table is on the destination. */
async function copyLinks(destination: D1Database, table: Table, column: string, rows: Record<string, unknown>[]) {
  const linked = rows.filter((row) => row[column] !== null).map((row) => ({ id: row[table.pk], link: row[column] }));
  if (linked.length === 0) return;
  await destination
    .prepare(
      `UPDATE ${quoted(table.name)} SET ${quoted(column)} = json_extract(j.value, '$.link') FROM json_each(?1) AS j ` +
        `WHERE ${quoted(table.name)}.${quoted(table.pk)} = json_extract(j.value, '$.id')`,
    )
    .bind(JSON.stringify(linked))
    .run();
}

/** FNV-1a (32 bits) of a row's values in column order: the same rows give the same sum on both sides. */
function rowHash(row: Record<string, unknown>): number {
  const text = JSON.stringify(Object.values(row));
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

const tally = (into: { rows: number; sum: number }, hashes: number[]) => ({
  rows: into.rows + hashes.length,
  sum: hashes.reduce((sum, hash) => (sum + hash) % 2 ** 32, into.sum),
});
const emptyCheck = () => ({ source: { rows: 0, sum: 0 }, destination: { rows: 0, sum: 0 } });
const agrees = ({ source, destination }: MoveCheck[string]) =>
  source.rows === destination.rows && source.sum === destination.sum;

/**
 * Deletes a page of the organization's rows of `table` on `db`, through the fence if it holds one
 * (releasing it inside the batch, a transaction); answers whether the table is done.
 */
async function deleteRows(db: D1Database, table: Table, organizationId: string, limit: number): Promise<boolean> {
  const release = (on: boolean) =>
    db.prepare('UPDATE move_fences SET releasing = ?2 WHERE organization_id = ?1').bind(organizationId, on ? 1 : 0);
  const [, deleted] = await db.batch([
    release(true),
    db
      .prepare(
        `DELETE FROM ${quoted(table.name)} WHERE ${quoted(table.pk)} IN ` +
          `(SELECT ${quoted(table.pk)} FROM ${quoted(table.name)} WHERE organization_id = ?1 LIMIT ?2)`,
      )
      .bind(organizationId, limit),
    release(false),
  ]);
  return deleted!.meta.changes < limit;
}

/** The organization's rows left on `db`, every tenant table (one statement). */
async function rowsLeft(db: D1Database, organizationId: string): Promise<number> {
  const counts = CHILDREN_FIRST.map((t) => `(SELECT count(*) FROM ${quoted(t.name)} WHERE organization_id = ?1)`);
  const row = await db
    .prepare(`SELECT ${counts.join(' + ')} AS n`)
    .bind(organizationId)
    .first<{ n: number }>();
  return row!.n;
}

// --- Places ---------------------------------------------------------------------------------

type Regions = { from: DataRegion | null; to: DataRegion | null };

async function regionsOf(catalog: CatalogDb, move: Pick<Move, 'from_shard' | 'to_shard'>): Promise<Regions> {
  const rows = await catalog.select({ shard: shards.shard, region: shards.region }).from(shards);
  const regionOf = (n: number) => rows.find((r) => r.shard === n)?.region ?? null;
  return { from: regionOf(move.from_shard), to: regionOf(move.to_shard) };
}

const bucketChanges = (env: Bindings, regions: Regions) =>
  assetsBucket(env, { data_region: regions.from }) !== assetsBucket(env, { data_region: regions.to });

const prefixOf = (organizationId: string) => `orgs/${organizationId}/`;

async function objectPage(bucket: R2Bucket, organizationId: string, after: string | null, limit: number) {
  const listed = await bucket.list({
    prefix: prefixOf(organizationId),
    limit,
    ...(after ? { startAfter: after } : {}),
  });
  return listed.objects;
}

const objectHash = (object: R2Object) => rowHash({ key: object.key, size: object.size, etag: object.etag });

// --- Actions (platform admins) --------------------------------------------------------------

const moveById = (catalog: CatalogDb, id: string) =>
  catalog.select().from(organization_moves).where(eq(organization_moves.id, id)).get();

/** `SHARD_n` → n, for a shard this deployment binds; anything else is refused as the field `to`. */
function destinationShard(env: Bindings, to: string): number {
  const match = /^SHARD_(0|[1-9][0-9]*)$/.exec(to);
  const shard = match ? Number(match[1]) : -1;
  if (shard < 0 || shard >= shardCount(env)) throw invalid('to', `No shard ${to} in this deployment.`);
  return shard;
}

/**
 * Starts a move of the organization `orgRef` (id or slug) to the shard `to`, audited
 * (`organization.move`) in the same catalog batch that records it. Refused: the shard it is on
 * already, a shard closed to new organizations or without a place, and an `eu` organization
 * leaving the EU unless `leave_eu` says so. A move already under way: 409.
 */
export async function startMove(action: MoveAction, orgRef: string, input: { to: string; leave_eu?: boolean }) {
  const { env, catalog, actor } = action;
  requirePlatformAdmin(actor);
  const organization = await catalog
    .select({ id: organizations.id, shard: organizations.shard, region: shards.region })
    .from(organizations)
    .leftJoin(shards, eq(shards.shard, organizations.shard))
    .where(sql`${organizations.id} = ${orgRef} OR ${organizations.slug} = ${orgRef}`)
    .get();
  if (!organization) throw notFound('organization');
  const to = destinationShard(env, input.to);
  if (to === organization.shard) throw invalid('to', `The organization is on ${input.to} already.`);
  const target = await catalog.select().from(shards).where(eq(shards.shard, to)).get();
  if (!target) throw invalid('to', `${input.to} has no place recorded (no shards row): it takes no organization.`);
  if (!target.open) throw invalid('to', `${input.to} is closed to new organizations: open it first to move one there.`);
  if (organization.region === 'eu' && target.region !== 'eu' && !input.leave_eu) {
    throw invalid(
      'leave_eu',
      `The organization's data is kept in the EU; moving it to ${target.region} needs leave_eu: true.`,
    );
  }
  const id = uuidv7();
  const now = new Date().toISOString();
  const audit = catalog
    .select(
      platformAuditFields(action, now, {
        action: 'organization.move',
        resource_type: 'organization',
        resource_id: organizations.id,
        old_data: sql`json_object('shard', ${binding(organization.shard)})`,
        new_data: sql`json_object('shard', ${input.to}, 'move_id', ${id})`,
      }),
    )
    .from(organizations)
    .where(eq(organizations.id, organization.id));
  try {
    await catalog.batch([
      catalog.insert(organization_moves).values({
        id,
        organization_id: organization.id,
        from_shard: organization.shard,
        to_shard: to,
        started_by: actor.id,
        created_at: now,
        updated_at: now,
      }),
      catalog.insert(platform_activity_logs).select(audit as never),
    ]);
  } catch (error) {
    if (isUniqueViolation(error, 'organization_moves.organization_id')) {
      throw conflict('The organization is being moved already: follow or cancel that move first.');
    }
    throw error;
  }
  return presentMove((await moveById(catalog, id))!);
}

export async function getMove({ catalog, actor }: Pick<MoveAction, 'catalog' | 'actor'>, id: string) {
  requirePlatformAdmin(actor);
  const move = await moveById(catalog, id);
  if (!move) throw notFound('move');
  return presentMove(move);
}

/** Cancels a move before its flip (audited `organization.move_cancel`): its next steps roll it back. */
export async function cancelMove(action: MoveAction, id: string) {
  const { catalog, actor } = action;
  requirePlatformAdmin(actor);
  const move = await moveById(catalog, id);
  if (!move) throw notFound('move');
  if (!CANCELLABLE.includes(move.phase)) {
    throw conflict(`The move is ${move.phase}: only a move that has not flipped yet can be cancelled.`);
  }
  const now = new Date().toISOString();
  const cancelling = sql`${organization_moves.id} = ${id} AND ${organization_moves.steps} = ${move.steps}`;
  const audit = catalog
    .select(
      platformAuditFields(action, now, {
        action: 'organization.move_cancel',
        resource_type: 'organization',
        resource_id: organization_moves.organization_id,
        old_data: sql`json_object('phase', ${organization_moves.phase}, 'move_id', ${id})`,
        new_data: sql`json_object('phase', 'rolling_back', 'move_id', ${id})`,
      }),
    )
    .from(organization_moves)
    .where(cancelling);
  const [, updated] = await catalog.batch([
    catalog.insert(platform_activity_logs).select(audit as never),
    catalog
      .update(organization_moves)
      .set({
        phase: 'rolling_back',
        cursor: { unit: 0, after: null },
        error: `cancelled by ${actor.email}`,
        steps: sql`${organization_moves.steps} + 1`,
        updated_at: now,
      })
      .where(cancelling)
      .returning(),
  ]);
  // A step ran meanwhile: look again (it may have flipped).
  if (!updated[0]) return cancelMove(action, id);
  return presentMove(updated[0]);
}

// --- Steps ----------------------------------------------------------------------------------

type Next = Partial<Pick<Move, 'phase' | 'cursor' | 'checks' | 'error' | 'fenced_at' | 'flipped_at' | 'finished_at'>>;

/**
 * Runs the move's next step (one page of one unit, or one phase change) and records it, unless
 * another step ran meanwhile (`steps` changed: its record stands, this work was idempotent).
 * Answers the move as it is now. Nothing to do (ended, or waiting out the settle time): unchanged.
 */
export async function stepMove(env: Bindings, id: string, options: MoveOptions, request?: D1Sessions) {
  // Every query of a step on the primary; its trips count as the request's that ran it.
  const d1 = D1Sessions.primary(env);
  try {
    return await recordedStep(env, d1, id, options);
  } finally {
    request?.join(d1);
  }
}

async function recordedStep(env: Bindings, d1: D1Sessions, id: string, options: MoveOptions) {
  const catalog = catalogDb(env, d1);
  const move = await moveById(catalog, id);
  if (!move) throw notFound('move');
  let next: Next | null;
  try {
    next = await nextStep(env, catalog, d1, move, options);
  } catch (error) {
    // Kept on the record for whoever follows the move; the same step runs again next time.
    const recorded = `step failed in ${move.phase}: ${error instanceof Error ? error.message : String(error)}`;
    await catalog.update(organization_moves).set({ error: recorded }).where(eq(organization_moves.id, id));
    throw error;
  }
  if (!next) return presentMove((await moveById(catalog, id))!, Date.now(), options.settleMs);
  const [updated] = await catalog
    .update(organization_moves)
    .set({ ...next, steps: sql`${organization_moves.steps} + 1`, updated_at: new Date().toISOString() })
    .where(sql`${organization_moves.id} = ${id} AND ${organization_moves.steps} = ${move.steps}`)
    .returning();
  return presentMove(updated ?? (await moveById(catalog, id))!, Date.now(), options.settleMs);
}

/** Steps the move until it ends, waits, or `budgetMs` has passed: what one request of the driver does. */
export async function runMove(env: Bindings, id: string, options: MoveOptions, budgetMs: number, request: D1Sessions) {
  const until = Date.now() + budgetMs;
  for (;;) {
    const move = await stepMove(env, id, options, request);
    if (move.done || move.wait_ms > 0 || Date.now() >= until) return move;
  }
}

/** A move no step has advanced for this long has lost its driver (a driver steps every few seconds). */
export const MOVE_STALLED_MS = 2 * 60_000;
/** How long one cron run steps stalled moves: well inside a scheduled run's limits. */
const CRON_BUDGET_MS = 30_000;

/**
 * The cron's part: every move whose driver stopped (not ended, no step for MOVE_STALLED_MS) is
 * stepped on from its recorded phase, so that a crashed driver leaves no organization fenced.
 * A driver that comes back meanwhile is harmless: a step records only if no other step ran.
 */
export async function resumeStalledMoves(env: Bindings, now: Date): Promise<void> {
  const d1 = D1Sessions.primary(env);
  const stalled = await catalogDb(env, d1)
    .select({ id: organization_moves.id })
    .from(organization_moves)
    .where(
      and(
        notInArray(organization_moves.phase, [...ENDED_MOVE_PHASES]),
        lt(organization_moves.updated_at, new Date(now.getTime() - MOVE_STALLED_MS).toISOString()),
      ),
    )
    .all();
  const until = Date.now() + CRON_BUDGET_MS;
  for (const { id } of stalled) {
    const left = until - Date.now();
    if (left <= 0) return; // the next run goes on
    try {
      await runMove(env, id, defaultMoveOptions(env), left, d1);
    } catch (error) {
      // Recorded on the move by its step; the others still go on.
      console.error(`move ${id}: resumed by the cron, its step failed`, error);
    }
  }
}

const start = (phase: MovePhase, extra: Next = {}): Next => ({ phase, cursor: { unit: 0, after: null }, ...extra });

/** What a step works with: the move as recorded, both shards, both places. */
type Step = {
  env: Bindings;
  catalog: CatalogDb;
  d1: D1Sessions;
  move: Move;
  source: D1Database;
  destination: D1Database;
  regions: Regions;
  options: MoveOptions;
};

async function nextStep(env: Bindings, catalog: CatalogDb, d1: D1Sessions, move: Move, options: MoveOptions) {
  const step: Step = {
    env,
    catalog,
    d1,
    move,
    source: shardBinding(env, move.from_shard, d1),
    destination: shardBinding(env, move.to_shard, d1),
    regions: await regionsOf(catalog, move),
    options,
  };
  const now = new Date().toISOString();
  switch (move.phase) {
    case 'requested':
      await step.source
        .prepare(
          'INSERT INTO move_fences (organization_id, move_id) VALUES (?1, ?2) ' +
            'ON CONFLICT (organization_id) DO UPDATE SET move_id = excluded.move_id, releasing = 0',
        )
        .bind(move.organization_id, move.id)
        .run();
      return start('fenced', { fenced_at: now });
    case 'fenced':
      return start('copying');
    case 'copying':
      return copyStep(step);
    case 'verifying':
      return verifyStep(step);
    case 'verified':
      return flip(step);
    case 'flipped':
      return settle(step);
    case 'cleaning':
      return deleteStep(step, 'from', () => start('cleaned', { finished_at: now }));
    case 'rolling_back':
      return deleteStep(step, 'to', () => start('rolled_back', { finished_at: now }));
    default:
      return null;
  }
}

/** The unit of `units` (then the objects' unit when the bucket changes) the cursor is at; undefined past the last. */
const unitOf = ({ env, regions, move }: Step, units: Unit[]) =>
  (bucketChanges(env, regions) ? [...units, { kind: 'objects' } as const] : units)[move.cursor.unit];
const bucketOf = ({ env, regions }: Step, side: keyof Regions) => assetsBucket(env, { data_region: regions[side] });

/** The next page of the current copy unit; past the last unit, verification starts. */
async function copyStep(step: Step): Promise<Next> {
  const { move, source, destination } = step;
  const unit = unitOf(step, COPY_UNITS);
  const after = move.cursor.after;
  if (!unit) return start('verifying', { checks: {} });
  if (unit.kind === 'objects') {
    const [from, to] = [bucketOf(step, 'from'), bucketOf(step, 'to')];
    const objects = await objectPage(from, move.organization_id, after, OBJECTS_PER_PAGE);
    for (const listed of objects) {
      const object = await from.get(listed.key);
      if (!object) continue; // deleted since the listing (before the fence): nothing to copy
      await to.put(listed.key, object.body, {
        httpMetadata: object.httpMetadata,
        customMetadata: object.customMetadata,
      });
    }
    return advance(move, objects.length < OBJECTS_PER_PAGE, objects.at(-1)?.key);
  }
  const size = rowsPerPage(unit.table, step.options.pageRows);
  const rows = await page(source, unit.table, move.organization_id, after, size);
  if (unit.kind === 'rows') await copyRows(destination, unit.table, rows);
  else await copyLinks(destination, unit.table, unit.column, rows);
  return advance(move, rows.length < size, rows.at(-1)?.[unit.table.pk] as string | undefined);
}

/** The cursor after a page: the next unit once this one is done, else past the page's last key. */
const advance = (move: Move, done: boolean, last: string | undefined): Next => ({
  cursor: done ? { unit: move.cursor.unit + 1, after: null } : { unit: move.cursor.unit, after: last ?? null },
});

/**
 * The next page of the current unit read from both sides, hashed and added to its check; a unit
 * whose two sides disagree rolls the move back.
 */
async function verifyStep(step: Step): Promise<Next> {
  const { move, source, destination } = step;
  const after = move.cursor.after;
  const unit = unitOf(step, VERIFY_UNITS);
  if (!unit) return start('verified');
  let name: string;
  let hashes: { source: number[]; destination: number[] };
  let last: string | undefined;
  let done: boolean;
  if (unit.kind === 'objects') {
    name = 'r2:objects';
    const [mine, theirs] = await Promise.all([
      objectPage(bucketOf(step, 'from'), move.organization_id, after, OBJECTS_PER_PAGE),
      objectPage(bucketOf(step, 'to'), move.organization_id, after, OBJECTS_PER_PAGE),
    ]);
    hashes = { source: mine.map(objectHash), destination: theirs.map(objectHash) };
    last = mine.at(-1)?.key;
    done = mine.length < OBJECTS_PER_PAGE;
  } else {
    const { table } = unit;
    name = table.name;
    const size = rowsPerPage(table, step.options.pageRows);
    const mine = await page(source, table, move.organization_id, after, size);
    done = mine.length < size;
    last = mine.at(-1)?.[table.pk] as string | undefined;
    // The destination's rows of the same key range (to the end once the source's are done).
    const theirs = (await page(destination, table, move.organization_id, after, size + 1)).filter(
      (row) => done || (row[table.pk] as string) <= last!,
    );
    hashes = { source: mine.map(rowHash), destination: theirs.map(rowHash) };
  }
  const before = move.checks[name] ?? emptyCheck();
  const check = {
    source: tally(before.source, hashes.source),
    destination: tally(before.destination, hashes.destination),
  };
  const checks = { ...move.checks, [name]: check };
  if (!agrees(check)) {
    const error =
      `verification failed on ${name}: ${check.source.rows} rows on ${binding(move.from_shard)}, ` +
      `${check.destination.rows} on ${binding(move.to_shard)}${check.source.rows === check.destination.rows ? ' (contents differ)' : ''}`;
    return start('rolling_back', { checks, error });
  }
  return { ...advance(move, done, last), checks };
}

/**
 * The flip: organizations.shard and the phase in one catalog batch (only from a verified move
 * whose record is as read), then this isolate's access and the location's marks dropped and the
 * public lists made unreachable, so that requests read the new shard.
 */
async function flip({ catalog, d1, move }: Step): Promise<null> {
  const now = new Date().toISOString();
  const unchanged = sql`EXISTS (SELECT 1 FROM organization_moves m WHERE m.id = ${move.id} AND m.steps = ${move.steps})`;
  await catalog.batch([
    catalog
      .update(organizations)
      .set({ shard: move.to_shard, updated_at: now })
      .where(
        sql`${organizations.id} = ${move.organization_id} AND ${organizations.shard} = ${move.from_shard} AND ${unchanged}`,
      ),
    catalog
      .update(organization_moves)
      .set({ ...start('flipped', { flipped_at: now }), steps: sql`${organization_moves.steps} + 1`, updated_at: now })
      .where(sql`${organization_moves.id} = ${move.id} AND ${organization_moves.steps} = ${move.steps}`),
  ]);
  await purgeCaches(catalog, d1, move.organization_id);
  return null;
}

async function purgeCaches(catalog: CatalogDb, d1: D1Sessions, organizationId: string) {
  await forgetAccess(d1, { organizationId });
  const org = await catalog
    .select({ slug: organizations.slug })
    .from(organizations)
    .where(eq(organizations.id, organizationId))
    .get();
  if (org) await purgePublicLists(org.slug, d1);
}

/**
 * After the flip: the sockets of every board and conversation closed (a page of each per step,
 * on the objects of the old place, where they are open), then the settle time waited out.
 */
async function settle({ env, move, destination, regions, options }: Step): Promise<Next | null> {
  const { unit, after } = move.cursor;
  const rooms = [
    { table: describe(tenant.projects), objects: boards(env) },
    { table: describe(tenant.ai_conversations), objects: chatSessions(env) },
  ][unit];
  if (rooms) {
    const oldPlace = { id: move.organization_id, data_region: regions.from };
    const rows = await page(
      destination,
      { ...rooms.table, columns: ['id'] },
      move.organization_id,
      after,
      OBJECTS_PER_PAGE,
    );
    await Promise.all(
      rows.map((row) => rooms.objects.get(oldPlace, row.id as string).closeAll('the organization moved; reconnect')),
    );
    return advance(move, rows.length < OBJECTS_PER_PAGE, rows.at(-1)?.id as string | undefined);
  }
  if (Date.now() < Date.parse(move.flipped_at!) + options.settleMs) return null;
  return start('cleaning');
}

/**
 * A page of deletes on one side (`side`: the source after a flip, the destination on a rollback),
 * children first, then that side's objects if the bucket changes, then the source's fence: `end`.
 */
async function deleteStep(step: Step, side: keyof Regions, end: () => Next): Promise<Next> {
  const { move } = step;
  const db = side === 'from' ? step.source : step.destination;
  const unit = unitOf(step, DELETE_UNITS);
  if (unit?.kind === 'objects') {
    const bucket = bucketOf(step, side);
    const objects = await objectPage(bucket, move.organization_id, null, OBJECTS_PER_PAGE);
    if (objects.length > 0) await bucket.delete(objects.map((o) => o.key));
    return advance(move, objects.length < OBJECTS_PER_PAGE, undefined);
  }
  if (unit)
    return advance(move, await deleteRows(db, unit.table, move.organization_id, step.options.pageRows), undefined);
  // A step that was still copying when the move was cancelled may have added rows since: again.
  if ((await rowsLeft(db, move.organization_id)) > 0) return start(move.phase);
  // Last: the fence on the source (the organization's writes go to the shard the catalog names now).
  await step.source
    .prepare('DELETE FROM move_fences WHERE organization_id = ?1 AND move_id = ?2')
    .bind(move.organization_id, move.id)
    .run();
  return end();
}
