// `npm run bench:global`: what a user in each region waits for, with the data's primaries in
// `enam`, before read replication (D1_SESSIONS=false: every query on the primary) and after it
// with every Durable Object placed with its data; for the writes of several trips (a board move,
// a chat turn, an organization's PATCH, a checkout), also with replication but the objects near
// the user; and, in the last rows, for a team whose shard is in `weur` (placed by data_region).
//
// The real worker bundle runs in Miniflare as `npm run bench` runs it, twice per region (two
// isolates of one location, sharing its Cache API), and twice as `local`, with no network at all
// (the work itself). Each copy's D1 bindings are wrapped by scripts/lib/d1-latency-model.mjs,
// which makes every round trip wait the RTT between the region and the instance that would serve
// it (../shared/data/region-rtt.json). Objects near the user: a region's Durable Objects are its
// own. Placed with their data: they all run in one more worker standing for `enam` (where the
// bench's organizations that use them have their shard), and every call to one first waits the
// RTT from the caller's region (scripts/lib/object-latency-model.mjs). Stripe answers at once.
// Figures are the client's wall time plus the user's trip to the nearest point of presence.
// "Before" is also the Cache API off (access cached per isolate only, as before the location
// cache). The model counts and prices trips; it claims nothing about Cloudflare's network.
//
// BENCH_SAMPLES (default 15) sets the samples per figure: with 15, p99 is the worst of them.
// BENCH_RTT_FILE overrides the RTT data.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Miniflare } from 'miniflare';
import { ROOT } from './dev-identity.mjs';
import { devSetup } from './dev-setup.mjs';
import {
  buildBundle,
  copyDevDatabases,
  d1DatabaseIds,
  devToken,
  liftQuotas,
  miniflareOptions,
  percentile,
  runBounded,
  scratch,
  workerOptions,
} from './lib/worker.mjs';

const PRIMARY = 'enam';
/** The team of the "data in the team's region" rows, and the local shards' primaries that are not in PRIMARY (scripts/local-shards.sql). */
const TEAM_REGION = 'weur';
const PRIMARIES = { SHARD_1: 'weur', SHARD_2: 'weur' };
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 15);
if (!Number.isInteger(SAMPLES) || SAMPLES <= 0) throw new Error('BENCH_SAMPLES must be a positive whole number.');
const WARMUP = 2;
const rttFile = process.env.BENCH_RTT_FILE ?? path.join(ROOT, '..', 'shared', 'data', 'region-rtt.json');
const data = JSON.parse(readFileSync(rttFile, 'utf8'));
const REGIONS = data.regions;
/** `local`: every RTT zero, no trip to the point of presence. What is left is the work. */
const LOCAL = 'local';
const rttFrom = (region) =>
  region === LOCAL ? Object.fromEntries([LOCAL, PRIMARY, TEAM_REGION].map((r) => [r, 0])) : data.rtt[region];
const MODEL_WORKER = 'd1-latency-model';
const SCENARIOS = [
  ['warm', 'tenant read, warm (access cached)'],
  ['cold', 'tenant read, cold (access looked up)'],
  ['fresh', 'tenant read, fresh isolate (its location has the access)'],
  ['write', 'write (a customer)'],
  ['ownAtOnce', 'own write read back at once, with the bookmark'],
  ['ownLater', `own write read back after the lag (${data.replica_lag_ms} ms)`],
  ['publicMiss', 'public content, cache miss'],
  ['chat', "chat turn, D1's share (provider answers at once)"],
  ['move', 'board move'],
  ['patch', 'organization PATCH'],
  ['checkout', "checkout, D1's share (Stripe answers at once)"],
  ['teamRead', `tenant read, warm, of a team whose shard is in ${TEAM_REGION}`],
  ['teamWrite', `write (a customer) of a team whose shard is in ${TEAM_REGION}`],
];

