// `npm run bench`: requests per second and latency of a few representative endpoints, each next to
// /health, so a change to the request path shows up as a number. Runs the real worker bundle in a
// local workerd on the seeded dev data (scripts/local-worker.mjs); all traffic goes to 127.0.0.1.
//
// BENCH_SECONDS (default 10) and BENCH_CONNECTIONS (default 10) set every measured run. The worker
// serves a throwaway copy of the seeded dev databases: the write endpoint's changes and audit rows
// never reach the dev state, and every run starts from the same data, so runs compare.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { Miniflare } from 'miniflare';
import { DEV_PRIVATE_KEY_PATH } from './dev-identity.mjs';
import { devSetup } from './dev-setup.mjs';
import { buildBundle, liftQuotas, readConfig, seededOrganization, startOnCopy } from './local-worker.mjs';
import { runBounded } from './lib/worker.mjs';
import { signDevToken } from './token.mjs';

const ORG = 'acme';
const EMAIL = 'alice@acme.test'; // acme's owner in the seed: may read and update everything below

// Fixed ids of scripts/seed.mjs (same numbering: customers 5xx, projects 6xx, tasks 7xx).
const seeded = (n) => `019a0000-0000-7000-8000-${String(n).padStart(12, '0')}`;
const PROJECT = seeded(601); // 'Northwind website relaunch': the seed's board with a task in every open column
const MOVED_TASK = seeded(701); // 'Write homepage copy', one of PROJECT's tasks
const CUSTOMER_QUERY = 'whit'; // begins 'Dana Whitfield', and in no other seeded customer's name, email or company
const POST_SLUG = 'introducing-client-portal'; // seeded content 801, published
/** Uploaded through the API when the worker starts (the bench's R2 is in memory): its public URL. */
let assetPath = '';

const BOB = seeded(2); // a member of acme: the burst books his time
const CONVERSATION = seeded(1001); // alice's conversation about PROJECT
/** Chat turns measured over one socket (after one unmeasured turn), answered by the local provider. */
const CHAT_TURNS = 8;

let written = 0;
let moves = 0;
let booked = 0;
/** A free hour of Alice's for each booking: from 2031 on, where the seed books nothing. */
const nextSlot = () => {
  const start = Date.UTC(2031, 0, 1) + booked++ * 3_600_000;
  return { start_time: new Date(start).toISOString(), end_time: new Date(start + 3_600_000).toISOString() };
};
/**
 * Where the move sends MOVED_TASK, alternately: next to a neighbour in `in_progress`, then in
 * `review`, so every request changes the board. Filled in by `resolveMoves` from the copy of the
 * dev data, since a developer may have rearranged the seeded board since it was seeded.
 */
const MOVES = [];

/**
 * What is measured, in this order; the first entry is the baseline of the ratio column. `auth`
 * sends Alice's session token; `body` builds each request's JSON body and is called per request.
 */
