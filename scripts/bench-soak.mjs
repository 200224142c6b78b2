// `npm run bench:soak`: SOAK_SECONDS (default 60) of mixed traffic against the Worker as deployed
// (Miniflare's API, queues and their consumers running, a throwaway copy of the dev data), from
// several credentials at once: acme's seeded owner, member and viewer (dev tokens) and two API
// keys made at the start. Reads, creates, updates and deletes of customers, tasks and content;
// board moves over REST and over board sockets; chat turns (local provider); bookings of one slot
// by several clients at once; asset uploads and deletes. When the usage queue has drained, checks
// and fails (exit 1) otherwise:
//   - no 5xx (and no request without an answer);
//   - every acknowledged mutation has exactly one audit row (activity_logs by resource id and
//     action), and every audit row written during the run belongs to an acknowledged mutation;
//   - api_calls counted for the period (usage_tracking, and usage_events since the start) equals
//     the metered requests served: the /v1/orgs/acme/… requests, socket upgrades included, not
//     refused before the meter (401, 402, 429). Not metered, so not counted: /v1/me, public
//     reads, messages over an open socket (moves, chat turns: those count ai_tokens);
//   - no board has two tasks at one position (per project and status);
//   - no assignee is double-booked (two overlapping live appointments).
import { buildBundle, devToken, liftQuotas, percentile, scratch } from './lib/worker.mjs';
import { seededOrganization, startOnCopy } from './local-worker.mjs';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 60);
if (!Number.isInteger(SECONDS) || SECONDS <= 0) throw new Error('SOAK_SECONDS must be a positive whole number.');

const ORG = 'acme';
const seeded = (n) => `019a0000-0000-7000-8000-${String(n).padStart(12, '0')}`;
const ALICE = seeded(1); // acme's owner
const BOB = seeded(2); // a member: the bookings are his time
const PROJECT = seeded(601); // the seed's board with tasks in every open column
const CONVERSATION = seeded(1001); // alice's conversation
const POST_SLUG = 'introducing-client-portal'; // published seed content
const BOARD_STATUSES = ['todo', 'in_progress', 'review'];
const KEY_SCOPES = [
  'customers:read',
  'customers:write',
  'customers:delete',
  'tasks:read',
  'tasks:write',
  'tasks:delete',
  'projects:read',
  'appointments:read',
  'appointments:write',
  'content:read',
  'content:write',
  'content:delete',
  'assets:read',
  'assets:write',
  'assets:delete',
];

const { dir, remove } = scratch('strive-soak-');
const started = [];
/** Every HTTP request of the run: { kind, status (0: no answer), ms, metered }. */
const requests = [];
/** Every acknowledged mutation: { resource_id, action } (an audited change answered as done). */
const mutations = [];
/** Moves sent over a socket and their outcome (no answer within SOCKET_TIMEOUT_MS is a failure). */
const socketMoves = { acked: 0, refused: 0, lost: 0 };
const chat = { turns: 0, errors: 0 };
const bookings = { rounds: 0, badRounds: [] };
const SOCKET_TIMEOUT_MS = 15_000;
/** A board socket takes at most 20 messages per 10 s: one move per this many ms stays under it. */
const SOCKET_MOVE_PACE_MS = 600;

let url;
let mf;
let stopAt = Infinity;
const running = () => Date.now() < stopAt;

/** One request; recorded, whatever the outcome. `auth`: a bearer (token or API key). */
async function call(kind, auth, method, path, body, { contentType = 'application/json' } = {}) {
  const sent = performance.now();
  let status = 0;
  let json;
  try {
    const response = await fetch(url + path, {
      method,
      headers: {
        ...(auth ? { authorization: `Bearer ${auth}` } : {}),
        ...(body !== undefined ? { 'content-type': contentType } : {}),
      },
      body: body === undefined ? undefined : contentType === 'application/json' ? JSON.stringify(body) : body,
    });
    status = response.status;
    const text = await response.text();
    json = text && response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text;
    if (status >= 500) console.error(`!! ${method} ${path} answered ${status}: ${text.slice(0, 300)}`);
  } catch (error) {
    console.error(`!! ${method} ${path}: no answer (${error.message})`);
  }
  requests.push({ kind, status, ms: performance.now() - sent, metered: isMetered(path, status) });
  return { status, body: json };
}