/** Region `region`'s worker `isolate` (0, 1): the same bundle, its D1 bindings modelled from there. */
function regionWorker(scriptPath, region, isolate, { vars, cache, objects }) {
  const { d1Databases, durableObjects, ...options } = workerOptions(scriptPath, {
    vars: { ...vars, AI_LOCAL_DELTA_MS: '0' }, // the chat turn's figure is its D1 share
    cache,
    consumers: region === LOCAL && isolate === 0, // one worker consumes the queues
  });
  const model = {
    primary: PRIMARY,
    primaries: PRIMARIES,
    lag: data.replica_lag_ms,
    rtt: { [region]: rttFrom(region) },
  };
  // Placed: the objects run in the host worker, each call to one a hop from here to PRIMARY
  // (`local` keeps its own: it has no distance to model).
  const placed = objects === 'placed' && region !== LOCAL && isolate !== OBJECTS_HOST_ISOLATE;
  return {
    ...options,
    name: workerName(region, isolate),
    bindings: { ...options.bindings, STRIPE_SECRET_KEY: 'sk_test_bench' },
    outboundService: stripeStandIn,
    ...(placed ? {} : { durableObjects }),
    wrappedBindings: {
      ...Object.fromEntries(
        Object.keys(d1Databases).map((binding) => [
          binding,
          { scriptName: MODEL_WORKER, bindings: { NAME: binding, REGION: region, MODEL: model } },
        ]),
      ),
      ...(placed
        ? Object.fromEntries(
            Object.keys(durableObjects).map((binding) => [
              binding,
              { scriptName: OBJECTS_MODEL_WORKER, bindings: { NAME: binding, HOP_MS: rttFrom(region)[PRIMARY] } },
            ]),
          )
        : {}),
    },
  };
}

/** The model's worker: its own bindings are the real local databases the wrapped ones reach. */
const modelWorker = () => ({
  name: MODEL_WORKER,
  modules: true,
  scriptPath: path.join(ROOT, 'scripts', 'lib', 'd1-latency-model.mjs'),
  d1Databases: d1DatabaseIds(),
});

/**
 * Objects placed with their data: the bench's organizations that use objects have their shard in
 * PRIMARY, so every object runs in a worker standing for PRIMARY (the host), reached through the
 * wrapped namespaces of scripts/lib/object-latency-model.mjs.
 */
const OBJECTS_HOST_ISOLATE = 'objects';
const OBJECTS_MODEL_WORKER = 'object-latency-model';
const objectsModelWorker = (scriptPath) => ({
  name: OBJECTS_MODEL_WORKER,
  modules: true,
  scriptPath: path.join(ROOT, 'scripts', 'lib', 'object-latency-model.mjs'),
  durableObjects: Object.fromEntries(
    Object.entries(workerOptions(scriptPath).durableObjects).map(([binding, options]) => [
      binding,
      { ...options, scriptName: workerName(PRIMARY, OBJECTS_HOST_ISOLATE) },
    ]),
  ),
});

/**
 * Stripe as checkout calls it, answering at once: the figures are D1's and the objects' share.
 * Every previous Checkout Session is still open (closed by expiring it), every price found.
 */
let stripeIds = 0;
function stripeStandIn(request) {
  const { hostname, pathname } = new URL(request.url);
  const id = (prefix) => `${prefix}_bench${++stripeIds}`;
  const json = (body) => new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } });
  const session = (sessionId, status) => ({
    id: sessionId,
    object: 'checkout.session',
    status,
    subscription: null,
    url: `https://checkout.stripe.test/${sessionId}`,
  });
  if (hostname !== 'api.stripe.com') return new Response('no network in the bench', { status: 502 });
  if (pathname === '/v1/prices')
    return json({ object: 'list', has_more: false, data: [{ id: 'price_bench', object: 'price', active: true }] });
  if (pathname === '/v1/customers') return json({ id: id('cus'), object: 'customer' });
  if (pathname.startsWith('/v1/customers/')) return json({ id: pathname.split('/')[3], object: 'customer' });
  if (pathname === '/v1/checkout/sessions') return json(session(id('cs'), 'open'));
  const [, , , , sessionId, action] = pathname.split('/');
  if (pathname.startsWith('/v1/checkout/sessions/')) return json(session(sessionId, action ? 'expired' : 'open'));
  return new Response(JSON.stringify({ error: { message: `bench: ${pathname}` } }), { status: 404 });
}

const workerName = (region, isolate) => `strive-${region}-${isolate}`;

/**
 * Sends a request to a region's worker (`isolate` 1: the location's second isolate): the answer,
 * its parsed body, the client's wall time, the D1 round trips (x-d1-instances) and far hops.
 */
async function send(mf, region, method, pathname, { token, body, headers = {}, isolate = 0 } = {}) {
  const worker = await mf.getWorker(workerName(region, isolate));
  const init = {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body ? JSON.stringify(body) : undefined,
  };
  const started = performance.now();
  const response = await worker.fetch(`https://strive.bench${pathname}`, init);
  const text = await response.text();
  const ms = performance.now() - started;
  if (!response.ok)
    throw new Error(`${region}: ${method} ${pathname} answered ${response.status}: ${text.slice(0, 300)}`);
  return {
    ms,
    trips: response.headers.get('x-d1-instances') ?? '',
    hops: Number(response.headers.get('x-d1-far-hops')),
    body: text && /json/.test(response.headers.get('content-type') ?? '') ? JSON.parse(text) : text,
    headers: response.headers,
  };
}

