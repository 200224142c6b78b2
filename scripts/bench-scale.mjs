// `npm run bench:scale`: what a request costs as one organization grows. For each size (10³, 10⁴,
// 10⁵) the seeded dev organization gets that many customers, tasks (one board of 2,000, the rest on
// other projects), activity rows, content items and appointments, written straight into its shard
// in bulk SQL (chunks of 5,000 rows); then the real worker bundle (scripts/local-worker.mjs, a throwaway
// copy of the dev databases and one Miniflare per size, stopped before the next) answers each request
// below, one at a time, and the p50 is printed per size. Every step is bounded and a hang names its step.
//
// Goal: every cursor page and search flat (≤ 1.5× from 10³ to 10⁵); the board and the feed bounded
// by their caps. BENCH_SCALE_SIZES (default 1000,10000,100000) and BENCH_SCALE_RUNS (default 30).
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { DEV_PRIVATE_KEY_PATH } from './dev-identity.mjs';
import { devSetup } from './dev-setup.mjs';
import { percentile, runBounded, scratch } from './lib/worker.mjs';
import { buildBundle, liftQuotas, seededOrganization, startOnCopy } from './local-worker.mjs';
import { signDevToken } from './token.mjs';

const ORG = 'acme';
const EMAIL = 'alice@acme.test'; // acme's owner in the seed
const ALICE = '019a0000-0000-7000-8000-000000000001';
const SIZES = (process.env.BENCH_SCALE_SIZES ?? '1000,10000,100000').split(',').map(Number);
const RUNS = Number(process.env.BENCH_SCALE_RUNS ?? 30);
const BOARD = 2000;
const PAGE = 10; // page 50 lies inside 10³ rows
const NEEDLE = 'hopper'; // one row of each searched table holds it, at every size

/** Ids of the bench's rows: UUID-shaped (cursors check that), one range per table, older than the seed's. */
const id = (table, i) => `printf('00000000-0000-7000-8%03x-%012x', ${table}, ${i})`;

// Rows per statement: short statements through Miniflare's D1 proxy (a run under load died in the one-statement 10⁵ seed).
const CHUNK = 5_000;

/**
 * Bulk INSERT … SELECT in chunks of `CHUNK` rows, each a `{ step, sql }`; the FTS triggers fill the indexes
 * as in production. Row i is the same whichever chunk writes it, so the needle row sits at n/2 at every size.
 */