/** The api_calls meter: tenant routes only, after authentication, rate limit and quota. */
const isMetered = (path, status) =>
  path.startsWith(`/v1/orgs/${ORG}/`) && status !== 0 && ![401, 402, 429].includes(status);

const acknowledge = (resource_id, action) => mutations.push({ resource_id, action });
const pick = (values) => values[Math.floor(Math.random() * values.length)];

/** Creates, updates and reads `resource` as `auth`, deletes as `deleter` (a member may not delete), until the end. */
async function crudLoop({
  auth,
  deleter = auth,
  resource,
  createBody,
  patchBody,
  createPath = `/v1/orgs/${ORG}/${resource}`,
}) {
  const mine = [];
  let n = 0;
  while (running()) {
    n++;
    const roll = Math.random();
    if (mine.length < 3 || roll < 0.35) {
      const { status, body } = await call(`${resource} create`, auth, 'POST', createPath, createBody(n));
      if (status === 201) {
        mine.push(body.id);
        acknowledge(body.id, `${singular(resource)}.create`);
      }
    } else if (roll < 0.7) {
      const id = pick(mine);
      const { status } = await call(
        `${resource} update`,
        auth,
        'PATCH',
        `/v1/orgs/${ORG}/${resource}/${id}`,
        patchBody(n),
      );
      if (status === 200) acknowledge(id, `${singular(resource)}.update`);
    } else if (roll < 0.85) {
      await call(`${resource} read`, auth, 'GET', `/v1/orgs/${ORG}/${resource}/${pick(mine)}`);
    } else {
      const id = mine.splice(Math.floor(Math.random() * mine.length), 1)[0];
      const { status } = await call(`${resource} delete`, deleter, 'DELETE', `/v1/orgs/${ORG}/${resource}/${id}`);
      if (status === 204) acknowledge(id, `${singular(resource)}.delete`);
    }
  }
}
const singular = (resource) => ({ customers: 'customer', content: 'content', tasks: 'task' })[resource];

/**
 * Reads across the API and the unmetered public item, as `auth`, until the end; `admin`: the
 * activity log too, `user`: /v1/me too (unmetered; a user's, not an API key's).
 */
async function readLoop(auth, { admin = false, user = false }) {
  const reads = [
    `/v1/orgs/${ORG}/customers?limit=20`,
    `/v1/orgs/${ORG}/customers?q=soak&limit=10`,
    `/v1/orgs/${ORG}/projects/${PROJECT}/board`,
    `/v1/orgs/${ORG}/tasks?limit=20`,
    `/v1/orgs/${ORG}/content?limit=10`,
    `/v1/orgs/${ORG}/appointments?assigned_to=${BOB}&limit=20`,
    `/v1/public/${ORG}/content/${POST_SLUG}`,
    ...(admin ? [`/v1/orgs/${ORG}/activity?limit=10`] : []),
    ...(user ? ['/v1/me'] : []),
  ];
  while (running()) {
    const path = pick(reads);
    await call(
      path.startsWith(`/v1/orgs/`) ? 'tenant read' : 'unmetered read',
      path.startsWith('/v1/public') ? null : auth,
      'GET',
      path,
    );
  }
}

/** Tasks of its own on the board, moved over REST between columns and next to the seed's tasks. */
async function restMoveLoop(auth, seedTasks) {
  const mine = [];
  let n = 0;
  while (running()) {
    n++;
    if (mine.length < 2 || Math.random() < 0.1) {
      const { status, body } = await call('task create', auth, 'POST', `/v1/orgs/${ORG}/projects/${PROJECT}/tasks`, {
        title: `soak move ${n}`,
        status: 'todo',
      });
      if (status === 201) {
        mine.push({ id: body.id, status: 'todo' });
        acknowledge(body.id, 'task.create');
      }
      continue;
    }
    const task = pick(mine);
    const status = pick(BOARD_STATUSES.filter((s) => s !== task.status)); // a change every time: always audited
    const neighbour = pick(seedTasks.filter((t) => t.status === status));
    const place = neighbour ? { [Math.random() < 0.5 ? 'before_id' : 'after_id']: neighbour.id } : {};
    const { status: code } = await call('task move (REST)', auth, 'POST', `/v1/orgs/${ORG}/tasks/${task.id}/move`, {
      status,
      ...place,
    });
    if (code === 200) {
      task.status = status;
      acknowledge(task.id, 'task.move');
    }
  }
}

