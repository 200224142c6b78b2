// The demo data (README.md, "Two commands"): organization `acme` (shard 0) with Alice (owner),
// Bob (member), Vic (viewer) and a little of everything, and `globex` (shard 1) with Carol, so
// cross-tenant and cross-shard mistakes show up while clicking around; Ada (admin@strive.test) is
// platform staff (global role admin) and a member of neither.
//
// Every id is fixed and every statement is INSERT OR IGNORE, so `npm run dev` can run this on each
// start: rows that exist are left alone, including ones a developer has since edited.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { devClerkUserId } from './dev-identity.mjs';
import { migrationTargets, wrangler } from './migrate.mjs';

// UUID v7-shaped (version 7, variant 8) so the API's uuid validation accepts them; the last group
// is readable and numbered per table (users 0xx, organizations 1xx, …) so they are easy to type
// in a curl command. Within a table a higher number is newer, matching created_at, because ids
// double as the newest-first cursor.
const uuid = (n) => `019a0000-0000-7000-8000-${String(n).padStart(12, '0')}`;

export const IDS = {
  users: { alice: uuid(1), bob: uuid(2), vic: uuid(3), carol: uuid(4), admin: uuid(5) },
  organizations: { acme: uuid(101), globex: uuid(102) },
};
const { alice, bob, vic, carol, admin } = IDS.users;
const { acme, globex } = IDS.organizations;

const NO_PERMISSION_CHANGES = { grant: [], deny: [] };

const user = (id, email, first_name, last_name, created_at, role = 'employee') => ({
  id,
  clerk_user_id: devClerkUserId(email),
  email,
  first_name,
  last_name,
  name: `${first_name} ${last_name}`,
  role,
  subscription_tier: 'free',
  is_active: 1,
  created_at,
  updated_at: created_at,
});

const member = (id, organization_id, user_id, role, invited_by, joined_at) => ({
  id,
  organization_id,
  user_id,
  role,
  permissions: NO_PERMISSION_CHANGES,
  invited_by,
  joined_at,
  created_at: joined_at,
  updated_at: joined_at,
});

const seat = (n, organization_id, user_id, at) => ({
  id: uuid(n),
  organization_id,
  user_id,
  resource_type: 'seats',
  resource_name: '',
  usage_amount: 1,
  billing_period: `${at.slice(0, 7)}-01`,
  metadata: { events: 1, first_event_at: at, last_event_at: at },
  created_at: at,
  updated_at: at,
});

