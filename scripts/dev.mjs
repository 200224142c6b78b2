// `npm run dev [-- --port N]`: the dev setup, then the console rebuilt on every change (Vite,
// watching console/ and client/) and the Worker serving API and console on one port
// (wrangler dev, which reloads on changes to src/ and to the built console). Ctrl-C stops both.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { watchConsole } from './console-build.mjs';
import { ROOT } from './dev-identity.mjs';
import { devSetup } from './dev-setup.mjs';

try {
  devSetup(); // builds the console once if it was never built: wrangler needs its directory
} catch (error) {
  console.error(`\nDev setup failed: ${error.message}`);
  process.exit(1);
}

const WRANGLER_BIN = path.join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
// `--port N` is ours to default; any other argument goes to wrangler dev as it is.
const { values, tokens } = parseArgs({
  options: { port: { type: 'string', default: '8787' } },
  strict: false,
  tokens: true,
});
const rest = tokens
  .filter((t) => !(t.kind === 'option' && t.name === 'port'))
  .map((t) => (t.kind === 'positional' ? t.value : t.rawName + (t.inlineValue ? `=${t.value}` : '')));
const children = [
  watchConsole(),
  spawn(
    process.execPath,
    [WRANGLER_BIN, 'dev', '--ip', '127.0.0.1', '--port', values.port, '--test-scheduled', ...rest],
    {
      cwd: ROOT,
      stdio: 'inherit',
    },
  ),
];
console.log(`\nConsole: http://127.0.0.1:${values.port}/app/ (another port: npm run dev -- --port N)\n`);

// Either one ending ends the other: a console nobody rebuilds, or a build nobody serves, is no dev server.
let stopping = false;
const stop = (code) => {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  process.exitCode = code;
};
for (const child of children) child.on('exit', (code) => stop(code ?? 0));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => stop(0));
