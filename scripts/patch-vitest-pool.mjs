// Works around a slowdown in @cloudflare/vitest-pool-workers 0.9 (reported upstream as
// cloudflare/workers-sdk#15446): every request to the Worker under test wraps the entrypoint's
// prototype in one more Proxy, so each property look-up walks a chain that grows with every
// request. With singleWorker (which the socket tests and shard-placement tests need) the chain
// grows across the whole suite: /health went from 2 ms to 13 ms after ~200 requests and later
// tests hit vitest's 5 s timeout. Wrapping once is what the code means to do. `npm install` runs
// this (postinstall); it is idempotent and fails loudly if the pool's code no longer looks as expected.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './dev-identity.mjs';

const file = path.join(
  ROOT,
  'node_modules',
  '@cloudflare',
  'vitest-pool-workers',
  'dist',
  'worker',
  'lib',
  'cloudflare',
  'test-internal.mjs',
);

const original = `  function Class(...args) {
    Class.prototype = new Proxy(Class.prototype, {`;
const patched = `  function Class(...args) {
    if (!Class.__striveProxied) Class.__striveProxied = true, Class.prototype = new Proxy(Class.prototype, {`;

const source = readFileSync(file, 'utf8');
if (source.includes(patched)) process.exit(0);
if (!source.includes(original)) {
  console.error(
    `patch-vitest-pool: ${file} no longer contains the code this patch expects; check whether the upstream fix ` +
      `landed and remove scripts/patch-vitest-pool.mjs.`,
  );
  process.exit(1);
}
writeFileSync(file, source.replace(original, patched));
console.log('patch-vitest-pool: the entrypoint prototype is now wrapped once (workers-sdk#15446).');