const catalog = {
  users: [
    user(alice, 'alice@acme.test', 'Alice', 'Anders', '2026-11-01T09:00:00.000Z'),
    user(bob, 'bob@acme.test', 'Bob', 'Brown', '2026-11-01T09:05:00.000Z'),
    user(vic, 'vic@acme.test', 'Vic', 'Viewer', '2026-11-01T09:10:00.000Z'),
    user(carol, 'carol@globex.test', 'Carol', 'Cole', '2026-11-01T09:15:00.000Z'),
    user(admin, 'admin@strive.test', 'Ada', 'Admin', '2026-11-01T08:30:00.000Z', 'admin'),
  ],
  organizations: [
    {
      id: acme,
      name: 'Acme Inc.',
      slug: 'acme',
      description: 'Digital agency for mid-sized retailers.',
      website: 'https://acme.test',
      settings: { timezone: 'Europe/Berlin' },
      subscription_status: 'active',
      billing_email: 'billing@acme.test',
      shard: 0,
      created_by: alice,
      created_at: '2026-11-01T09:01:00.000Z',
      updated_at: '2026-11-01T09:01:00.000Z',
    },
    {
      id: globex,
      name: 'Globex Corporation',
      slug: 'globex',
      description: 'Energy and engineering.',
      website: 'https://globex.test',
      settings: { timezone: 'America/Chicago' },
      subscription_status: 'active',
      shard: 1,
      created_by: carol,
      created_at: '2026-11-01T09:16:00.000Z',
      updated_at: '2026-11-01T09:16:00.000Z',
    },
  ],
  organization_members: [
    member(uuid(201), acme, alice, 'owner', null, '2026-11-01T09:01:00.000Z'),
    member(uuid(202), acme, bob, 'member', alice, '2026-11-01T09:06:00.000Z'),
    member(uuid(203), acme, vic, 'viewer', alice, '2026-11-01T09:11:00.000Z'),
    member(uuid(204), globex, carol, 'owner', null, '2026-11-01T09:16:00.000Z'),
  ],
  subscriptions: [
    {
      id: uuid(301),
      organization_id: acme,
      tier: 'free',
      status: 'active',
      created_at: '2026-11-01T09:01:00.000Z',
      updated_at: '2026-11-01T09:01:00.000Z',
    },
    {
      id: uuid(302),
      organization_id: globex,
      tier: 'free',
      status: 'active',
      created_at: '2026-11-01T09:16:00.000Z',
      updated_at: '2026-11-01T09:16:00.000Z',
    },
  ],
  ai_tools: [
    {
      id: uuid(401),
      name: 'Search customers',
      function_name: 'search_customers',
      tool_type: 'analysis',
      required_tier: 'free',
      description: "Search the organization's customers by name, email or company.",
      configuration: {
        parameters: {
          type: 'object',
          properties: {
            query: { type: 'string', minLength: 1, description: 'Text to match against name, email and company.' },
            status: { type: 'string', enum: ['lead', 'prospect', 'active', 'inactive', 'churned'] },
            limit: { type: 'integer', minimum: 1, maximum: 25, default: 10 },
          },
          required: ['query'],
          additionalProperties: false,
        },
      },
      created_at: '2026-11-01T08:00:00.000Z',
      updated_at: '2026-11-01T08:00:00.000Z',
    },
    {
      id: uuid(402),
      name: 'List project tasks',
      function_name: 'list_project_tasks',
      tool_type: 'analysis',
      required_tier: 'free',
      description: 'List the tasks of a project, optionally only those in one status column.',
      configuration: {
        parameters: {
          type: 'object',
          properties: {
            project_id: { type: 'string', format: 'uuid' },
            status: { type: 'string', enum: ['todo', 'in_progress', 'review', 'done', 'cancelled'] },
            assigned_to_me: { type: 'boolean', default: false },
          },
          required: ['project_id'],
          additionalProperties: false,
        },
      },
      created_at: '2026-11-01T08:00:01.000Z',
      updated_at: '2026-11-01T08:00:01.000Z',
    },
    {
      id: uuid(403),
      name: 'Create task',
      function_name: 'create_task',
      tool_type: 'automation',
      required_tier: 'basic',
      description: 'Create a task in a project, at the bottom of its column.',
      configuration: {
        parameters: {
          type: 'object',
          properties: {
            project_id: { type: 'string', format: 'uuid' },
            title: { type: 'string', minLength: 1, maxLength: 200 },
            description: { type: 'string', maxLength: 5000 },
            status: { type: 'string', enum: ['todo', 'in_progress', 'review', 'done'], default: 'todo' },
            priority: { type: 'string', enum: ['low', 'medium', 'high', 'critical'], default: 'medium' },
            due_date: { type: 'string', format: 'date' },
            estimated_hours: { type: 'number', minimum: 0, multipleOf: 0.01 },
          },
          required: ['project_id', 'title'],
          additionalProperties: false,
        },
      },
      created_at: '2026-11-01T08:00:02.000Z',
      updated_at: '2026-11-01T08:00:02.000Z',
    },
  ],
};

// Tenant rows. Money and hours are INTEGER hundredths (1250000 = 12,500.00), as the API stores them.
const task = (n, project_id, status, position, title, extra) => ({
  id: uuid(n),
  organization_id: acme,
  project_id,
  status,
  position,
  title,
  version: 1,
  created_by: alice,
  ...extra,
});

