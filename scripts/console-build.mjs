// The web console (console/) built by Vite into dist/console, the directory wrangler.toml's
// [assets] serves at /app. `node scripts/console-build.mjs [--if-missing] [--watch]`.
// `npm test` needs the directory to exist (wrangler refuses a missing one); `npm run dev` watches.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from './dev-identity.mjs';

export const CONSOLE_DIST = path.join(ROOT, 'dist', 'console');
const VITE_BIN = path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
const args = (watch) => [
  VITE_BIN,
  'build',
  '--config',
  path.join(ROOT, 'console', 'vite.config.ts'),
  ...(watch ? ['--watch'] : []),
];
// A production build whatever the caller's NODE_ENV (the browser suite sets `test` for Miniflare).
const env = () => ({ ...process.env, NODE_ENV: 'production' });

export const consoleBuilt = () => existsSync(path.join(CONSOLE_DIST, 'index.html'));

/** One build, its output shown; throws if it fails. */
export function buildConsole({ quiet = false } = {}) {
  const result = spawnSync(process.execPath, args(false), {
    cwd: ROOT,
    env: env(),
    stdio: quiet ? 'pipe' : 'inherit',
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`console build failed${quiet ? `:\n${result.stdout}${result.stderr}` : ''}`);
}

/** Rebuilds on every change under console/ and client/ until the child is killed. */
export const watchConsole = () => spawn(process.execPath, args(true), { cwd: ROOT, env: env(), stdio: 'inherit' });

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  try {
    if (process.argv.includes('--watch')) watchConsole().on('exit', (code) => (process.exitCode = code ?? 1));
    else if (!(process.argv.includes('--if-missing') && consoleBuilt())) buildConsole();
  } catch (error) {
    console.error(error.message);
    process.exitCode = 1;
  }
}