/** A board socket of its own task: moves it between columns, one at a time, with its version. */
async function socketMoveLoop(token, label) {
  const created = await call('task create', token, 'POST', `/v1/orgs/${ORG}/projects/${PROJECT}/tasks`, {
    title: `soak socket ${label}`,
    status: 'todo',
  });
  if (created.status !== 201) return;
  acknowledge(created.body.id, 'task.create');
  const task = { id: created.body.id, status: 'todo', version: created.body.version };
  const socket = await openSocket('board socket', `/v1/orgs/${ORG}/projects/${PROJECT}/board/ws?token=${token}`);
  if (!socket) return;
  await socket.next((m) => m.type === 'snapshot');
  while (running()) {
    const status = pick(BOARD_STATUSES.filter((s) => s !== task.status));
    const answer = socket.next(
      (m) => (m.type === 'task.moved' && m.task.id === task.id) || m.type === 'error',
      SOCKET_TIMEOUT_MS,
    );
    socket.ws.send(JSON.stringify({ type: 'move', task_id: task.id, status, version: task.version }));
    const [message] = await Promise.all([answer, new Promise((resolve) => setTimeout(resolve, SOCKET_MOVE_PACE_MS))]);
    if (message?.type === 'task.moved') {
      socketMoves.acked++;
      Object.assign(task, { status: message.task.status, version: message.task.version });
      acknowledge(task.id, 'task.move');
    } else if (message?.type === 'error') {
      socketMoves.refused++;
      console.error(`!! socket move refused: ${message.code}: ${message.detail}`);
      if (message.task) task.version = message.task.version;
    } else socketMoves.lost++;
  }
  socket.ws.close(1000, 'soak done');
}

/** Chat turns over the conversation's socket, one after another (one answer at a time by design). */
async function chatLoop(token) {
  const socket = await openSocket('chat socket', `/v1/orgs/${ORG}/conversations/${CONVERSATION}/ws?token=${token}`);
  if (!socket) return;
  while (running()) {
    const answer = socket.next((m) => m.type === 'done' || m.type === 'error', 60_000);
    socket.ws.send(JSON.stringify({ type: 'user_message', content: `Soak question ${chat.turns}: what is open?` }));
    const message = await answer;
    if (message?.type === 'done') chat.turns++;
    else {
      chat.errors++;
      console.error(`!! chat turn: ${message ? `${message.code}: ${message.detail}` : 'no answer'}`);
    }
  }
  socket.ws.close(1000, 'soak done');
}

/**
 * Rounds of simultaneous bookings of one new hour of Bob's by every client: one must win (201),
 * the others 409. Now and then the winner is cancelled and the slot booked again.
 */
async function bookingLoop(clients) {
  let round = 0;
  while (running()) {
    const start = Date.UTC(2034, 0, 1) + round++ * 3_600_000;
    const slot = { start_time: new Date(start).toISOString(), end_time: new Date(start + 3_600_000).toISOString() };
    const book = () =>
      Promise.all(
        clients.map((auth, n) =>
          call('booking (same slot)', auth, 'POST', `/v1/orgs/${ORG}/appointments`, {
            title: `soak ${round}.${n}`,
            assigned_to: BOB,
            ...slot,
          }),
        ),
      );
    const check = async (answers) => {
      bookings.rounds++;
      const won = answers.filter((a) => a.status === 201);
      for (const a of won) acknowledge(a.body.id, 'appointment.create');
      if (won.length !== 1 || answers.some((a) => a.status !== 201 && a.status !== 409))
        bookings.badRounds.push(answers.map((a) => a.status).join('/'));
      return won[0]?.body.id;
    };
    const winner = await check(await book());
    if (winner && Math.random() < 0.3) {
      const { status } = await call('booking cancel', clients[0], 'DELETE', `/v1/orgs/${ORG}/appointments/${winner}`);
      if (status === 204) {
        acknowledge(winner, 'appointment.delete');
        await check(await book());
      }
    }
  }
}