const tenants = {
  [acme]: {
    customers: [
      {
        id: uuid(501),
        organization_id: acme,
        name: 'Dana Whitfield',
        email: 'dana@northwind.test',
        phone: '+1 415 555 0134',
        company: 'Northwind Traders',
        status: 'active',
        source: 'referral',
        tags: ['enterprise', 'priority'],
        custom_fields: { industry: 'logistics', employees: 250 },
        assigned_to: alice,
        notes: 'Prefers a call on Tuesdays.',
        created_by: alice,
        created_at: '2026-11-02T10:00:00.000Z',
        updated_at: '2026-11-02T10:00:00.000Z',
      },
      {
        id: uuid(502),
        organization_id: acme,
        name: 'Marco Reyes',
        email: 'marco@bluebird.test',
        phone: '+1 312 555 0178',
        company: 'Bluebird Bakery',
        status: 'prospect',
        source: 'website',
        tags: ['smb'],
        custom_fields: {},
        assigned_to: bob,
        created_by: bob,
        created_at: '2026-11-03T14:30:00.000Z',
        updated_at: '2026-11-03T14:30:00.000Z',
      },
      {
        id: uuid(503),
        organization_id: acme,
        name: 'Priya Nair',
        email: 'priya@lumen.test',
        company: 'Lumen Labs',
        status: 'lead',
        source: 'social',
        tags: [],
        custom_fields: {},
        created_by: bob,
        created_at: '2026-11-05T08:45:00.000Z',
        updated_at: '2026-11-05T08:45:00.000Z',
      },
    ],
    projects: [
      {
        id: uuid(601),
        organization_id: acme,
        customer_id: uuid(501),
        name: 'Northwind website relaunch',
        description: 'New storefront, page templates and analytics for Northwind Traders.',
        status: 'active',
        priority: 'high',
        start_date: '2026-11-02',
        due_date: '2026-12-18',
        budget: 1250000,
        progress_percentage: 40,
        project_manager_id: alice,
        tags: ['web', 'redesign'],
        created_by: alice,
        created_at: '2026-11-02T11:00:00.000Z',
        updated_at: '2026-11-02T11:00:00.000Z',
      },
      {
        id: uuid(602),
        organization_id: acme,
        customer_id: null,
        name: 'Onboarding handbook',
        description: 'Internal handbook for new hires.',
        status: 'planning',
        priority: 'medium',
        start_date: '2026-11-16',
        due_date: '2027-01-29',
        budget: 450050,
        progress_percentage: 0,
        project_manager_id: bob,
        tags: ['internal'],
        created_by: bob,
        created_at: '2026-11-06T09:00:00.000Z',
        updated_at: '2026-11-06T09:00:00.000Z',
      },
    ],
    tasks: [
      task(701, uuid(601), 'todo', 1000, 'Write homepage copy', {
        priority: 'high',
        assigned_to: bob,
        due_date: '2026-12-04T17:00:00.000Z',
        estimated_hours: 600,
        tags: ['copy'],
        created_at: '2026-11-02T11:10:00.000Z',
        updated_at: '2026-11-02T11:10:00.000Z',
      }),
      task(702, uuid(601), 'todo', 2000, 'Set up analytics', {
        priority: 'low',
        estimated_hours: 250,
        tags: ['analytics'],
        created_at: '2026-11-02T11:20:00.000Z',
        updated_at: '2026-11-02T11:20:00.000Z',
      }),
      task(703, uuid(601), 'in_progress', 1000, 'Build page templates', {
        priority: 'high',
        assigned_to: alice,
        due_date: '2026-11-30T12:00:00.000Z',
        estimated_hours: 1600,
        actual_hours: 900,
        tags: ['frontend'],
        created_at: '2026-11-02T11:30:00.000Z',
        updated_at: '2026-11-20T16:00:00.000Z',
      }),
      task(704, uuid(601), 'review', 1000, 'Design tokens and colour palette', {
        assigned_to: alice,
        estimated_hours: 800,
        actual_hours: 750,
        tags: ['design'],
        created_at: '2026-11-02T11:40:00.000Z',
        updated_at: '2026-11-18T12:00:00.000Z',
      }),
      task(705, uuid(601), 'done', 1000, 'Kick-off workshop', {
        assigned_to: bob,
        estimated_hours: 300,
        actual_hours: 350,
        completed_at: '2026-11-04T17:00:00.000Z',
        created_at: '2026-11-02T11:50:00.000Z',
        updated_at: '2026-11-04T17:00:00.000Z',
      }),
      task(706, uuid(602), 'todo', 1000, 'Draft handbook outline', {
        assigned_to: bob,
        created_by: bob,
        due_date: '2026-12-11T00:00:00.000Z',
        estimated_hours: 400,
        created_at: '2026-11-06T09:10:00.000Z',
        updated_at: '2026-11-06T09:10:00.000Z',
      }),
    ],
    // `html` is exactly what src/modules/content/render.ts makes of `content` (the API renders on
    // write; the seed writes rows directly). Both items are public: /v1/public/acme/content.
    content: [
      {
        id: uuid(801),
        organization_id: acme,
        title: 'Introducing our client portal',
        slug: 'introducing-client-portal',
        content:
          '# Introducing our client portal\n\nClients can now follow **their projects** live.\n\n- Task boards\n- Shared files',
        html:
          '<h1>Introducing our client portal</h1>\n<p>Clients can now follow <strong>their projects</strong> ' +
          'live.</p>\n<ul>\n<li>Task boards</li>\n<li>Shared files</li>\n</ul>',
        excerpt: 'Clients can now follow their projects live.',
        content_type: 'blog_post',
        status: 'published',
        seo_meta: { title: 'Introducing our client portal', description: 'Follow your projects live.' },
        author_id: alice,
        published_at: '2026-11-10T08:00:00.000Z',
        created_at: '2026-11-09T15:00:00.000Z',
        updated_at: '2026-11-10T08:00:00.000Z',
      },
      {
        id: uuid(802),
        organization_id: acme,
        title: 'About us',
        slug: 'about',
        content: 'Acme is a small agency for **mid-sized retailers**.',
        html: '<p>Acme is a small agency for <strong>mid-sized retailers</strong>.</p>',
        content_type: 'page',
        status: 'published',
        seo_meta: { title: 'About Acme' },
        author_id: bob,
        published_at: '2026-11-12T10:00:00.000Z',
        created_at: '2026-11-12T10:00:00.000Z',
        updated_at: '2026-11-12T10:00:00.000Z',
      },
    ],
    // What the usage consumer would have counted: a seat per member (a stock: it spans
    // periods), and some AI tokens in November 2026.
    usage_tracking: [
      seat(1001, acme, alice, '2026-11-01T09:01:00.000Z'),
      seat(1002, acme, bob, '2026-11-01T09:06:00.000Z'),
      seat(1003, acme, vic, '2026-11-01T09:11:00.000Z'),
      {
        id: uuid(1005),
        organization_id: acme,
        user_id: alice,
        resource_type: 'ai_tokens',
        resource_name: 'openai_gpt4',
        usage_amount: 18250,
        billing_period: '2026-11-01',
        metadata: { events: 14, first_event_at: '2026-11-20T09:00:00.000Z', last_event_at: '2026-11-24T16:20:00.000Z' },
        created_at: '2026-11-20T09:00:00.000Z',
        updated_at: '2026-11-24T16:20:00.000Z',
      },
    ],
    appointments: [
      {
        id: uuid(901),
        organization_id: acme,
        customer_id: uuid(501),
        assigned_to: alice,
        title: 'Relaunch check-in with Northwind',
        description: 'Walk through the page templates.',
        start_time: '2026-12-03T15:00:00.000Z',
        end_time: '2026-12-03T15:45:00.000Z',
        status: 'confirmed',
        meeting_url: 'https://meet.example.com/acme-northwind',
        created_by: alice,
        created_at: '2026-11-20T09:00:00.000Z',
        updated_at: '2026-11-20T09:00:00.000Z',
      },
      // Back to back with the check-in: allowed (intervals are half-open).
      {
        id: uuid(902),
        organization_id: acme,
        customer_id: uuid(502),
        assigned_to: alice,
        title: 'Bluebird onboarding',
        description: 'Accounts, tools, first sprint.',
        start_time: '2026-12-03T15:45:00.000Z',
        end_time: '2026-12-03T16:30:00.000Z',
        status: 'scheduled',
        location: 'Acme office, Room 2',
        created_by: alice,
        created_at: '2026-11-21T10:00:00.000Z',
        updated_at: '2026-11-21T10:00:00.000Z',
      },
      {
        id: uuid(903),
        organization_id: acme,
        customer_id: uuid(503),
        assigned_to: bob,
        title: 'Lumen design review',
        description: 'Homepage drafts; bring the print-outs.',
        start_time: '2026-12-04T09:00:00.000Z',
        end_time: '2026-12-04T10:00:00.000Z',
        status: 'confirmed',
        meeting_url: 'https://meet.example.com/acme-lumen',
        created_by: bob,
        created_at: '2026-11-22T11:00:00.000Z',
        updated_at: '2026-11-22T11:00:00.000Z',
      },
      // Cancelled: it no longer holds Bob's slot (the feed shows it as STATUS:CANCELLED).
      {
        id: uuid(904),
        organization_id: acme,
        customer_id: uuid(501),
        assigned_to: bob,
        title: 'Northwind content workshop',
        start_time: '2026-12-04T09:30:00.000Z',
        end_time: '2026-12-04T11:00:00.000Z',
        status: 'cancelled',
        created_by: alice,
        created_at: '2026-11-23T12:00:00.000Z',
        updated_at: '2026-11-24T08:00:00.000Z',
      },
    ],
    // Alice's conversation about the relaunch: open it from two tabs to watch one answer stream to both.
    ai_conversations: [
      {
        id: uuid(1001),
        organization_id: acme,
        user_id: alice,
        title: 'Relaunch status',
        context_type: 'project',
        context_id: uuid(601),
        ai_model: 'openai_gpt4',
        usage_tokens: 0,
        conversation_data: [],
        is_archived: false,
        created_at: '2026-11-21T09:00:00.000Z',
        updated_at: '2026-11-21T09:00:00.000Z',
      },
    ],
  },
  [globex]: {
    usage_tracking: [seat(1004, globex, carol, '2026-11-01T09:16:00.000Z')],
    customers: [
      {
        id: uuid(504),
        organization_id: globex,
        name: 'Frank Grimes',
        email: 'frank@springfield-power.test',
        phone: '+1 217 555 0199',
        company: 'Springfield Power',
        status: 'active',
        source: 'phone',
        tags: ['utilities'],
        custom_fields: {},
        assigned_to: carol,
        created_by: carol,
        created_at: '2026-11-04T13:00:00.000Z',
        updated_at: '2026-11-04T13:00:00.000Z',
      },
    ],
    projects: [
      {
        id: uuid(603),
        organization_id: globex,
        customer_id: uuid(504),
        name: 'Reactor monitoring dashboard',
        status: 'active',
        priority: 'critical',
        start_date: '2026-11-09',
        due_date: '2027-02-26',
        budget: 8000000,
        progress_percentage: 15,
        project_manager_id: carol,
        tags: ['dashboard'],
        created_by: carol,
        created_at: '2026-11-09T10:00:00.000Z',
        updated_at: '2026-11-09T10:00:00.000Z',
      },
    ],
  },
};

