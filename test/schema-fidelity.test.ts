// The schema document's tables, columns, enum values and index plan (test/schema-spec.ts) against
// the migrated databases and the served OpenAPI document: a column renamed or missing in either, a
// refused enum value or a missing index fails here.
import { env, SELF } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { INDEXES, SCHEMA, type Column, type TableSpec } from './schema-spec';

type Schema = {
  $ref?: string;
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  properties?: Record<string, Schema>;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  readOnly?: boolean;
};

const database = (spec: TableSpec): D1Database => (spec.home === 'catalog' ? env.CATALOG : env.SHARD_0);

async function columnsOf(db: D1Database, table: string): Promise<string[]> {
  const { results } = await db.prepare(`SELECT name FROM pragma_table_info(?)`).bind(table).all<{ name: string }>();
  return results.map((row) => row.name);
}

/** The CHECK list of values a column is held to in its table's DDL, if it has one. */
async function checkedValues(db: D1Database, table: string, column: string): Promise<string[] | undefined> {
  const row = await db
    .prepare(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`)
    .bind(table)
    .first<{ sql: string }>();
  const match = new RegExp(`CHECK\\s*\\([^)]*?"?${column}"?\\s+IN\\s*\\(([^)]*)\\)`, 'i').exec(row?.sql ?? '');
  return match ? [...match[1]!.matchAll(/'([^']*)'/g)].map((m) => m[1]!) : undefined;
}

/** Every index of a table (the primary key's too), as its ordered column names. */
async function indexesOf(db: D1Database, table: string): Promise<string[][]> {
  const { results } = await db.prepare(`SELECT name FROM pragma_index_list(?)`).bind(table).all<{ name: string }>();
  const indexes = await Promise.all(
    results.map(async ({ name }) =>
      (
        await db
          .prepare(`SELECT name FROM pragma_index_info(?) ORDER BY seqno`)
          .bind(name)
          .all<{ name: string | null }>()
      ).results.map((c) => c.name ?? '<expr>'),
    ),
  );
  const primaryKey = (
    await db
      .prepare(`SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk`)
      .bind(table)
      .all<{ name: string }>()
  ).results;
  return [...indexes, primaryKey.map((c) => c.name)];
}

const leadsWith = (index: string[], columns: string[]) => columns.every((column, i) => index[i] === column);

let document: { components: { schemas: Record<string, Schema> } };
const resolve = (schema: Schema): Schema =>
  schema.$ref ? resolve(document.components.schemas[schema.$ref.split('/').pop()!]!) : schema;

/** Every property reachable from a component (nested objects and arrays included), by name. */
function propertiesOf(
  schema: Schema,
  found = new Map<string, Schema[]>(),
  seen = new Set<Schema>(),
): Map<string, Schema[]> {
  const resolved = resolve(schema);
  if (seen.has(resolved)) return found;
  seen.add(resolved);
  for (const [name, property] of Object.entries(resolved.properties ?? {})) {
    found.set(name, [...(found.get(name) ?? []), resolve(property)]);
    propertiesOf(property, found, seen);
  }
  for (const inner of [
    resolved.items,
    ...(resolved.anyOf ?? []),
    ...(resolved.oneOf ?? []),
    ...(resolved.allOf ?? []),
  ]) {
    if (inner) propertiesOf(inner, found, seen);
  }
  return found;
}

/** The alternatives of a nullable or union schema, flattened. */
const variants = (schema: Schema): Schema[] =>
  schema.anyOf || schema.oneOf
    ? [...(schema.anyOf ?? []), ...(schema.oneOf ?? [])].flatMap((s) => variants(resolve(s)))
    : [schema];

const types = (schema: Schema) =>
  variants(schema).flatMap((s) => (Array.isArray(s.type) ? s.type : s.type ? [s.type] : []));

/** Whether an OpenAPI property can carry a value of the schema document's type. */
function fitsType(schema: Schema, column: Column): boolean {
  const t = types(schema);
  switch (column.type) {
    case 'boolean':
      return t.includes('boolean');
    case 'integer':
      return t.includes('integer');
    case 'decimal':
      return t.includes('number');
    case 'string[]':
      return t.includes('array');
    case 'jsonb':
      return t.length === 0 || t.includes('object') || t.includes('array');
    case 'date':
      return t.includes('string') && variants(schema).some((s) => s.format === 'date');
    // A timestamp, never a bare date.
    case 'timestamp':
      return t.includes('string') && !variants(schema).some((s) => s.format === 'date');
    default:
      return t.includes('string');
  }
}

const enumOf = (schema: Schema) => variants(schema).flatMap((s) => s.enum ?? []);

/** The write schemas (`<Component>Create`, `<Component>Patch`) a client sends the row's fields in. */
const writeComponents = (spec: TableSpec) =>
  Object.keys(document.components.schemas).filter(
    (name) => name === `${spec.component}Create` || name === `${spec.component}Patch`,
  );

beforeAll(async () => {
  document = await (await SELF.fetch('https://strive.test/openapi.json')).json();
});

describe.each(Object.entries(SCHEMA))('%s', (table, spec) => {
  it('has every column of the schema document in its database', async () => {
    const columns = await columnsOf(database(spec), table);
    expect(columns, `${table} is not in the ${spec.home} database`).not.toHaveLength(0);
    expect(Object.keys(spec.columns).filter((column) => !columns.includes(column))).toEqual([]);
  });

  it('holds its enum columns to lists that take every value of the schema document', async () => {
    for (const [column, { enum: values }] of Object.entries(spec.columns)) {
      if (!values) continue;
      const checked = await checkedValues(database(spec), table, column);
      if (checked)
        expect(
          values.filter((v) => !checked.includes(v)),
          `${table}.${column} CHECK`,
        ).toEqual([]);
    }
  });

  it(`is read through the API as ${spec.component}, every column under its name and type`, () => {
    expect(document.components.schemas[spec.component], `component ${spec.component}`).toBeDefined();
    const properties = propertiesOf({ $ref: `#/components/schemas/${spec.component}` });
    const missing = Object.keys(spec.columns).filter((column) => !properties.has(column));
    expect(missing, `columns missing from ${spec.component}`).toEqual([]);
    const mistyped = Object.entries(spec.columns)
      .filter(([column, type]) => !properties.get(column)!.some((schema) => fitsType(schema, type)))
      .map(([column, type]) => `${column}: ${type.type}`);
    expect(mistyped, `columns of another type in ${spec.component}`).toEqual([]);
  });

  it('accepts and returns every enum value as spelled in the schema document', () => {
    const readable = propertiesOf({ $ref: `#/components/schemas/${spec.component}` });
    const writable = writeComponents(spec).map((name) => propertiesOf({ $ref: `#/components/schemas/${name}` }));
    for (const [column, { enum: values }] of Object.entries(spec.columns)) {
      if (!values) continue;
      for (const [where, properties] of [
        [spec.component, readable] as const,
        ...writable.map((p, i) => [writeComponents(spec)[i]!, p] as const),
      ]) {
        // A derived column in a write schema is there only to be refused (readOnly).
        const schemas = properties.get(column)?.filter((schema) => where === spec.component || !schema.readOnly);
        if (!schemas?.length) continue;
        const offered = schemas.flatMap(enumOf);
        expect(
          values.filter((value) => !offered.includes(value)),
          `${where}.${column}`,
        ).toEqual([]);
      }
    }
  });
});

describe('the index plan', () => {
  it.each(INDEXES.map((index) => [`${index.table}(${index.columns.join(', ')}): ${index.why}`, index] as const))(
    '%s',
    async (_, { table, columns }) => {
      const spec = SCHEMA[table]!;
      const indexes = await indexesOf(database(spec), table);
      const found = indexes.some(
        (index) =>
          leadsWith(index, columns) ||
          (spec.home === 'shard' && index[0] === 'organization_id' && leadsWith(index.slice(1), columns)),
      );
      expect(found, `an index of ${table} leading with ${columns.join(', ')} (has ${JSON.stringify(indexes)})`).toBe(
        true,
      );
    },
  );
});
