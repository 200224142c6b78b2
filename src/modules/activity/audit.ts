// The one audit writer. A service puts the row it returns into the same batch as the change it
// describes, so there is never a change without its row (nor a row without its change).
import { and, eq, getTableColumns, is, or, SQL, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import type { TenantTable } from '../../db/tenant-store';
import { notFound } from '../../lib/problem';
import { activity_logs } from '../../db/tenant';
import { inList } from '../../db/columns';
import type { Actor, TenantContext } from '../../env';
import type { ACTOR_TYPES } from '../../db/enums';
import { uuidv7, uuidv7PerRowSql } from '../../lib/ids';

type Snapshot = Record<string, unknown>;

/** Fields that never reach an audit row, whatever the resource. */
const SECRET_FIELD = /(^|_)(key_hash|secret|token|password|key)$/;

function withoutSecrets(data: Snapshot | null | undefined): Snapshot | null {
  if (!data) return null;
  return Object.fromEntries(Object.entries(data).filter(([field]) => !SECRET_FIELD.test(field)));
}

/**
 * The fields an update really changes, before and after; null when nothing changes, so the
 * caller can skip a no-op update (no write, no audit row).
 */
export function changes<T extends Snapshot>(before: T, patch: Partial<T>): { old: Partial<T>; new: Partial<T> } | null {
  const changed = (Object.keys(patch) as (keyof T)[]).filter(
    (field) => patch[field] !== undefined && JSON.stringify(patch[field]) !== JSON.stringify(before[field]),
  );
  if (changed.length === 0) return null;
  const pick = (source: Partial<T>) => Object.fromEntries(changed.map((f) => [f, source[f]])) as Partial<T>;
  return { old: pick(before), new: pick(patch) };
}

type ActorColumns = { actor_type: (typeof ACTOR_TYPES)[number]; actor_id: string | null; user_id: string | null };

export function actorColumns(actor: Actor): ActorColumns {
  switch (actor.type) {
    case 'user':
      return { actor_type: 'user' as const, actor_id: actor.user.id, user_id: actor.user.id };
    case 'api_key':
      return { actor_type: 'api_key' as const, actor_id: actor.keyId, user_id: actor.userId };
    case 'webhook':
      return { actor_type: 'webhook' as const, actor_id: actor.source, user_id: null };
    case 'system':
      return { actor_type: 'system' as const, actor_id: null, user_id: null };
    case 'ai':
      // The conversation names the turn; the user it acted for is the row's user.
      return {
        actor_type: 'ai' as const,
        actor_id: actor.conversationId,
        user_id: actorColumns(actor.onBehalfOf).user_id,
      };
  }
}

export type AuditEntry = {
  action: `${string}.${string}`;
  resource_type: string;
  resource_id: string | null;
  old?: Snapshot | null;
  new?: Snapshot | null;
};

export function auditRow(ctx: TenantContext, entry: AuditEntry, id = uuidv7()) {
  return ctx.store.insert(activity_logs, {
    id,
    ...actorColumns(ctx.actor),
    action: entry.action,
    resource_type: entry.resource_type,
    resource_id: entry.resource_id,
    old_data: withoutSecrets(entry.old),
    new_data: withoutSecrets(entry.new),
    ip_address: ctx.request.ip,
    user_agent: ctx.request.userAgent,
    request_id: ctx.request.requestId,
    created_at: new Date().toISOString(),
  });
}

/**
 * Organizations, members and API keys live in the catalog, a different database from the
 * organization's audit log, so no single batch holds both. Fail closed: the audit row is written
 * first and withdrawn if the change then fails, so no change is ever missing its row.
 */
export async function auditedCatalogChange<T>(
  ctx: TenantContext,
  entry: AuditEntry | AuditEntry[],
  change: () => Promise<T>,
): Promise<T> {
  const entries = [entry].flat();
  const ids = entries.map(() => uuidv7());
  // One shard batch however many rows (a removed member's revoked keys each have theirs).
  await ctx.store.batch(entries.map((e, n) => auditRow(ctx, e, ids[n])) as [ReturnType<typeof auditRow>]);
  try {
    return await change();
  } catch (error) {
    await ctx.store.delete(activity_logs, inList(activity_logs.id, ids)).run();
    throw error;
  }
}

// ── Tenant rows: the change and its audit row in ONE batch ─────────────────────────────────────
// An update or delete records the row's state as the same batch sees it (INSERT … SELECT from
// the row), so no read is needed before the write: 1 round trip (docs/architecture.md, the budgets).

type Row<T extends TenantTable> = T['$inferSelect'];
type Patch<T extends TenantTable> = Partial<T['$inferInsert']>;
type Described = { action: AuditEntry['action']; resource_type: string };

const column = (table: TenantTable, field: string) => (table as unknown as Record<string, SQLiteColumn>)[field]!;

/** A column's value as the API shows it, inside SQLite's json_object(). */
function asJson(col: SQLiteColumn): SQL {
  switch (col.columnType) {
    case 'SQLiteTextJson':
      return sql`json(${col})`;
    case 'SQLiteBoolean':
      return sql`CASE WHEN ${col} THEN json('true') ELSE json('false') END`;
    case 'SQLiteCustomColumn': // hundredths: money and hours
      return sql`${col} / 100.0`;
    default:
      return sql`${col}`;
  }
}

/** The row's `fields` as a JSON object; none (a creation's old state): NULL. */
function snapshot(table: TenantTable, fields: string[]): SQL {
  if (fields.length === 0) return sql`NULL`;
  return sql`json_object(${sql.join(
    fields.map((f) => sql`${f}, ${asJson(column(table, f))}`),
    sql`, `,
  )})`;
}

const value = (v: unknown) => sql`${v}`;

/**
 * The audit row of each of `where`'s rows, its old state read by SQLite in the same statement:
 * no row (deleted meanwhile), no audit row.
 */
export function auditFromRow(
  ctx: TenantContext,
  table: TenantTable,
  described: Described,
  oldFields: string[],
  newData: Snapshot | null,
  where: SQL,
  id: SQL = value(uuidv7()),
  /** JSON paths to drop from both snapshots: the fields that do not change. */
  unchanged: SQL[] = [],
) {
  const actor = actorColumns(ctx.actor);
  const drop = (snapshotJson: SQL) =>
    unchanged.length ? sql`json_remove(${snapshotJson}, ${sql.join(unchanged, sql`, `)})` : snapshotJson;
  const newJson = newData ? sql`json(${JSON.stringify(withoutSecrets(newData))})` : null;
  // activity_logs' columns, in its column order (INSERT … SELECT fills them by position).
  return ctx.store.insertFromSelect(
    activity_logs,
    table,
    {
      id,
      organization_id: table.organization_id,
      user_id: value(actor.user_id),
      actor_type: value(actor.actor_type),
      actor_id: value(actor.actor_id),
      action: value(described.action),
      resource_type: value(described.resource_type),
      resource_id: column(table, 'id'),
      old_data: drop(snapshot(table, oldFields)),
      new_data: newJson ? drop(newJson) : value(null),
      ip_address: value(ctx.request.ip),
      user_agent: value(ctx.request.userAgent),
      request_id: value(ctx.request.requestId),
      created_at: value(new Date().toISOString()),
    },
    where,
  );
}

/** Inserts a tenant row and its audit row in one batch. */
type InsertValues<T extends TenantTable> = {
  [K in keyof Omit<T['$inferInsert'], 'organization_id'>]: T['$inferInsert'][K] | SQL;
};

/** Values computed by SQL (a position, say) are in the returned row, not in the audit's copy. */
const plainValues = (values: object): Snapshot =>
  Object.fromEntries(Object.entries(values).filter(([, v]) => !is(v, SQL)));

export async function auditedInsert<T extends TenantTable>(
  ctx: TenantContext,
  table: T,
  values: InsertValues<T> & { id: string },
  described: Described,
  /** Statements that belong to the same change (an upload's reservation released). */
  also: BatchItem<'sqlite'>[] = [],
): Promise<Row<T>> {
  const [rows] = await ctx.store.batch([
    ctx.store.insert(table, values as never).returning(),
    auditRow(ctx, { ...described, resource_id: values.id, new: plainValues(values) }),
    ...also,
  ]);
  return (rows as Row<T>[])[0]!;
}

/**
 * Inserts a tenant row only if `condition` holds as it is written (one statement, see
 * TenantStore.insertWhere), and its audit row read back from the inserted row in the same batch:
 * no row, no audit row. Undefined when the condition did not hold.
 */
export async function auditedInsertWhere<T extends TenantTable>(
  ctx: TenantContext,
  table: T,
  values: InsertValues<T> & { id: string },
  described: Described,
  condition: SQL,
): Promise<Row<T> | undefined> {
  const [rows] = await ctx.store.batch([
    ctx.store.insertWhere(table, values as never, condition).returning(),
    auditFromRow(ctx, table, described, [], plainValues(values), eq(column(table, 'id'), values.id)),
  ]);
  return (rows as Row<T>[])[0];
}

/**
 * Updates a tenant row and writes its audit row (old and new values of the fields the patch
 * really changes) in one batch. A patch that changes nothing writes nothing. `guard` narrows
 * which row may change (a version, say): when it does not hold, nothing is written and
 * `changed` is false, like a no-op; the caller tells the two apart from the current row.
 * `before`: statements run first in the same batch (reading the row as it was); their results
 * come back as `before` when the row changed.
 */
export async function auditedUpdate<T extends TenantTable>(
  ctx: TenantContext,
  table: T,
  id: string,
  patch: Patch<T>,
  described: Described,
  options: { guard?: SQL; set?: Record<string, SQL>; before?: BatchItem<'sqlite'>[] } = {},
): Promise<{ row: Row<T>; changed: boolean; before?: unknown[] }> {
  const fields = Object.keys(patch).filter((f) => (patch as Record<string, unknown>)[f] !== undefined);
  const idIs = eq(column(table, 'id'), id);
  if (fields.length > 0) {
    const same = (f: string) =>
      sql`${column(table, f)} IS ${sql.param((patch as Record<string, unknown>)[f], column(table, f))}`;
    const differs = or(...fields.map((f) => sql`NOT (${same(f)})`));
    // Fields sent with the value they already have stay out of the audit row's old and new data.
    // (json_remove() with a NULL path answers NULL, so a changed field points at a key no row has.)
    const unchanged = fields.map((f) => sql`CASE WHEN ${same(f)} THEN ${`$.${f}`} ELSE '$."#kept"' END`);
    const where = and(idIs, options.guard, differs)!;
    const before = options.before ?? [];
    const results = await ctx.store.batch([
      ...before,
      auditFromRow(
        ctx,
        table,
        described,
        fields,
        Object.fromEntries(fields.map((f) => [f, (patch as Record<string, unknown>)[f]])),
        where,
        undefined,
        unchanged,
      ),
      ctx.store
        .update(table, { ...patch, ...options.set, updated_at: new Date().toISOString() } as never, where)
        .returning(),
    ] as unknown as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]]);
    const row = (results.at(-1) as Row<T>[])[0];
    if (row) return { row, changed: true, before: results.slice(0, before.length) };
  }
  const current = await ctx.store.select(table, idIs).get();
  if (!current) throw notFound(described.resource_type);
  return { row: current as Row<T>, changed: false };
}