/** Small uploads by `auth`, some deleted again by `deleter`. */
async function assetLoop(auth, deleter) {
  const mine = [];
  let n = 0;
  while (running()) {
    n++;
    if (mine.length === 0 || Math.random() < 0.7) {
      const { status, body } = await call(
        'asset upload',
        auth,
        'POST',
        `/v1/orgs/${ORG}/assets?name=soak-${n}.png`,
        new Uint8Array(8 * 1024).fill(n % 256),
        { contentType: 'image/png' },
      );
      if (status === 201) {
        mine.push(body.id);
        acknowledge(body.id, 'asset.create');
      }
    } else {
      const id = mine.pop();
      const { status } = await call('asset delete', deleter, 'DELETE', `/v1/orgs/${ORG}/assets/${id}`);
      if (status === 204) acknowledge(id, 'asset.delete');
    }
  }
}

/** A socket through Miniflare (the upgrade is a metered request), with `next(predicate, timeout)`. */
async function openSocket(kind, path) {
  const sent = performance.now();
  const response = await mf.dispatchFetch(url + path, { headers: { upgrade: 'websocket' } });
  requests.push({
    kind: `${kind} open`,
    status: response.status,
    ms: performance.now() - sent,
    metered: isMetered(path, response.status),
  });
  const ws = response.webSocket;
  if (!ws) {
    console.error(`!! ${kind} answered ${response.status}: ${await response.text()}`);
    return null;
  }
  ws.accept();
  const backlog = [];
  let waiting = [];
  ws.addEventListener('message', (event) => {
    const message = JSON.parse(event.data);
    const before = waiting.length;
    waiting = waiting.filter(({ predicate, resolve }) => !(predicate(message) && (resolve(message), true)));
    if (waiting.length === before) backlog.push(message);
  });
  const next = (predicate, timeout = SOCKET_TIMEOUT_MS) => {
    const early = backlog.findIndex(predicate);
    if (early >= 0) return Promise.resolve(backlog.splice(early, 1)[0]);
    backlog.length = 0; // older messages nobody waits for
    return new Promise((resolve) => {
      const entry = { predicate, resolve };
      waiting.push(entry);
      setTimeout(() => {
        waiting = waiting.filter((w) => w !== entry);
        resolve(null);
      }, timeout).unref();
    });
  };
  return { ws, next };
}

/** An API key of alice's, made through the API (its creation is a mutation of the run). */
async function createKey(token, name) {
  const { status, body } = await call('api key create', token, 'POST', `/v1/orgs/${ORG}/api-keys`, {
    name,
    scopes: KEY_SCOPES,
  });
  if (status !== 201) throw new Error(`the API key was not made: ${status} ${JSON.stringify(body)}`);
  acknowledge(body.id, 'api_key.create');
  return body.key;
}

/** api_calls of the organization: this period's total, and the events counted since `since`. */
async function usage(shard, organizationId, since) {
  const period = `${since.slice(0, 7)}-01`;
  const total = await shard
    .prepare(
      `SELECT coalesce(sum(usage_amount), 0) AS n FROM usage_tracking
       WHERE organization_id = ? AND resource_type = 'api_calls' AND billing_period = ?`,
    )
    .bind(organizationId, period)
    .first('n');
  const events = await shard
    .prepare(
      `SELECT count(*) AS n FROM usage_events WHERE organization_id = ? AND resource_type = 'api_calls' AND occurred_at >= ?`,
    )
    .bind(organizationId, since)
    .first('n');
  return { total, events };
}

