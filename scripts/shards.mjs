// `npm run shards [-- --remote]`: what GET /v1/admin/shards answers, read through `wrangler d1
// execute` like the seed: per shard its region, open or closed, organizations, rows of every table
// and bytes against D1's per-database limit (D1's size_after: `wrangler d1 execute --local` reports
// none, so locally bytes show as ?; GET /v1/admin/shards through the local Worker has them). Close or
// open a shard with PATCH /v1/admin/shards/{binding}.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { migrationTargets, wrangler } from './migrate.mjs';

/** src/modules/platform/shards.ts's D1_DATABASE_LIMIT_BYTES. */
const LIMIT_BYTES = 10_000_000_000;

const execute = (binding, sql, remote) =>
  JSON.parse(
    wrangler(['d1', 'execute', binding, remote ? '--remote' : '--local', '--json', '--yes', '--command', sql], {
      capture: true,
    }),
  );

/** Every shard's rows: its tables (the migrations' bookkeeping aside), counted in one statement. */
function usage(binding, remote) {
  const [{ results: tables }] = execute(
    binding,
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'd1_%'",
    remote,
  );
  const sum = tables.map(({ name }) => `(SELECT count(*) FROM "${name}")`).join(' + ') || '0';
  const [result] = execute(binding, `SELECT ${sum} AS rows`, remote);
  return { rows: result.results[0].rows, bytes: result.meta?.size_after ?? null };
}

export function shards({ remote = false } = {}) {
  const bindings = migrationTargets().filter((binding) => binding !== 'CATALOG');
  const [{ results: places }] = execute(
    'CATALOG',
    'SELECT s.shard, s.region, s.open, (SELECT count(*) FROM organizations o WHERE o.shard = s.shard) AS organizations FROM shards s',
    remote,
  );
  return bindings.map((binding, shard) => {
    const place = places.find((row) => row.shard === shard);
    return {
      binding,
      region: place?.region ?? null,
      open: Boolean(place?.open),
      organizations: place?.organizations ?? 0,
      ...usage(binding, remote),
    };
  });
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const { values } = parseArgs({ options: { remote: { type: 'boolean', default: false } } });
  const rows = shards({ remote: values.remote });
  console.log('binding   region  open    orgs       rows          bytes   of limit');
  for (const s of rows) {
    const used = s.bytes === null ? '?' : `${((s.bytes / LIMIT_BYTES) * 100).toFixed(3)} %`;
    console.log(
      `${s.binding.padEnd(9)} ${String(s.region ?? '-').padEnd(7)} ${(s.open ? 'open' : 'closed').padEnd(7)}` +
        `${String(s.organizations).padStart(5)} ${String(s.rows).padStart(10)} ${String(s.bytes ?? '?').padStart(14)}   ${used}`,
    );
  }
}