/**
 * Deletes a tenant row and writes its audit row (the whole row as it was) in one batch, after
 * `before` (statements that must run first, e.g. clearing references to the row). 404 when the
 * row does not exist in this organization. `cascade`: the rows of the same table that the
 * deletion takes with it through a foreign key (a task's subtasks); each gets its own audit row,
 * so `/activity?resource_id=` finds every deleted row, not only the one asked for.
 */
export async function auditedDelete<T extends TenantTable>(
  ctx: TenantContext,
  table: T,
  id: string,
  described: Described,
  before: BatchItem<'sqlite'>[] = [],
  cascade?: SQL,
): Promise<unknown[]> {
  const idIs = eq(column(table, 'id'), id);
  const fields = Object.keys(getTableColumns(table)).filter((f) => f !== 'organization_id');
  const audit = cascade
    ? auditFromRow(ctx, table, described, fields, null, or(idIs, cascade)!, sql.raw(uuidv7PerRowSql()))
    : auditFromRow(ctx, table, described, fields, null, idIs);
  const results = await ctx.store.batch([
    ...before,
    audit,
    ctx.store.delete(table, idIs).returning({ id: column(table, 'id') }),
  ] as unknown as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]]);
  if ((results.at(-1) as unknown[]).length === 0) throw notFound(described.resource_type);
  return results.slice(0, before.length);
}