const ENDPOINTS = [
  { label: 'health', method: 'GET', path: '/health', auth: false },
  { label: 'tenant read: activity', method: 'GET', path: `/v1/orgs/${ORG}/activity?limit=10`, auth: true },
  // The same read on a worker started with USAGE_METERING=false: no api_calls event, no quota
  // check. The difference to the row above is the cost of metering (the queue send via waitUntil,
  // and the consumer counting the events in the same workerd).
  {
    label: 'tenant read: activity, metering off',
    method: 'GET',
    path: `/v1/orgs/${ORG}/activity?limit=10`,
    auth: true,
    worker: 'unmetered',
  },
  { label: 'catalog read: members', method: 'GET', path: `/v1/orgs/${ORG}/members?limit=10`, auth: true },
  // A catalog write plus its audit row on the shard. A new value every time: the API skips a PATCH
  // that changes nothing, which would measure a read.
  {
    label: 'write: org patch',
    method: 'PATCH',
    path: `/v1/orgs/${ORG}`,
    auth: true,
    body: () => ({ description: `bench ${++written}` }),
  },
  // The kanban board: every column with its tasks, by position, in one query.
  { label: 'board load', method: 'GET', path: `/v1/orgs/${ORG}/projects/${PROJECT}/board`, auth: true },
  // `q`: words (or word beginnings) of name, email or company, through the customers' FTS5 index.
  {
    label: 'customer search',
    method: 'GET',
    path: `/v1/orgs/${ORG}/customers?q=${CUSTOMER_QUERY}&limit=10`,
    auth: true,
  },
  // An ordering change: runs in the project's KANBAN_BOARD Durable Object, which makes a project's
  // moves one at a time, so this measures that queue. No `version`: concurrent moves of the same
  // task must all succeed (a stale version would be a 409).
  {
    label: 'write: task move',
    method: 'POST',
    path: `/v1/orgs/${ORG}/tasks/${MOVED_TASK}/move`,
    auth: true,
    body: () => MOVES[moves++ % MOVES.length],
  },
  // A booking with an assignee: the member check (catalog) and the overlap-checked INSERT with its
  // audit row (one shard batch). Every request takes a new slot, so every one succeeds.
  {
    label: 'write: appointment booking',
    method: 'POST',
    path: `/v1/orgs/${ORG}/appointments`,
    auth: true,
    body: () => ({ title: `bench ${booked}`, assigned_to: seeded(1), ...nextSlot() }),
  },
  { label: 'calendar feed', method: 'GET', path: `/v1/orgs/${ORG}/appointments.ics`, auth: true },
  // Public content: a cache hit (Cache API, no D1), then the same request on a worker whose Cache
  // API is off (Miniflare's `cache: false`), so every request is a miss: the slug → shard look-up
  // in the catalog and the shard read. The cache key ignores unknown query parameters on purpose
  // (a cache-busting parameter cannot force D1 work), so a miss cannot be asked for by URL.
  // The floor a cache hit is held to: a bare Worker (no router, no middleware) answering one Cache
  // API lookup of the same body, run side by side in the same bench.
  { label: 'floor: bare Worker, one cache lookup', method: 'GET', path: '/', auth: false, worker: 'floor' },
  { label: 'public by slug, cache hit', method: 'GET', path: `/v1/public/${ORG}/content/${POST_SLUG}`, auth: false },
  {
    label: 'public by slug, cache miss',
    method: 'GET',
    path: `/v1/public/${ORG}/content/${POST_SLUG}`,
    auth: false,
    worker: 'uncached',
  },
  // An asset streamed from R2 (catalog + shard row, then R2).
  { label: 'public asset download', method: 'GET', path: () => assetPath, auth: false },
];
const pathOf = (endpoint) => (typeof endpoint.path === 'function' ? endpoint.path() : endpoint.path);

const BURST = 10;

/**
 * BURST simultaneous bookings of one slot of Bob's: exactly one may win (201), the rest 409.
 * Measured as a burst (not a rate): how long until all are answered, and who won.
 */
async function bookingBurst(url, token, round) {
  const start = Date.UTC(2032, 0, 1) + round * 86_400_000;
  const body = JSON.stringify({
    title: `burst ${round}`,
    assigned_to: BOB,
    start_time: new Date(start).toISOString(),
    end_time: new Date(start + 3_600_000).toISOString(),
  });
  const began = performance.now();
  const statuses = await Promise.all(
    Array.from({ length: BURST }, async () => {
      const sent = performance.now();
      const response = await fetch(`${url}/v1/orgs/${ORG}/appointments`, {
        method: 'POST',
        headers: headersFor({ auth: true, body: true }, token),
        body,
      });
      await response.text();
      return { status: response.status, ms: performance.now() - sent };
    }),
  );
  return {
    statuses: statuses.map((s) => s.status),
    wallMs: performance.now() - began,
    slowestMs: Math.max(...statuses.map((s) => s.ms)),
  };
}

