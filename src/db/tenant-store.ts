// The only way to reach tenant tables. Every statement it builds carries
// `organization_id = <this organization>` (inserts get it set), so a route or service cannot
// forget the filter or write another organization's rows.
import { and, eq, getTableColumns, is, sql, SQL } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type {
  BuildAliasTable,
  SelectedFields,
  SQLiteColumn,
  SQLiteInsertValue,
  SQLiteTable,
  SQLiteUpdateSetSource,
} from 'drizzle-orm/sqlite-core';
import { latest, type CatalogDb, type ShardDb } from './shards';
import * as tenant from './tenant';

type TenantTables = typeof tenant;
export type TenantTable = {
  [K in keyof TenantTables]: TenantTables[K] extends SQLiteTable & { organization_id: SQLiteColumn }
    ? TenantTables[K]
    : never;
}[keyof TenantTables];
/** A tenant table under another name (drizzle's `alias`), for a subquery on the table its statement reads or writes. */
export type TenantAlias = BuildAliasTable<TenantTable, string>;

/**
 * INSERT … SELECT <values> WHERE (condition), on any table of either database: the row is written
 * only if `condition` holds when it is written (check and write in one statement). Missing values
 * take the column's default.
 */
export function insertWhere<T extends SQLiteTable>(
  db: ShardDb | CatalogDb,
  table: T,
  values: SQLiteInsertValue<T>,
  condition: SQL,
) {
  const given = values as Record<string, unknown>;
  const selected = Object.entries(getTableColumns(table)).map(([field, column]) => {
    const value = given[field] !== undefined ? given[field] : (column.default ?? column.defaultFn?.() ?? null);
    return is(value, SQL) ? value : sql.param(value, column);
  });
  return (db as ShardDb).insert(table).select(sql`SELECT ${sql.join(selected, sql`, `)} WHERE ${condition}`);
}

export class TenantStore {
  constructor(
    private readonly db: ShardDb,
    readonly organizationId: string,
  ) {}

  /** This store with its next queries on the shard's latest state (shards.ts, `latest`). */
  latest(): this {
    latest(this.db);
    return this;
  }

  /** `organization_id = ?` AND (the caller's condition). */
  scope<T extends TenantTable | TenantAlias>(table: T, where?: SQL): SQL {
    // drizzle's and() does not parenthesise raw SQL: without the brackets a caller's
    // `… OR …` would escape the organization filter.
    return and(eq(table.organization_id, this.organizationId), where && sql`(${where})`)!;
  }

  /**
   * (SELECT `value` FROM `table` WHERE this organization AND (where)), to nest in sql`…`: the
   * organization filter no caller writes by hand.
   */
  subquery(table: TenantTable | TenantAlias, value: SQL | SQLiteColumn, where?: SQL): SQL {
    // A query builder nested in sql`…` is bracketed, and names an alias's table as `"tasks" "c"`.
    return sql`${this.db.select({ value }).from(table).where(this.scope(table, where))}`;
  }

  select<T extends TenantTable>(table: T, where?: SQL) {
    return this.db.select().from(table).where(this.scope(table, where)).$dynamic();
  }

  /** `select` of chosen fields (computed ones too, e.g. a correlated subquery). */
  selectFields<T extends TenantTable, F extends SelectedFields>(table: T, fields: F, where?: SQL) {
    return this.db.select(fields).from(table).where(this.scope(table, where)).$dynamic();
  }

  insert<T extends TenantTable>(table: T, values: Omit<SQLiteInsertValue<T>, 'organization_id'>) {
    return this.db.insert(table).values({ ...values, organization_id: this.organizationId } as SQLiteInsertValue<T>);
  }

  /**
   * INSERT … SELECT <values> WHERE (condition): the row is written only if `condition` holds
   * when it is written. Check and write are one statement, so no concurrent writer slips between
   * them (a booking and "its slot is free", say). Missing values take the column's default.
   */
  insertWhere<T extends TenantTable>(table: T, values: Omit<SQLiteInsertValue<T>, 'organization_id'>, condition: SQL) {
    return insertWhere(
      this.db,
      table,
      { ...values, organization_id: this.organizationId } as SQLiteInsertValue<T>,
      condition,
    );
  }

  update<T extends TenantTable>(table: T, set: SQLiteUpdateSetSource<T>, where: SQL) {
    return this.db.update(table).set(set).where(this.scope(table, where));
  }

  delete<T extends TenantTable>(table: T, where?: SQL) {
    return this.db.delete(table).where(this.scope(table, where));
  }

  /**
   * INSERT INTO `target` (its columns, in order) SELECT `fields` FROM `source` WHERE this
   * organization AND (where): a row recorded from the rows it describes, inside the same batch as
   * the change, so the record and the change see the same state.
   */
  insertFromSelect<T extends TenantTable, S extends TenantTable>(
    target: T,
    source: S,
    fields: Record<string, SQL | SQLiteColumn>,
    where: SQL,
  ) {
    const select = this.db.select(fields).from(source).where(this.scope(source, where));
    return this.db.insert(target).select(select as never);
  }

  /** One D1 round trip, run as a transaction: a mutation and its audit row go together. */
  batch<T extends [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]]>(statements: T) {
    return this.db.batch(statements);
  }
}