function seedStatements(org, n) {
  const chunks = (table, count, insert) => {
    const out = [];
    for (let from = 1; from <= count; from += CHUNK) {
      const to = Math.min(count, from + CHUNK - 1);
      const sql = `WITH RECURSIVE r(i) AS (SELECT ${from} UNION ALL SELECT i + 1 FROM r WHERE i < ${to}) ${insert}`;
      out.push({ step: `seeding ${table} ${from}..${to}`, sql });
    }
    return out;
  };
  const special = (i, text, otherwise) => `CASE WHEN ${i} = ${Math.ceil(n / 2)} THEN ${text} ELSE ${otherwise} END`;
  const projects = Math.ceil(n / BOARD);
  const day = 86_400_000;
  const windowStart = Date.now() - 90 * day;
  const step = (456 * day) / n; // spread over the feed's window: 90 days back, a year ahead
  return [
    ...chunks(
      'customers',
      n,
      `INSERT INTO customers (id, organization_id, name, email, company, status)
       SELECT ${id(1, 'i')}, '${org}', ${special('i', "'Grace Hopper'", "'Scale customer ' || i")}, 'c' || i || '@scale.test',
         'Company ' || (i % 97), 'lead' FROM r`,
    ),
    ...chunks(
      'projects',
      projects,
      `INSERT INTO projects (id, organization_id, name, status) SELECT ${id(2, 'i')}, '${org}', 'Scale project ' || i, 'active' FROM r`,
    ),
    ...chunks(
      'tasks',
      n,
      `INSERT INTO tasks (id, organization_id, project_id, title, description, status, position, created_by)
       SELECT ${id(3, 'i')}, '${org}', ${id(2, `((i - 1) / ${BOARD}) + 1`)}, ${special('i', "'Call Hopper'", "'Scale task ' || i")},
         'Step ' || i || ' of the plan', CASE i % 4 WHEN 0 THEN 'todo' WHEN 1 THEN 'in_progress' WHEN 2 THEN 'review' ELSE 'done' END,
         i * 1024, '${ALICE}' FROM r`,
    ),
    ...chunks(
      'activity_logs',
      n,
      `INSERT INTO activity_logs (id, organization_id, user_id, actor_type, actor_id, action, resource_type, resource_id)
       SELECT ${id(4, 'i')}, '${org}', '${ALICE}', 'user', '${ALICE}', 'customer.update', 'customer', ${id(1, 'i')} FROM r`,
    ),
    ...chunks(
      'content',
      n,
      `INSERT INTO content (id, organization_id, title, slug, content, html, excerpt, status, published_at)
       SELECT ${id(5, 'i')}, '${org}', 'Scale post ' || i, 'scale-post-' || i,
         ${special('i', "'A note on Grace Hopper and the first compiler.'", "'Paragraph ' || i || ' of the archive, on widgets.'")},
         '<p>Paragraph</p>', 'Excerpt ' || i, 'published', strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || i || ' minutes') FROM r`,
    ),
    ...chunks(
      'appointments',
      n,
      `INSERT INTO appointments (id, organization_id, assigned_to, title, start_time, end_time, status)
       SELECT ${id(6, 'i')}, '${org}', '${ALICE}', 'Scale meeting ' || i,
         strftime('%Y-%m-%dT%H:%M:%fZ', (${windowStart} + i * ${step}) / 1000.0, 'unixepoch'),
         strftime('%Y-%m-%dT%H:%M:%fZ', (${windowStart} + i * ${step} + 1800000) / 1000.0, 'unixepoch'), 'confirmed' FROM r`,
    ),
  ];
}