const positive = (name, fallback) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive whole number.`);
  return value;
};
const SECONDS = positive('BENCH_SECONDS', 10);
const CONNECTIONS = positive('BENCH_CONNECTIONS', 10);
const WARMUP_SECONDS = 2; // JIT, isolate caches and SQLite pages warm; not measured
// Pause before each endpoint's probe. When autocannon returns, the worker is still answering the
// requests it had queued; after an org PATCH run each of those drops the cached access, so the
// next endpoint's probe read one round trip too many (board: 2 instead of 1) without this.
const SETTLE_MS = 1500;

const readConfigVar = (name) => readConfig().vars[name];

/** The copy's seeded ORG, and where MOVED_TASK goes (from its board as it is now). */
async function checkSeed(mf) {
  const org = await seededOrganization(mf, ORG);
  await resolveMoves(org.shard, org.id);
  return org.description;
}

/**
 * The two places the move endpoint alternates between, from PROJECT's tasks as they are now: before
 * the first other task of `in_progress`, after the last other task of `review` (or at the end of an
 * empty column). Only MOVED_TASK moves during the bench, so the neighbours stay where they are.
 */
async function resolveMoves(shard, organizationId) {
  const { results } = await shard
    .prepare('SELECT id, status FROM tasks WHERE organization_id = ? AND project_id = ? ORDER BY position, id')
    .bind(organizationId, PROJECT)
    .all();
  if (!results.some((t) => t.id === MOVED_TASK)) {
    throw new Error(
      `task ${MOVED_TASK} is not in project ${PROJECT} of '${ORG}': the seeded board is gone from the dev data.`,
    );
  }
  const others = (status) => results.filter((t) => t.status === status && t.id !== MOVED_TASK);
  const first = others('in_progress')[0];
  const last = others('review').at(-1);
  MOVES.splice(
    0,
    MOVES.length,
    { status: 'in_progress', ...(first && { before_id: first.id }) },
    { status: 'review', ...(last && { after_id: last.id }) },
  );
}

const headersFor = (endpoint, token) => ({
  ...(endpoint.auth ? { authorization: `Bearer ${token}` } : {}),
  ...(endpoint.body ? { 'content-type': 'application/json' } : {}),
});

/**
 * Requests until two in a row report the same x-d1-round-trips: the warm figure (membership cached
 * in the isolate). Not simply the second, since the cached access can be dropped between the two:
 * it expires, or a write still in the worker drops it (see SETTLE_MS). A failure here skips the
 * endpoint: load numbers for an error path mean nothing.
 */
async function probe(url, endpoint, token) {
  let previous;
  for (let i = 0; i < 6; i++) {
    const response = await fetch(url + pathOf(endpoint), {
      method: endpoint.method,
      headers: headersFor(endpoint, token),
      body: endpoint.body ? JSON.stringify(endpoint.body()) : undefined,
    });
    const text = await response.text();
    if (!response.ok)
      throw new Error(`${endpoint.method} ${pathOf(endpoint)} answered ${response.status}: ${text.slice(0, 500)}`);
    const trips = response.headers.get('x-d1-round-trips') ?? '?';
    if (trips === previous) return trips;
    previous = trips;
  }
  return `${previous}?`; // never settled: shown, but marked
}

function load(url, endpoint, token, seconds) {
  const request = { method: endpoint.method, path: pathOf(endpoint), headers: headersFor(endpoint, token) };
  if (endpoint.body) request.setupRequest = (req) => ({ ...req, body: JSON.stringify(endpoint.body()) });
  return autocannon({ url, connections: CONNECTIONS, duration: seconds, requests: [request] });
}

const CONSUMER_BATCHES = 40;
const CONSUMER_BATCH_SIZE = 100; // wrangler.toml's max_batch_size

/**
 * The usage consumer alone: CONSUMER_BATCHES batches of CONSUMER_BATCH_SIZE new events, half for
 * `acme` (SHARD_0) and half for `globex` (SHARD_1), handed to the worker's queue handler one after
 * another. Each batch is one D1 batch per shard it touches (2 here).
 */
async function benchConsumer(mf) {
  const catalog = await mf.getD1Database('CATALOG');
  const { results: orgs } = await catalog
    .prepare("SELECT id, shard FROM organizations WHERE slug IN ('acme', 'globex')")
    .all();
  const worker = await mf.getWorker();
  const occurred_at = new Date().toISOString();
  const batch = (b) =>
    Array.from({ length: CONSUMER_BATCH_SIZE }, (_, n) => {
      const org = orgs[n % orgs.length];
      return {
        id: `bench-${b}-${n}`,
        timestamp: new Date(),
        attempts: 1,
        body: {
          id: crypto.randomUUID(),
          organization_id: org.id,
          shard: org.shard,
          user_id: null,
          resource_type: 'api_calls',
          resource_name: `bench ${n % 5}`,
          quantity: 1,
          occurred_at,
        },
      };
    });
  await worker.queue('strive-usage', batch(-1)); // warm
  const started = performance.now();
  for (let b = 0; b < CONSUMER_BATCHES; b++) {
    const result = await worker.queue('strive-usage', batch(b));
    if (!result.ackAll && result.explicitAcks.length !== CONSUMER_BATCH_SIZE)
      throw new Error(`consumer batch ${b} was not acked: ${JSON.stringify(result)}`);
  }
  const seconds = (performance.now() - started) / 1000;
  // Acked is not counted (events of an organization missing from the catalog are acked too):
  // every event of the measured batches must be on its shard.
  let counted = 0;
  for (const shard of new Set(orgs.map((o) => o.shard))) {
    const db = await mf.getD1Database(`SHARD_${shard}`);
    counted += (
      await db
        .prepare("SELECT count(*) AS n FROM usage_events WHERE resource_name LIKE 'bench %' AND occurred_at = ?")
        .bind(occurred_at)
        .first()
    ).n;
  }
  if (counted !== (CONSUMER_BATCHES + 1) * CONSUMER_BATCH_SIZE)
    throw new Error(
      `usage consumer bench: ${counted} events counted, not ${(CONSUMER_BATCHES + 1) * CONSUMER_BATCH_SIZE}`,
    );
  console.log(
    `\nUsage consumer: ${CONSUMER_BATCHES} batches × ${CONSUMER_BATCH_SIZE} events over ${orgs.length} shards` +
      ` (${CONSUMER_BATCH_SIZE / orgs.length} events per D1 batch, ${orgs.length} D1 batches per invocation):` +
      ` ${(CONSUMER_BATCHES / seconds).toFixed(1)} batches/s, ` +
      `${((CONSUMER_BATCHES * CONSUMER_BATCH_SIZE) / seconds).toFixed(0)} events/s,` +
      ` ${((seconds * 1000) / CONSUMER_BATCHES).toFixed(1)} ms per batch`,
  );
}

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

/**
 * A chat turn over the conversation's socket, the way a browser holds it: send `user_message`,
 * time the first `delta`, every delta after it, and `done`. The local provider waits
 * AI_LOCAL_DELTA_MS before each delta, so what the worker adds is each figure minus that pace.
 * Turns run one after another (one answer at a time per conversation, by design).
 */
async function benchChat(mf, url, token, deltaMs) {
  const response = await mf.dispatchFetch(`${url}/v1/orgs/${ORG}/conversations/${CONVERSATION}/ws?token=${token}`, {
    headers: { upgrade: 'websocket' },
  });
  const socket = response.webSocket;
  if (!socket) throw new Error(`the chat socket answered ${response.status}: ${await response.text()}`);
  socket.accept();
  let waiting;
  socket.addEventListener('message', (event) => waiting?.(JSON.parse(event.data), performance.now()));
  const turn = (n) =>
    new Promise((resolve, reject) => {
      const sent = performance.now();
      const deltas = [];
      waiting = (message, at) => {
        if (message.type === 'delta') deltas.push(at);
        if (message.type === 'error') reject(new Error(`${message.code}: ${message.detail}`));
        if (message.type === 'done')
          resolve({
            first: deltas[0] - sent,
            gaps: deltas.slice(1).map((t, i) => t - deltas[i]),
            done: at - deltas.at(-1),
            roundTrips: message.d1_round_trips,
          });
      };
      socket.send(JSON.stringify({ type: 'user_message', content: `Bench question ${n}: what is still open?` }));
    });
  await turn(0); // warm: the object loads the conversation and the tools
  const turns = [];
  for (let n = 1; n <= CHAT_TURNS; n++) turns.push(await turn(n));
  socket.close(1000, 'bench done');
  const firsts = turns.map((t) => t.first);
  const gaps = turns.flatMap((t) => t.gaps);
  const dones = turns.map((t) => t.done);
  const ms = (v) => v.toFixed(1);
  console.log(
    `\nChat turn over the socket (${CHAT_TURNS} turns, ${gaps.length + turns.length} deltas, local provider pace ${deltaMs} ms a delta):`,
  );
  console.log(
    `  time to first delta   p50 ${ms(percentile(firsts, 50))} ms  p99 ${ms(percentile(firsts, 99))} ms  (the ` +
      `object's share p50 ${ms(percentile(firsts, 50) - deltaMs)} ms: access re-read, quota, context, prompt)`,
  );
  console.log(
    `  between deltas        p50 ${ms(percentile(gaps, 50))} ms  p99 ${ms(percentile(gaps, 99))} ms  (overhead ` +
      `per delta p50 ${ms(percentile(gaps, 50) - deltaMs)} ms)`,
  );
  console.log(
    `  last delta → done     p50 ${ms(percentile(dones, 50))} ms  p99 ${ms(percentile(dones, 99))} ms  (the turn's one write)`,
  );
  console.log(
    `  D1 round trips a turn ${[...new Set(turns.map((t) => t.roundTrips))].join(', ')} (done's d1_round_trips)`,
  );
}

