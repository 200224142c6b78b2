// `npm run db:migrate [-- --remote]`: applies migrations to the catalog and to every tenant shard
// declared in wrangler.toml. Shards share one migrations folder but each keeps its own
// d1_migrations table, so wrangler has to be run once per binding: a new SHARD_n block is picked
// up without touching this script.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from './dev-identity.mjs';

// The project's pinned wrangler, run directly: `npx wrangler` would download whatever version is
// latest when node_modules is missing, and needs a shell on Windows.
const WRANGLER_BIN = path.join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');

/**
 * Runs wrangler in the project root. `capture` pipes its output (returned as text) instead of
 * streaming it; `nonInteractive` sets CI=1 because wrangler asks "continue?" before applying
 * migrations whenever stdin and stdout are a TTY, --local included, and would block `npm run dev`.
 * Throws with wrangler's own output when it exits non-zero.
 */
export function wrangler(args, { capture = false, nonInteractive = true } = {}) {
  if (!existsSync(WRANGLER_BIN)) throw new Error('wrangler is not installed: run `npm install` first.');
  const result = spawnSync(process.execPath, [WRANGLER_BIN, ...args], {
    cwd: ROOT,
    env: nonInteractive ? { ...process.env, CI: '1' } : process.env,
    stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    const output = capture ? `\n${result.stdout}${result.stderr}` : '';
    const how = result.status === null ? `was killed by ${result.signal}` : `exited with ${result.status}`;
    throw new Error(`wrangler ${args.join(' ')} ${how}${output}`);
  }
  return result.stdout ?? '';
}

/**
 * The top-level `[[d1_databases]]` blocks of wrangler.toml as plain objects. A regex reader rather
 * than a TOML dependency: the blocks are flat `key = "string"` lines. `[[env.x.d1_databases]]`
 * blocks belong to other environments and are skipped on purpose.
 */
export function readD1Databases(tomlText) {
  const blocks = /^\[\[d1_databases\]\][^\n]*\n([\s\S]*?)(?=^[ \t]*\[|(?![\s\S]))/gm;
  const keyValue = /^[ \t]*([A-Za-z0-9_]+)[ \t]*=[ \t]*(?:"([^"]*)"|'([^']*)')/gm;
  const databases = [];
  for (const [, body] of tomlText.matchAll(blocks)) {
    const database = {};
    for (const [, key, doubleQuoted, singleQuoted] of body.matchAll(keyValue)) {
      database[key] = doubleQuoted ?? singleQuoted;
    }
    databases.push(database);
  }
  return databases;
}

/**
 * ['CATALOG', 'SHARD_0', …, 'SHARD_{n-1}'] from wrangler.toml. The worker addresses a shard by its
 * number, so a gap in the numbering is a configuration error, reported here rather than as an
 * organization that cannot be reached.
 */
export function migrationTargets(tomlPath = path.join(ROOT, 'wrangler.toml')) {
  const bindings = readD1Databases(readFileSync(tomlPath, 'utf8')).map((d) => d.binding);
  if (!bindings.includes('CATALOG')) throw new Error(`${tomlPath} declares no CATALOG d1 binding.`);
  const shards = bindings.filter((b) => /^SHARD_\d+$/.test(b)).sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)));
  if (shards.length === 0) throw new Error(`${tomlPath} declares no SHARD_<n> d1 binding.`);
  shards.forEach((binding, n) => {
    if (binding !== `SHARD_${n}`) {
      throw new Error(`Shard bindings must be numbered 0..n-1 without gaps; found ${shards.join(', ')}.`);
    }
  });
  return ['CATALOG', ...shards];
}

/**
 * Applies pending migrations to every binding, stopping at the first failure. `quiet` prints one
 * line per database instead of wrangler's tables (wrangler's output is shown if it fails).
 * Remote runs keep wrangler's confirmation prompt when there is a terminal to answer it: that
 * question is worth asking before changing production.
 */
export function migrateAll({ remote = false, quiet = false } = {}) {
  const where = remote ? '--remote' : '--local';
  for (const binding of migrationTargets()) {
    const args = ['d1', 'migrations', 'apply', binding, where];
    if (quiet && !remote) {
      const output = wrangler(args, { capture: true });
      const state = output.includes('No migrations to apply') ? 'up to date' : 'migrated';
      console.log(`  ${binding}: ${state}`);
    } else {
      console.log(`\n> wrangler ${args.join(' ')}`);
      wrangler(args, { nonInteractive: !remote });
    }
  }
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  try {
    migrateAll({ remote: process.argv.includes('--remote') });
  } catch (error) {
    console.error(`\ndb:migrate failed: ${error.message}`);
    process.exitCode = 1;
  }
}