const STEP_MS = 120_000;
/** `promise`, or a failure naming `step` if it has not settled within `ms`: a hang says where it hung. */
async function bounded(step, promise, ms = STEP_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${step}: no answer within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One GET, its body and its time to the last byte. A kept-alive socket workerd closed meanwhile fails the
 * request before it is served: sent again once, on a new socket, and only that attempt is timed.
 */
async function timed(url, token, retry = true) {
  const started = performance.now();
  try {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    const body = await res.text();
    return { ms: performance.now() - started, status: res.status, body };
  } catch (error) {
    if (retry && error.cause?.code === 'UND_ERR_SOCKET') return timed(url, token, false);
    throw error;
  }
}

/** p50 (ms) of `RUNS` requests to `path`, one at a time, after a few unmeasured. */
async function p50(url, token, path) {
  const times = [];
  for (let run = -3; run < RUNS; run++) {
    const { ms, status } = await timed(`${url}${path}`, token);
    if (status !== 200) throw new Error(`${path} answered ${status}`);
    if (run >= 0) times.push(ms);
  }
  return percentile(times, 50);
}

/** The cursor of page `page` of a list (following `next_cursor`), or a failure if the list is shorter. */
async function cursorOf(url, token, list, page) {
  let cursor;
  for (let n = 1; n < page; n++) {
    const { body } = await timed(`${url}${list}?limit=${PAGE}${cursor ? `&cursor=${cursor}` : ''}`, token);
    cursor = JSON.parse(body).next_cursor;
    if (!cursor) throw new Error(`${list} has fewer than ${page} pages`);
  }
  return cursor;
}

const LISTS = ['customers', 'tasks', 'content', 'activity', 'appointments'];

async function measureSize(url, token, board) {
  const base = `/v1/orgs/${ORG}`;
  const results = {};
  const cell = async (label, path) => {
    results[label] = await bounded(`measuring ${label} (${path})`, p50(url, token, `${base}${path}`));
  };
  for (const list of LISTS) {
    await cell(`${list}: first page`, `/${list}?limit=${PAGE}`);
    const cursor = await bounded(`paging ${list} to page 50`, cursorOf(url, token, `${base}/${list}`, 50));
    await cell(`${list}: page 50`, `/${list}?limit=${PAGE}&cursor=${cursor}`);
  }
  await cell(`customers: search, 1 match`, `/customers?q=${NEEDLE}&limit=${PAGE}`);
  await cell(`content: search, 1 match`, `/content?q=${NEEDLE}&limit=${PAGE}`);
  await cell(`tasks: search, 1 match`, `/tasks?q=${NEEDLE}&limit=${PAGE}`);
  // A word every bench customer holds: the matches are fetched and ordered, so this one grows with them.
  await cell(`customers: search, every row matches`, `/customers?q=scale&limit=${PAGE}`);
  await cell(`board load (${BOARD} tasks at most)`, `/projects/${board}/board`);
  await cell(`.ics feed (2000 events at most)`, `/appointments.ics`);
  await cell('usage read', '/usage');
  return results;
}

/** The goal a row is held to: cursor pages and searches flat (≤ 1.5× from the smallest size to the largest). */
const verdict = (label, ratio) => (/page|search/.test(label) ? (ratio <= 1.5 ? 'flat' : 'NOT flat') : 'capped');

function printTable(bySize) {
  const labels = Object.keys(bySize[SIZES[0]]);
  const width = Math.max(...labels.map((l) => l.length));
  const head = [
    'p50 ms'.padEnd(width),
    ...SIZES.map((s) => String(s).padStart(8)),
    `${SIZES.at(-1)}/${SIZES[0]}`.padStart(10),
    'goal'.padEnd(8),
  ];
  console.log(`\n${head.join(' | ')}`);
  console.log(head.map((h) => '-'.repeat(h.length)).join('-|-'));
  for (const label of labels) {
    const values = SIZES.map((s) => bySize[s][label]);
    const ratio = values.at(-1) / values[0];
    const row = [
      label.padEnd(width),
      ...values.map((v) => v.toFixed(1).padStart(8)),
      `${ratio.toFixed(2)}×`.padStart(10),
    ];
    console.log([...row, verdict(label, ratio)].join(' | '));
  }
}

/** The machine's load average over 1, 5 and 15 minutes: the figures are only as quiet as the machine. */
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');

async function main() {
  devSetup();
  const startLoad = load();
  const { dir, remove } = scratch('strive-bench-scale-');
  const workers = [];
  try {
    console.log('Bundle (wrangler deploy --dry-run)');
    const scriptPath = buildBundle(dir);
    const token = signDevToken({ privateKeyPem: readFileSync(DEV_PRIVATE_KEY_PATH, 'utf8'), email: EMAIL, ttl: 3600 });
    const bySize = {};
    for (const size of SIZES) {
      // One worker at a time: each size gets a fresh copy of the dev data and its own Miniflare, stopped
      // before the next starts, so two workerd processes never share the two cores.
      const { mf, url } = await bounded(
        `starting the worker for ${size}`,
        startOnCopy(scriptPath, dir, `scale-${size}`, workers),
      );
      await liftQuotas(mf, ORG);
      const org = await seededOrganization(mf, ORG);
      const started = performance.now();
      for (const { step, sql } of seedStatements(org.id, size)) await bounded(step, org.shard.prepare(sql).run());
      const board = (await org.shard.prepare(`SELECT ${id(2, 1)} AS id`).first()).id;
      console.log(`${size} rows per table seeded in ${((performance.now() - started) / 1000).toFixed(1)} s; measuring`);
      bySize[size] = await measureSize(url, token, board);
      await bounded(`stopping the worker for ${size}`, mf.dispose());
      workers.splice(workers.indexOf(mf), 1);
    }
    console.log(
      `\n${new Date().toISOString()}, ${cpus().length} cores, load average ${startLoad} at the start, ${load()} at the end`,
    );
    console.log(`One organization, ${RUNS} sequential requests per cell (p50), pages of ${PAGE}`);
    printTable(bySize);
  } finally {
    await Promise.all(workers.map((worker) => worker.dispose()));
    remove();
  }
}

// Bounded: if the worker or a run hangs, give up rather than wait forever.
await runBounded('bench:scale', main, 30 * 60 * 1000);
