// `npm run console:budget`: the JavaScript a first visit to the console loads (the scripts and
// module preloads index.html names), gzipped, must stay within 150 KB. Run after a build
// (`npm run console:build`); the API Worker's own bundle is not involved (assets are not in it).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { CONSOLE_DIST, consoleBuilt } from './console-build.mjs';

const BUDGET_BYTES = 150 * 1024;

if (!consoleBuilt()) {
  console.error('No console build: run `npm run console:build` first.');
  process.exit(1);
}
const html = readFileSync(path.join(CONSOLE_DIST, 'index.html'), 'utf8');
const urls = [
  ...html.matchAll(/<script\b[^>]*\bsrc="([^"]+)"/g),
  ...html.matchAll(/<link\b[^>]*\brel="modulepreload"[^>]*\bhref="([^"]+)"/g),
].map((match) => match[1]);
let total = 0;
for (const url of urls) {
  const file = path.join(CONSOLE_DIST, url.replace(/^\/app\//, ''));
  const raw = readFileSync(file);
  const gzipped = gzipSync(raw, { level: 9 }).length;
  total += gzipped;
  console.log(`  ${url}: ${(raw.length / 1024).toFixed(1)} KB, ${(gzipped / 1024).toFixed(1)} KB gzip`);
}
console.log(
  `Console first load: ${(total / 1024).toFixed(1)} KB of JavaScript gzipped (budget ${BUDGET_BYTES / 1024} KB)`,
);
if (urls.length === 0 || total > BUDGET_BYTES) {
  console.error(urls.length === 0 ? 'index.html names no script.' : 'Over budget.');
  process.exitCode = 1;
}