/** A region's own organization and what the scenarios use, made through the `local` worker. */
async function fixtures(mf, region) {
  const token = devToken(`bench-${region}@global.bench`, 3600);
  const post = (pathname, body) => send(mf, LOCAL, 'POST', pathname, { token, body }).then((r) => r.body);
  const org = await post('/v1/orgs', { name: `Global bench ${region}` });
  await liftQuotas(mf, org.slug, MODEL_WORKER);
  // The same user's team whose data is in TEAM_REGION (its shard's primary there).
  const team = await post('/v1/orgs', { name: `Global bench ${region} team`, data_region: TEAM_REGION });
  await liftQuotas(mf, team.slug, MODEL_WORKER);
  const at = (suffix) => `/v1/orgs/${org.slug}${suffix}`;
  const project = await post(at('/projects'), { name: 'Board' });
  const task = await post(at(`/projects/${project.id}/tasks`), { title: 'Moved' });
  const conversation = await post(at('/conversations'), { context_type: 'general', ai_model: 'openai_gpt4' });
  // Per round: a post read once (a public miss whatever the cache), and a member whose access is
  // looked up on the first isolate (then kept in the location) and then read on the second. Signed
  // up beforehand (GET /v1/me), so that their first tenant request reads and does not provision.
  const members = [];
  for (let n = 0; n < SAMPLES + WARMUP; n++) {
    const content = await post(at('/content'), { title: `Public ${n}`, slug: `post-${n}`, content: 'Read far away.' });
    await post(at(`/content/${content.id}/publish`), {});
    const email = `member-${n}-${region}@global.bench`;
    const member = devToken(email, 3600);
    await send(mf, LOCAL, 'GET', '/v1/me', { token: member });
    await post(at('/members'), { email, role: 'viewer' });
    members.push(member);
  }
  for (let n = 0; n < 5; n++) await post(at('/customers'), { name: `Customer ${n}` });
  return { token, org, team, task, conversation, members };
}

/** One round of every scenario from `region`, in order: each one's answer (time and trips). */
async function round(mf, region, f, n) {
  const at = (suffix) => `/v1/orgs/${f.org.slug}${suffix}`;
  const get = (pathname, options) => send(mf, region, 'GET', pathname, options);
  const list = at('/customers?limit=10');
  const answers = {};
  answers.warm = await get(list, { token: f.token });
  answers.cold = await get(list, { token: f.members[n] });
  answers.write = await send(mf, region, 'POST', at('/customers'), { token: f.token, body: { name: `Written ${n}` } });
  const bookmark = answers.write.headers.get('strive-bookmark');
  const readBack = () =>
    get(at(`/customers/${answers.write.body.id}`), {
      token: f.token,
      headers: bookmark ? { 'strive-bookmark': bookmark } : {},
    });
  answers.ownAtOnce = await readBack();
  await new Promise((resolve) => setTimeout(resolve, data.replica_lag_ms + 50));
  answers.ownLater = await readBack();
  answers.publicMiss = await get(`/v1/public/${f.org.slug}/content/post-${n}`);
  answers.chat = await send(mf, region, 'POST', at(`/conversations/${f.conversation.id}/messages`), {
    token: f.token,
    body: { content: `Question ${n}` },
  });
  answers.move = await send(mf, region, 'POST', at(`/tasks/${f.task.id}/move`), {
    token: f.token,
    body: { status: n % 2 ? 'todo' : 'in_progress' },
  });
  const team = (suffix) => `/v1/orgs/${f.team.slug}${suffix}`;
  answers.teamRead = await get(team('/customers?limit=10'), { token: f.token });
  answers.teamWrite = await send(mf, region, 'POST', team('/customers'), {
    token: f.token,
    body: { name: `Written ${n}` },
  });
  // Long after the cold read kept member n's access in the location: the second isolate's first sight of it.
  answers.fresh = await get(list, { token: f.members[n], isolate: 1 });
  // Last: an organization's PATCH forgets its cached access everywhere (its name or slug may change).
  answers.patch = await send(mf, region, 'PATCH', at(''), { token: f.token, body: { description: `Round ${n}` } });
  answers.checkout = await send(mf, region, 'POST', at('/billing/checkout'), { token: f.token, body: { tier: 'pro' } });
  return answers;
}