/** Polls until the usage figures stop changing for `stableFor` polls (the queue has drained). */
async function drained(read) {
  let last = '';
  let same = 0;
  for (let i = 0; i < 120 && same < 5; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const now = JSON.stringify(await read());
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return JSON.parse(last);
}

try {
  ({ mf, url } = await startOnCopy(buildBundle(dir), dir, 'soak', started));
  await liftQuotas(mf, ORG); // no 402 ends the run: every request does its work
  const org = await seededOrganization(mf, ORG);
  const { results: seedTasks } = await org.shard
    .prepare('SELECT id, status FROM tasks WHERE organization_id = ? AND project_id = ?')
    .bind(org.id, PROJECT)
    .all();

  const ttl = SECONDS + 600;
  const alice = devToken('alice@acme.test', ttl);
  const bob = devToken('bob@acme.test', ttl);
  const vic = devToken('vic@acme.test', ttl);
  const since = new Date().toISOString();
  const before = await usage(org.shard, org.id, since);
  const keys = [await createKey(alice, 'soak key 1'), await createKey(alice, 'soak key 2')];
  console.log(`Soak: ${SECONDS} s against ${url}, credentials: alice, bob, vic (viewer), 2 API keys`);

  stopAt = Date.now() + SECONDS * 1000;
  const customer = (n) => ({ name: `Soak customer ${n}`, email: `soak${n}@example.test`, company: 'Soak' });
  const content = (n) => ({ title: `Soak post ${n} ${crypto.randomUUID().slice(0, 8)}`, content: `Body ${n}` });
  const task = (n) => ({ title: `soak task ${n}` });
  const startedAt = performance.now();
  await Promise.all([
    crudLoop({
      auth: alice,
      resource: 'customers',
      createBody: customer,
      patchBody: (n) => ({ notes: `${n} ${Math.random()}` }),
    }),
    crudLoop({
      auth: bob,
      deleter: keys[0],
      resource: 'customers',
      createBody: customer,
      patchBody: (n) => ({ company: `${n} ${Math.random()}` }),
    }),
    crudLoop({
      auth: bob,
      deleter: alice,
      resource: 'content',
      createBody: content,
      patchBody: (n) => ({ excerpt: `${n} ${Math.random()}` }),
    }),
    crudLoop({
      auth: keys[1],
      resource: 'tasks',
      createBody: task,
      patchBody: (n) => ({ description: `${n} ${Math.random()}` }),
      createPath: `/v1/orgs/${ORG}/projects/${PROJECT}/tasks`,
    }),
    readLoop(alice, { admin: true, user: true }),
    readLoop(vic, { user: true }),
    readLoop(keys[1], {}),
    restMoveLoop(alice, seedTasks),
    restMoveLoop(keys[0], seedTasks),
    socketMoveLoop(alice, 'alice'),
    socketMoveLoop(bob, 'bob'),
    chatLoop(alice),
    bookingLoop([alice, bob, keys[0], keys[1]]),
    assetLoop(bob, alice),
  ]);
  const elapsed = (performance.now() - startedAt) / 1000;

  process.stdout.write('Traffic done; waiting for the usage queue to drain … ');
  const after = await drained(() => usage(org.shard, org.id, since));
  console.log('drained.');

  // The checks.
  const failures = [];
  const served5xx = requests.filter((r) => r.status >= 500 || r.status === 0);
  if (served5xx.length) failures.push(`${served5xx.length} requests answered 5xx or not at all`);

  const { results: audit } = await org.shard
    .prepare(
      `SELECT resource_id, action, count(*) AS n FROM activity_logs
       WHERE organization_id = ? AND created_at >= ? GROUP BY resource_id, action`,
    )
    .bind(org.id, since)
    .all();
  const expected = new Map();
  for (const m of mutations)
    expected.set(`${m.resource_id} ${m.action}`, (expected.get(`${m.resource_id} ${m.action}`) ?? 0) + 1);
  const logged = new Map(audit.map((a) => [`${a.resource_id} ${a.action}`, a.n]));
  const missing = [...expected].filter(([k, n]) => (logged.get(k) ?? 0) < n);
  const extra = [...logged].filter(([k, n]) => (expected.get(k) ?? 0) < n);
  if (missing.length)
    failures.push(
      `${missing.length} acknowledged mutations without their audit row, e.g. ${missing.slice(0, 3).join('; ')}`,
    );
  if (extra.length)
    failures.push(`${extra.length} audit rows of no acknowledged mutation, e.g. ${extra.slice(0, 3).join('; ')}`);

  const metered = requests.filter((r) => r.metered).length;
  const counted = { total: after.total - before.total, events: after.events - before.events };
  if (counted.total !== metered || counted.events !== metered)
    failures.push(
      `api_calls counted ${counted.total} (usage_tracking) / ${counted.events} (usage_events), served ${metered}`,
    );

  const { results: crowded } = await org.shard
    .prepare(
      `SELECT project_id, status, position, count(*) AS n FROM tasks WHERE organization_id = ?
       GROUP BY project_id, status, position HAVING n > 1`,
    )
    .bind(org.id)
    .all();
  if (crowded.length)
    failures.push(`${crowded.length} board positions hold two tasks or more: ${JSON.stringify(crowded.slice(0, 3))}`);

  const { results: doubled } = await org.shard
    .prepare(
      `SELECT a.id AS a, b.id AS b, a.assigned_to FROM appointments a JOIN appointments b
         ON b.organization_id = a.organization_id AND b.assigned_to = a.assigned_to AND b.id > a.id
        AND b.start_time < a.end_time AND b.end_time > a.start_time
       WHERE a.organization_id = ? AND a.status IN ('scheduled', 'confirmed') AND b.status IN ('scheduled', 'confirmed')`,
    )
    .bind(org.id)
    .all();
  if (doubled.length)
    failures.push(
      `${doubled.length} overlapping live appointments of one assignee: ${JSON.stringify(doubled.slice(0, 3))}`,
    );
  if (bookings.badRounds.length)
    failures.push(
      `${bookings.badRounds.length} booking rounds without exactly one winner: ${bookings.badRounds.slice(0, 5).join(', ')}`,
    );
  if (socketMoves.lost + socketMoves.refused)
    failures.push(`socket moves: ${socketMoves.refused} refused, ${socketMoves.lost} unanswered`);
  if (chat.errors) failures.push(`${chat.errors} chat turns failed`);

  // The summary.
  const kinds = [...new Set(requests.map((r) => r.kind))].sort();
  const rows = kinds.map((kind) => {
    const of = requests.filter((r) => r.kind === kind);
    const count = (test) => String(of.filter(test).length);
    const other = [...new Set(of.filter((r) => r.status >= 300 && r.status !== 409).map((r) => r.status))].join(' ');
    return [
      kind,
      String(of.length),
      count((r) => (r.status >= 200 && r.status < 300) || r.status === 101),
      count((r) => r.status === 409),
      other || '-',
      count((r) => r.status >= 500 || r.status === 0),
      percentile(
        of.map((r) => r.ms),
        50,
      ).toFixed(0),
      percentile(
        of.map((r) => r.ms),
        99,
      ).toFixed(0),
    ];
  });
  const table = [['requests', 'sent', '2xx', '409', 'other', '5xx', 'p50 ms', 'p99 ms'], ...rows];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  const line = (row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  console.log(`\n${line(table[0])}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  for (const row of table.slice(1)) console.log(line(row));
  console.log(
    `\n${requests.length} requests in ${elapsed.toFixed(0)} s (${(requests.length / elapsed).toFixed(0)}/s), ` +
      `${socketMoves.acked} socket moves, ${chat.turns} chat turns, ${bookings.rounds} booking rounds`,
  );
  console.log(
    `Acknowledged mutations ${mutations.length}, audit rows of the run ${audit.reduce((s, a) => s + a.n, 0)}`,
  );
  console.log(
    `api_calls: served ${metered} metered requests; counted ${counted.total} (usage_tracking), ${counted.events} (usage_events)`,
  );
  console.log(`Board positions shared: ${crowded.length}; double bookings: ${doubled.length}`);
  if (failures.length) {
    for (const failure of failures) console.error(`!! ${failure}`);
    process.exitCode = 1;
  } else console.log('All checks passed.');
} catch (error) {
  console.error(`\nsoak failed: ${error.stack}`);
  process.exitCode = 1;
} finally {
  await Promise.all(started.map((m) => m.dispose()));
  remove();
}