function printTable(rows) {
  const baseline = rows[0]?.rps;
  const table = [
    ['endpoint', 'req/s', 'p50 ms', 'p99 ms', 'vs /health', 'D1 trips', 'non-2xx'],
    ...rows.map((r) =>
      r.error
        ? [r.label, 'FAILED', '', '', '', '', '']
        : [
            r.label,
            r.rps.toFixed(0),
            String(r.p50),
            String(r.p99),
            baseline ? `${(r.rps / baseline).toFixed(2)}x` : '',
            r.trips,
            // Socket errors and timeouts are no status at all; shown here so a bad row cannot look clean.
            `${r.result.non2xx}${r.failed > r.result.non2xx ? ` +${r.failed - r.result.non2xx} err` : ''}`,
          ],
    ),
  ];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  const line = (row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  console.log(`\n${line(table[0])}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  for (const row of table.slice(1)) console.log(line(row));
}

const WORKER_NOTES = { unmetered: ' (metering off)', uncached: ' (Cache API off: miss)', floor: ' (bare Worker)' };
const labelOf = (endpoint) => `${endpoint.method} ${pathOf(endpoint)}${WORKER_NOTES[endpoint.worker] ?? ''}`;

/** One endpoint: its round trips, a warm-up, then the measured run. A failure is a row too. */
async function measure(url, endpoint, token) {
  process.stdout.write(`  ${endpoint.label} … `);
  try {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const trips = await probe(url, endpoint, token);
    await load(url, endpoint, token, WARMUP_SECONDS);
    const result = await load(url, endpoint, token, SECONDS);
    const failed = result.non2xx + result.errors + result.timeouts;
    console.log(failed ? 'done, WITH FAILURES' : 'done');
    return {
      label: labelOf(endpoint),
      rps: result.requests.mean,
      p50: result.latency.p50,
      p99: result.latency.p99,
      trips,
      failed,
      result,
    };
  } catch (error) {
    console.log('FAILED');
    return { label: labelOf(endpoint), error };
  }
}

/**
 * The floor: a Worker of a few lines that answers the public item's body (fetched once from the
 * real Worker) from one Cache API lookup, as a cache hit would at best. Its own Miniflare.
 */
async function startFloor(url, outdir, workers) {
  const body = await (await fetch(`${url}/v1/public/${ORG}/content/${POST_SLUG}`)).text();
  const script = `
const KEY = 'https://floor.strive.internal/item';
export default {
  async fetch() {
    let hit = await caches.default.match(KEY);
    if (!hit) {
      await caches.default.put(KEY, new Response(${JSON.stringify(body)}, {
        headers: { 'content-type': 'application/json', 'cache-control': 'public, max-age=3600' },
      }));
      hit = await caches.default.match(KEY);
    }
    return new Response(hit.body, { headers: { 'content-type': 'application/json', etag: hit.headers.get('etag') ?? '' } });
  },
};`;
  const mf = new Miniflare({ modules: true, script, compatibilityDate: readConfig().compatibility_date, ...FLOOR });
  workers.push(mf);
  return (await mf.ready).origin;
}
const FLOOR = { host: '127.0.0.1', port: 0, cache: true };

/** A 256 KB file uploaded through the API (the bench's R2 is in memory); answers its public path. */
async function uploadAsset(url, token) {
  const response = await fetch(`${url}/v1/orgs/${ORG}/assets?name=bench.png`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'image/png' },
    body: new Uint8Array(256 * 1024).fill(7),
  });
  const body = await response.json();
  if (response.status !== 201) throw new Error(`asset upload answered ${response.status}: ${JSON.stringify(body)}`);
  return body.url;
}

async function main() {
  devSetup();

  const outdir = mkdtempSync(path.join(tmpdir(), 'strive-bench-'));
  const workers = [];
  try {
    console.log('Bundle (wrangler deploy --dry-run)');
    const scriptPath = buildBundle(outdir);
    // Variants of the worker some endpoints run on, each on its own copy of the data: metering
    // off (the cost of the usage event), the Cache API off (every public request a miss).
    const variants = {
      unmetered: { vars: { USAGE_METERING: 'false' } },
      uncached: { cache: false },
    };
    const urls = {};
    for (const [name, options] of [['main', {}], ...Object.entries(variants)]) {
      const { mf, url } = await startOnCopy(scriptPath, outdir, name, workers, options);
      urls[name] = url;
      // Tens of thousands of requests: on the seed's free tier the month's api_calls quota would
      // end the run in 402s, so every request measures the work.
      await liftQuotas(mf, ORG);
    }
    const url = urls.main;
    urls.floor = await startFloor(url, outdir, workers);
    console.log(`Worker on ${url} (Miniflare, no wrangler dev proxy), variants: ${Object.keys(variants).join(', ')}`);
    console.log(`  D1 state: ${await checkSeed(workers[0])}`);

    // Valid well past the run, so no request of the last endpoint meets an expired token.
    const ttl = 300 + ENDPOINTS.length * (SETTLE_MS / 1000 + WARMUP_SECONDS + SECONDS + 10);
    const token = signDevToken({ privateKeyPem: readFileSync(DEV_PRIVATE_KEY_PATH, 'utf8'), email: EMAIL, ttl });

    console.log(`\nBench: ${CONNECTIONS} connections, ${WARMUP_SECONDS} s warm-up + ${SECONDS} s per endpoint`);
    assetPath = await uploadAsset(url, token);
    // BENCH_ONLY=<text>: only the endpoints and sections whose label contains it ('chat' runs only
    // the chat turn, 'burst' only the booking burst).
    const selected = (label) => !process.env.BENCH_ONLY || label.includes(process.env.BENCH_ONLY);
    const rows = [];
    for (const endpoint of ENDPOINTS.filter((e) => selected(e.label))) {
      rows.push(await measure(urls[endpoint.worker ?? 'main'], endpoint, token));
    }
    if (rows.length > 0) printTable(rows);
    const rpsOf = (label) => rows.find((r) => r.label.startsWith(label) && !r.error)?.rps;
    const [floor, hit] = [rpsOf('GET / (bare'), rpsOf(`GET /v1/public/${ORG}/content/${POST_SLUG}`)];
    if (floor && hit) console.log(`\nPublic cache hit at ${(hit / floor).toFixed(2)}x the bare Cache API floor.`);
    if (selected('usage consumer')) await benchConsumer(workers[0]);

    // The burst: a few rounds, each on a fresh slot; the first warms up and is not reported.
    if (selected('booking burst')) {
      const rounds = [];
      for (let round = 0; round <= 5; round++) rounds.push(await bookingBurst(url, token, round));
      const measured = rounds.slice(1);
      const winners = measured.map((r) => r.statuses.filter((s) => s === 201).length);
      const refused = measured.map((r) => r.statuses.filter((s) => s === 409).length);
      const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
      console.log(`\nBooking burst: ${BURST} simultaneous bookings of one slot, ${measured.length} rounds`);
      console.log(`  winners per round: ${winners.join(', ')} (must be 1); 409s per round: ${refused.join(', ')}`);
      console.log(
        `  all answered after: median ${median(measured.map((r) => r.wallMs)).toFixed(0)} ms, worst ` +
          `${Math.max(...measured.map((r) => r.wallMs)).toFixed(0)} ms`,
      );
      if (winners.some((w) => w !== 1) || refused.some((n) => n !== BURST - 1)) {
        console.error('!! The booking burst did not end with exactly one winner and the rest 409.');
        process.exitCode = 1;
      }
    }

    if (selected('chat turn over the socket')) {
      try {
        await benchChat(workers[0], url, token, Number(readConfigVar('AI_LOCAL_DELTA_MS')));
      } catch (error) {
        rows.push({ label: 'chat turn over the socket', error });
        console.log('\nChat turn over the socket: FAILED');
      }
    }

    // Errors are faster than work: a row with failures is not a throughput figure.
    const bad = rows.filter((r) => r.error || r.failed > 0);
    for (const r of bad) {
      if (r.error) {
        console.error(`\n!! ${r.label}: ${r.error.message}`);
      } else {
        const codes = Object.entries(r.result.statusCodeStats ?? {})
          .map(([status, { count }]) => `${status}×${count}`)
          .join(', ');
        console.error(
          `\n!! ${r.label}: ${r.result.non2xx} non-2xx (${codes}), ${r.result.errors} socket errors, ${r.result.timeouts} timeouts`,
        );
      }
    }
    if (bad.length > 0) {
      console.error('\n!! Some requests failed: the figures above are not valid for those rows.');
      process.exitCode = 1;
    }
  } finally {
    await Promise.all(workers.map((worker) => worker.dispose()));
    rmSync(outdir, { recursive: true, force: true });
  }
}

// Bounded: if the worker or a run hangs, give up rather than wait forever.
await runBounded('bench', main, (180 + ENDPOINTS.length * (SETTLE_MS / 1000 + WARMUP_SECONDS + SECONDS + 30)) * 1000);