/** The trips a scenario made most often, as `2 any, 1 primary` (the Worker's x-d1-instances). */
function usualTrips(samples) {
  const counts = new Map();
  for (const trips of samples) counts.set(trips, (counts.get(trips) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0][0];
}

/** Every scenario from every region on one Miniflare, its workers made with `options`. */
async function measureAll(scriptPath, d1Persist, options) {
  const mf = new Miniflare({
    ...miniflareOptions(d1Persist),
    workers: [LOCAL, ...REGIONS]
      .flatMap((region) => [0, 1].map((isolate) => regionWorker(scriptPath, region, isolate, options)))
      .concat(
        modelWorker(),
        options.objects === 'placed'
          ? [regionWorker(scriptPath, PRIMARY, OBJECTS_HOST_ISOLATE, options), objectsModelWorker(scriptPath)]
          : [],
      ),
  });
  try {
    await mf.ready;
    const results = {};
    for (const region of [LOCAL, ...REGIONS]) {
      process.stdout.write(`  ${region} …`);
      const began = performance.now();
      const f = await fixtures(mf, region);
      const measuring = performance.now();
      const samples = [];
      for (let n = 0; n < WARMUP + SAMPLES; n++) {
        const answers = await round(mf, region, f, n);
        if (n >= WARMUP) samples.push(answers);
      }
      const pop = region === LOCAL ? 0 : data.user_to_nearest_pop_ms;
      results[region] = Object.fromEntries(
        SCENARIOS.map(([key]) => {
          const values = samples.map((s) => s[key].ms + pop);
          return [
            key,
            {
              p50: percentile(values, 50),
              p99: percentile(values, 99),
              trips: usualTrips(samples.map((s) => s[key].trips)),
              hops: usualTrips(samples.map((s) => s[key].hops)),
            },
          ];
        }),
      );
      process.stdout.write(
        ` set up in ${ms((measuring - began) / 1000)} s, measured in ${ms((performance.now() - measuring) / 1000)} s\n`,
      );
    }
    return results;
  } finally {
    await mf.dispose();
  }
}

const ms = (v) => String(Math.round(v));
/** x-d1-instances, short: `catalog:any, shard_0:primary` → `C·any S·primary`. */
const short = (trips) =>
  trips
    .replace(/shard_\d+/g, 'S')
    .replace(/catalog/g, 'C')
    .replace(/:/g, '·')
    .replace(/, /g, ' ') || 'none';
const tripsOf = (results, key) => [...new Set(REGIONS.map((r) => short(results[r][key].trips)))].join(' / ');

function printTable(before, after) {
  const cell = (b, a) => `${ms(b.p50)}/${ms(b.p99)} → ${ms(a.p50)}/${ms(a.p99)}`;
  const header = ['p50/p99 ms, before → after', ...REGIONS, 'work (local p50)', 'D1 trips, before → after'];
  const rows = SCENARIOS.map(([key, label]) => [
    label,
    ...REGIONS.map((r) => cell(before[r][key], after[r][key])),
    `${ms(before[LOCAL][key].p50)} → ${ms(after[LOCAL][key].p50)}`,
    `${tripsOf(before, key)} → ${tripsOf(after, key)}`,
  ]);
  console.log(
    `\n| ${header.join(' | ')} |\n| ${header.map((_, i) => (i === 0 || i === header.length - 1 ? '---' : '---:')).join(' | ')} |`,
  );
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
}

/** The writes of several trips: what placing the objects with their data changed. */
const MULTI_TRIP = ['move', 'chat', 'patch', 'checkout'];

function printPlacement(near, after) {
  const cell = (n, a) => `${ms(n.p50)}/${ms(n.p99)} → ${ms(a.p50)}/${ms(a.p99)}`;
  const header = [
    'p50/p99 ms, objects near the user → at their data',
    ...REGIONS,
    'D1 trips, near → at the data',
    'far hops',
  ];
  console.log(
    `\n| ${header.join(' | ')} |\n| ${header.map((_, i) => (i === 0 || i >= header.length - 2 ? '---' : '---:')).join(' | ')} |`,
  );
  for (const key of MULTI_TRIP) {
    const label = SCENARIOS.find(([k]) => k === key)[1];
    const hops = [...new Set(REGIONS.map((r) => after[r][key].hops))].join(' / ');
    const row = [
      label,
      ...REGIONS.map((r) => cell(near[r][key], after[r][key])),
      `${tripsOf(near, key)} → ${tripsOf(after, key)}`,
      hops,
    ];
    console.log(`| ${row.join(' | ')} |`);
  }
}

/**
 * Issue 20's goal, on the model's figures (after): each write of several trips is one far hop
 * (x-d1-far-hops) and costs about one round trip to the data's region plus local work: what is
 * left once the point of presence, the work and that round trip are taken off stays within the
 * nearby trips' share (SLACK_MS: a few `same` trips and the shared cores' noise).
 */
const SLACK_MS = 60;
function checkPlacementGoals(after) {
  let met = true;
  const lines = REGIONS.map((region) => {
    const far = data.rtt[region][PRIMARY];
    const goals = MULTI_TRIP.map((key) => {
      const left = after[region][key].p50 - data.user_to_nearest_pop_ms - after[LOCAL][key].p50 - far;
      const ok = after[region][key].hops === 1 && left <= SLACK_MS;
      met &&= ok;
      return `${ok ? 'ok' : 'MISSED'} ${key} ${after[region][key].hops} hop, ${ms(far)} + ${ms(left)} ms`;
    });
    return `  ${region.padEnd(5)} ${goals.join('; ')}`;
  });
  console.log(
    `\nPlacement goals (after; one far hop, then ms = the hop's RTT + what is left beyond it, the point of ` +
      `presence and the local work; left ≤ ${SLACK_MS} ms):\n${lines.join('\n')}`,
  );
  return met;
}

/**
 * The goals, on the model's figures (after): trips as the Worker recorded them (x-d1-instances;
 * `any` is the nearest replica unless the session needs a commit younger than the lag), and where
 * the time shows where a read went, the time left once the trip to the point of presence and the
 * work (the `local` figure) are taken off.
 */
function checkGoals(after) {
  const { same } = data;
  const lines = [];
  let met = true;
  for (const region of REGIONS) {
    const trips = (key) => short(after[region][key].trips);
    const priced = (key) => after[region][key].p50 - data.user_to_nearest_pop_ms - after[LOCAL][key].p50;
    const primary = data.rtt[region][PRIMARY];
    // The read back at once waits for the primary, the one after the lag for a replica nearby;
    // where the primary is itself nearby the two are alike.
    const paysPrimaryInLag = primary <= 2 * same || priced('ownAtOnce') - priced('ownLater') >= (primary - same) / 2;
    const goals = [
      [`warm read ${trips('warm')} (${ms(priced('warm'))} ms)`, trips('warm') === 'S·any'],
      [`cold ${trips('cold')}`, trips('cold') === 'C·any S·any'],
      [`fresh isolate ${trips('fresh')}`, trips('fresh') === 'S·any'],
      [`write ${trips('write')} (${ms(priced('write'))} ms, primary ${primary})`, trips('write') === 'S·primary'],
      [
        `own write at once ${ms(priced('ownAtOnce'))} ms, after the lag ${ms(priced('ownLater'))} ms`,
        trips('ownLater') === 'S·any' && paysPrimaryInLag,
      ],
    ];
    met &&= goals.every(([, ok]) => ok);
    lines.push(`  ${region.padEnd(5)} ${goals.map(([text, ok]) => `${ok ? 'ok' : 'MISSED'} ${text}`).join('; ')}`);
  }
  console.log(
    `\nGoals (after; ms = p50 − ${data.user_to_nearest_pop_ms} ms to the point of presence − the local work; S ` +
      `shard, C catalog):\n${lines.join('\n')}`,
  );
  return met;
}

async function main() {
  devSetup();
  const { dir, remove } = scratch('strive-bench-global-');
  try {
    console.log('Bundle (wrangler deploy --dry-run)');
    const scriptPath = buildBundle(dir);
    console.log(
      `Primaries in ${PRIMARY}; ${SAMPLES} samples per figure after ${WARMUP} unmeasured rounds; RTTs from ${path.relative(ROOT, rttFile)}`,
    );
    console.log(
      'Before: D1_SESSIONS=false (every query on the primary), Cache API off (access cached per isolate only)',
    );
    const before = await measureAll(scriptPath, copyDevDatabases(dir, 'before'), {
      vars: { D1_SESSIONS: 'false' },
      cache: false,
    });
    console.log('Objects near the user: D1_SESSIONS=true, access cached per isolate and per location');
    const near = await measureAll(scriptPath, copyDevDatabases(dir, 'near'), {
      vars: { D1_SESSIONS: 'true' },
      cache: true,
    });
    console.log(`After: the same, and every object placed with its data (in ${PRIMARY})`);
    const after = await measureAll(scriptPath, copyDevDatabases(dir, 'after'), {
      vars: { D1_SESSIONS: 'true' },
      cache: true,
      objects: 'placed',
    });
    printTable(before, after);
    printPlacement(near, after);
    const met = [checkGoals(after), checkPlacementGoals(after)].every(Boolean);
    if (!met) process.exitCode = 1;
  } finally {
    remove();
  }
}

// Bounded: if the worker or a run hangs, give up rather than wait forever.
await runBounded('bench:global', main, (600 + SAMPLES * 120) * 1000);