/** A SQL literal; objects and arrays become JSON text, as the schema's json() columns store them. */
export function literal(value) {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return value ? '1' : '0';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * Inserts in the order given (parents before children: D1 enforces foreign keys), then one SELECT
 * that counts the seeded ids. INSERT OR IGNORE would also silently skip a row that breaks a
 * constraint, e.g. a user whose email was already provisioned under another id, so the count is
 * what proves the seed is in place.
 */
function seedSql(tables) {
  const statements = [];
  const counts = [];
  for (const [table, rows] of Object.entries(tables)) {
    for (const row of rows) {
      const columns = Object.keys(row);
      const values = columns.map((c) => literal(row[c]));
      statements.push(`INSERT OR IGNORE INTO ${table} (${columns.join(', ')}) VALUES (${values.join(', ')});`);
    }
    const ids = rows.map((r) => literal(r.id)).join(', ');
    counts.push(`(SELECT count(*) FROM ${table} WHERE id IN (${ids})) AS ${table}`);
  }
  statements.push(`SELECT ${counts.join(', ')};`);
  return statements.join('\n') + '\n';
}

function applySeed(binding, tables, directory) {
  const file = path.join(directory, `${binding}.sql`);
  writeFileSync(file, seedSql(tables));
  const output = wrangler(['d1', 'execute', binding, '--local', '--file', file, '--json'], { capture: true });
  const results = JSON.parse(output);
  const found = results.at(-1).results[0];
  const missing = Object.entries(tables).filter(([table, rows]) => found[table] !== rows.length);
  if (missing.length > 0) {
    const detail = missing.map(([table, rows]) => `${table} ${found[table]}/${rows.length}`).join(', ');
    throw new Error(`${binding}: seed rows missing (${detail}); a conflicting row may already exist there.`);
  }
  console.log(
    `  ${binding}: ${Object.entries(tables)
      .map(([t, rows]) => `${rows.length} ${t}`)
      .join(', ')}`,
  );
}

/** Seeds the local catalog and, per organization, the shard that holds it. */
export function seed() {
  const shards = new Set(migrationTargets());
  const byShard = new Map();
  for (const organization of catalog.organizations) {
    const binding = `SHARD_${organization.shard}`;
    if (!shards.has(binding)) throw new Error(`${organization.slug} lives in ${binding}, which wrangler.toml lacks.`);
    const tables = byShard.get(binding) ?? {};
    for (const [table, rows] of Object.entries(tenants[organization.id] ?? {})) {
      tables[table] = [...(tables[table] ?? []), ...rows];
    }
    byShard.set(binding, tables);
  }

  // The local shards' regions first: globex (SHARD_1) is a team in western Europe.
  wrangler(['d1', 'execute', 'CATALOG', '--local', '--file', 'scripts/local-shards.sql'], {
    capture: true,
  });
  const directory = mkdtempSync(path.join(tmpdir(), 'strive-seed-'));
  try {
    applySeed('CATALOG', catalog, directory);
    for (const [binding, tables] of byShard) applySeed(binding, tables, directory);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  try {
    seed();
  } catch (error) {
    console.error(`\nseed failed: ${error.message}`);
    process.exitCode = 1;
  }
}
