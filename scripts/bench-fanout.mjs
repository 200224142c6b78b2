// `npm run bench:fanout`: how long a board move takes to reach every socket watching the board.
// Opens SOCKETS sockets on the seed's board (the Worker as deployed, through Miniflare's API, as
// the other benches), then moves one task back and forth MOVES times, half through REST
// (POST …/tasks/{id}/move) and half as a `move` message of one of the sockets, and for every
// socket and move records the time from the send to that socket's `task.moved`. Also prints when
// the REST move's own response arrived, for comparison. Local figures: one machine, no network.
import { buildBundle, devToken, liftQuotas, percentile, scratch } from './lib/worker.mjs';
import { startOnCopy } from './local-worker.mjs';

const SOCKETS = Number(process.env.SOCKETS ?? 100);
const MOVES = Number(process.env.MOVES ?? 40);
const ORG = 'acme';
const EMAIL = 'alice@acme.test'; // acme's owner in the seed
const seeded = (n) => `019a0000-0000-7000-8000-${String(n).padStart(12, '0')}`;
const PROJECT = seeded(601); // the seed's board with a task in every open column
const TASK = seeded(701); // one of its tasks
const COLUMNS = ['in_progress', 'todo'];

const { dir, remove } = scratch('strive-fanout-');
const started = [];
try {
  const { mf, url } = await startOnCopy(buildBundle(dir), dir, 'fanout', started);
  await liftQuotas(mf, ORG);
  const token = devToken(EMAIL, 600);

  const sockets = [];
  for (let i = 0; i < SOCKETS; i++) sockets.push(await openBoard(mf, url, token));
  console.log(`${SOCKETS} sockets on the board of ${ORG}'s project ${PROJECT}; ${MOVES} moves, REST and socket`);

  const rest = { fanout: [], response: [] };
  const socket = { fanout: [] };
  for (let move = 0; move < MOVES + 2; move++) {
    const status = COLUMNS[move % 2];
    const arrivals = sockets.map((s) => s.next((m) => m.type === 'task.moved' && m.task.id === TASK));
    const sent = performance.now();
    let responded = sent;
    if (move % 4 < 2) {
      const response = await mf.dispatchFetch(`${url}/v1/orgs/${ORG}/tasks/${TASK}/move`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ status }),
      });
      if (response.status !== 200) throw new Error(`the move answered ${response.status}: ${await response.text()}`);
      await response.arrayBuffer();
      responded = performance.now();
    } else {
      const version = sockets[0].version;
      sockets[0].socket.send(JSON.stringify({ type: 'move', task_id: TASK, status, version }));
    }
    const times = (await Promise.all(arrivals)).map((at) => at - sent);
    if (move < 2) continue; // the first of each kind warms the object and the isolate
    if (move % 4 < 2) {
      rest.fanout.push(...times);
      rest.response.push(responded - sent);
    } else socket.fanout.push(...times);
  }
  for (const s of sockets) s.socket.close(1000, 'bench done');

  const ms = (values, p) => `${percentile(values, p).toFixed(1)} ms`;
  const row = (label, values) =>
    console.log(`  ${label.padEnd(34)} p50 ${ms(values, 50).padStart(9)}  p99 ${ms(values, 99).padStart(9)}`);
  console.log('Time from the send to each socket’s task.moved:');
  row('REST move → every socket', rest.fanout);
  row('socket move → every socket', socket.fanout);
  row('REST move → its own response', rest.response);
} finally {
  await Promise.all(started.map((mf) => mf.dispose()));
  remove();
}

/** A board socket that answers `next(predicate)`: when the next message matching it arrives. */
async function openBoard(mf, url, token) {
  const response = await mf.dispatchFetch(`${url}/v1/orgs/${ORG}/projects/${PROJECT}/board/ws?token=${token}`, {
    headers: { upgrade: 'websocket' },
  });
  const socket = response.webSocket;
  if (!socket) throw new Error(`the board socket answered ${response.status}: ${await response.text()}`);
  socket.accept();
  let waiting = [];
  let snapshot;
  const board = { socket, version: undefined };
  const ready = new Promise((resolve) => (snapshot = resolve));
  socket.addEventListener('message', (event) => {
    const at = performance.now();
    const message = JSON.parse(event.data);
    if (message.type === 'snapshot') {
      board.version = message.board.columns.flatMap((column) => column.tasks).find((t) => t.id === TASK)?.version;
      snapshot();
    }
    if (message.type === 'task.moved' && message.task.id === TASK) board.version = message.task.version;
    if (message.type === 'error') console.error(`socket error: ${message.code}: ${message.detail}`);
    waiting = waiting.filter(({ predicate, resolve }) => !(predicate(message) && (resolve(at), true)));
  });
  await ready;
  board.next = (predicate) => new Promise((resolve) => waiting.push({ predicate, resolve }));
  return board;
}
