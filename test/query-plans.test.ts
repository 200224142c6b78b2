// The query plan of every hot query on a request path: each list's first page and a cursor page
// with each filter, the searches, the board, the calendar feed and the usage read. The statements
// are the ones the Worker sends (caught on the shards), explained by SQLite on the shard itself:
// none may walk a whole tenant table (SCAN) or sort an organization's rows to find a page.
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { base64UrlEncode } from '../src/lib/crypto';
import { uuidv7 } from '../src/lib/ids';
import { api, interceptStatements, newOrg, type TestOrg } from './helpers';

const shards = [env.SHARD_0, env.SHARD_1];

/** The shard statements `path` sends (each tenant request's own: its usage event is queued). */
async function statementsOf(path: string, token?: string): Promise<{ db: D1Database; sql: string }[]> {
  const seen: { db: D1Database; sql: string }[] = [];
  const restore = shards.map((db) => interceptStatements(db, (sql) => seen.push({ db, sql })));
  try {
    const res = await api('GET', path, { token });
    expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBe(200);
  } finally {
    restore.forEach((undo) => undo());
  }
  return seen;
}

/** SQLite's plan for `sql`, its parameters bound to NULL (a plan does not depend on them here). */
async function planOf(db: D1Database, sql: string): Promise<string[]> {
  const params = sql.match(/\?/g)?.length ?? 0;
  const { results } = await db
    .prepare(`EXPLAIN QUERY PLAN ${sql}`)
    .bind(...Array<null>(params).fill(null))
    .all<{ detail: string }>();
  return results.map((r) => r.detail);
}

// A whole-table walk (an FTS5 index's own "SCAN … VIRTUAL TABLE" is a lookup), or a sort of every
// row the WHERE let through to find one page.
const fullScan = (detail: string) => /^SCAN (?!.*VIRTUAL TABLE)(?!CONSTANT ROW)/.test(detail);
const sortsForPage = (detail: string) => detail === 'USE TEMP B-TREE FOR ORDER BY';

/** Where a sort is bounded by something other than the organization's size, and why. */
const boundedSorts: Record<string, string> = {
  'projects/PROJECT/board': "one board's tasks, by position: at most the board's cap",
  usage: "one period's counters: one row per resource and name",
  'tasks?parent_task_id=PARENT': "one task's subtasks",
  'appointments?to=2026-01-01':
    'appointments starting before `to`, sorted: the window bounds it (a known cost, no cursor)',
};

let org: TestOrg;
let project: string;
let parent: string;
const cursor = base64UrlEncode(new TextEncoder().encode(uuidv7()));

beforeAll(async () => {
  org = await newOrg();
  const t = org.owner.token;
  project = (await api('POST', `/v1/orgs/${org.slug}/projects`, { token: t, body: { name: 'Plans' } })).body.id;
  parent = (
    await api('POST', `/v1/orgs/${org.slug}/projects/${project}/tasks`, { token: t, body: { title: 'Parent' } })
  ).body.id;
  await api('POST', `/v1/orgs/${org.slug}/customers`, { token: t, body: { name: 'Ada Lovelace' } });
});

const lists: [string, string[]][] = [
  ['customers', ['', 'status=lead', 'source=website', 'assigned_to=ME', 'tag=vip', 'q=ada', 'q=ada&status=lead']],
  ['content', ['', 'status=published', 'content_type=page', 'q=launch', 'q=launch&status=draft']],
  [
    'tasks',
    ['', 'status=todo', 'assigned_to=me', 'tag=a', 'parent_task_id=PARENT', 'q=launch', 'q=launch&status=todo'],
  ],
  ['projects/PROJECT/tasks', ['', 'status=todo', 'assigned_to=me', 'q=launch']],
  ['projects', ['', 'status=active', 'priority=high', 'customer_id=PARENT', 'project_manager_id=ME']],
  [
    'appointments',
    ['', 'from=2026-01-01', 'to=2026-01-01', 'assigned_to=me', 'customer_id=PARENT', 'status=confirmed'],
  ],
  [
    'activity',
    ['', 'resource_type=customer', 'resource_type=customer&resource_id=x', 'user_id=ME', 'action=customer.create'],
  ],
  ['assets', ['']],
  ['conversations', ['', 'archived=true', 'context_type=project&context_id=PARENT']],
];

const paths = [
  ...lists.flatMap(([list, filters]) =>
    filters.flatMap((filter) => [`${list}?${filter}`, `${list}?${filter}${filter ? '&' : ''}cursor=${cursor}`]),
  ),
  'projects/PROJECT/board',
  'appointments.ics',
  'appointments.ics?assigned_to=me',
  'usage',
];

describe('query plans of the hot queries', () => {
  it.each(paths)('%s: no full scan of a tenant table, no sort of its rows', async (template) => {
    const path = template.replaceAll('PROJECT', project).replaceAll('PARENT', parent).replaceAll('ME', org.owner.id);
    const statements = await statementsOf(`/v1/orgs/${org.slug}/${path}`, org.owner.token);
    expect(statements.length).toBeGreaterThan(0);
    for (const { db, sql } of statements) {
      const plan = await planOf(db, sql);
      const bounded = Object.keys(boundedSorts).some(
        (key) => template.startsWith(key) && !template.slice(key.length).match(/^\w/),
      );
      expect(
        plan.filter((d) => fullScan(d) || (!bounded && sortsForPage(d))),
        `${sql}\n${plan.join('\n')}`,
      ).toEqual([]);
    }
  });

  it('the public content list: no full scan, no sort', async () => {
    const statements = await statementsOf(`/v1/public/${org.slug}/content`);
    for (const { db, sql } of statements) {
      const plan = await planOf(db, sql);
      expect(
        plan.filter((d) => fullScan(d) || sortsForPage(d)),
        `${sql}\n${plan.join('\n')}`,
      ).toEqual([]);
    }
  });
});
