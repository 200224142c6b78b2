// `npm run bench:move`: how long a move keeps an organization's writes refused, and how that grows
// with its rows. For each size the seeded `acme` (as seeded: size 0), then with n more customers,
// tasks and activity rows each, written straight into its shard, is moved SHARD_0 → SHARD_1 by the
// real worker bundle (a throwaway copy of the dev databases, one Miniflare per size) through the
// routes `npm run org:move` drives, while a writer POSTs a customer every 50 ms. Printed per size:
// the fence → flip window the move recorded, the longest run of 503s the writer saw, and the whole
// move (to the source rows deleted, 1 s after the flip here); every write acknowledged is checked to be
// on the destination. BENCH_MOVE_SIZES (default 0,100,1000,10000).
import { cpus, loadavg } from 'node:os';
import { devSetup } from './dev-setup.mjs';
import { runBounded, scratch } from './lib/worker.mjs';
import { buildBundle, seededOrganization, startOnCopy } from './local-worker.mjs';
import { adminApi, driveMove, fencedMs, localAdminToken } from './org-move.mjs';
import { signDevToken } from './token.mjs';
import { readFileSync } from 'node:fs';
import { DEV_PRIVATE_KEY_PATH } from './dev-identity.mjs';

const ORG = 'acme';
const ALICE = '019a0000-0000-7000-8000-000000000001';
const SIZES = (process.env.BENCH_MOVE_SIZES ?? '0,100,1000,10000').split(',').map(Number);
const CHUNK = 5_000;

/** n rows each of customers, tasks (one project) and activity, in chunks; ids older than the seed's. */
function seed(org, n) {
  const id = (table, i) => `printf('00000000-0000-7000-8%03x-%012x', ${table}, ${i})`;
  const rows = (from, to) => `WITH RECURSIVE r(i) AS (SELECT ${from} UNION ALL SELECT i + 1 FROM r WHERE i < ${to})`;
  const out =
    n > 0 ? [`INSERT INTO projects (id, organization_id, name) VALUES (${id(2, 1)}, '${org}', 'Bench project')`] : [];
  for (let from = 1; from <= n; from += CHUNK) {
    const r = rows(from, Math.min(n, from + CHUNK - 1));
    out.push(
      `${r} INSERT INTO customers (id, organization_id, name, email)
         SELECT ${id(1, 'i')}, '${org}', 'Bench ' || i, 'b' || i || '@bench.test' FROM r`,
      `${r} INSERT INTO tasks (id, organization_id, project_id, title, position, created_by)
         SELECT ${id(3, 'i')}, '${org}', ${id(2, 1)}, 'Bench task ' || i, i * 1024, '${ALICE}' FROM r`,
      `${r} INSERT INTO activity_logs (id, organization_id, user_id, actor_type, actor_id, action, resource_type, resource_id)
         SELECT ${id(4, 'i')}, '${org}', '${ALICE}', 'user', '${ALICE}', 'customer.update', 'customer', ${id(1, 'i')} FROM r`,
    );
  }
  return out;
}

/** POSTs a customer every `everyMs` until stopped; answers the longest run of refusals (ms) and the counts. */
function writer(url, token, everyMs = 50) {
  let running = true;
  let refusedSince = null;
  let longest = 0;
  const counts = { ok: 0, moving: 0, other: 0 };
  const acknowledged = [];
  const done = (async () => {
    for (let i = 0; running; i++) {
      const sent = performance.now();
      const res = await fetch(`${url}/v1/orgs/${ORG}/customers`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `Writer ${i}` }),
      }).catch(() => null); // a kept-alive socket workerd closed meanwhile: counted, not fatal
      const body = await res?.arrayBuffer();
      if (!res) counts.other++;
      else if (res.status === 201) {
        acknowledged.push(JSON.parse(new TextDecoder().decode(body)).id);
        counts.ok++;
        if (refusedSince !== null) longest = Math.max(longest, sent - refusedSince);
        refusedSince = null;
      } else if (res.status === 503) {
        counts.moving++;
        refusedSince ??= sent;
      } else counts.other++;
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return { stop: async () => ((running = false), await done, { longest, counts, acknowledged }) };
}

async function main() {
  devSetup();
  const { dir, remove } = scratch('strive-bench-move-');
  const workers = [];
  const results = [];
  try {
    console.log('Bundle (wrangler deploy --dry-run)');
    const scriptPath = buildBundle(dir);
    const owner = signDevToken({ privateKeyPem: readFileSync(DEV_PRIVATE_KEY_PATH, 'utf8'), email: 'alice@acme.test' });
    for (const size of SIZES) {
      const { mf, url } = await startOnCopy(scriptPath, dir, `move-${size}`, workers, {
        vars: { MOVE_SETTLE_MS: '1000' },
      });
      const org = await seededOrganization(mf, ORG);
      for (const sql of seed(org.id, size)) await org.shard.prepare(sql).run();
      const call = adminApi(url, localAdminToken());
      const writes = writer(url, owner);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const started = performance.now();
      const { id } = await call('POST', `/v1/admin/organizations/${ORG}/moves`, { to: 'SHARD_1' });
      const move = await driveMove(call, id);
      const total = performance.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 300));
      const { longest, counts, acknowledged } = await writes.stop();
      if (move.phase !== 'cleaned') throw new Error(`size ${size}: the move ended ${move.phase}: ${move.error}`);
      // No data lost: every acknowledged write is on the destination, nothing of the organization on the source.
      const found = (db) =>
        db
          .prepare('SELECT count(*) AS n FROM customers WHERE id IN (SELECT value FROM json_each(?))')
          .bind(JSON.stringify(acknowledged))
          .first('n');
      const [there, left] = [await found(await mf.getD1Database('SHARD_1')), await found(org.shard)];
      if (there !== acknowledged.length || left !== 0) {
        throw new Error(
          `size ${size}: ${acknowledged.length} writes acknowledged, ${there} on SHARD_1, ${left} on SHARD_0`,
        );
      }
      const rows = Object.values(move.checks).reduce((sum, check) => sum + check.source.rows, 0);
      results.push({ size, rows, fenced: fencedMs(move), longest, total, counts });
      console.log(`${size}: ${rows} rows moved, fenced ${fencedMs(move)} ms, whole move ${total.toFixed(0)} ms`);
      await mf.dispose();
      workers.splice(workers.indexOf(mf), 1);
    }
    console.log(`\n${new Date().toISOString()}, ${cpus().length} cores, load average ${loadavg()[0].toFixed(2)}`);
    console.log(
      'added per table | rows moved | fence → flip (ms) | writer: longest 503 run (ms) | whole move (ms) | writes ok/503',
    );
    for (const r of results) {
      console.log(
        `${String(r.size).padStart(15)} | ${String(r.rows).padStart(10)} | ${String(r.fenced).padStart(17)} | ` +
          `${r.longest.toFixed(0).padStart(28)} | ${r.total.toFixed(0).padStart(15)} | ${r.counts.ok}/${r.counts.moving}` +
          (r.counts.other ? ` (${r.counts.other} other)` : ''),
      );
    }
  } finally {
    await Promise.all(workers.map((worker) => worker.dispose()));
    remove();
  }
}

// Bounded: if the worker or a run hangs, give up rather than wait forever.
await runBounded('bench:move', main, 30 * 60 * 1000);
