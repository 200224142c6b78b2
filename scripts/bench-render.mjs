// `npm run bench:render`: how long the content renderer (src/modules/content/render.ts, bundled
// as the Worker bundles it) takes on pathological Markdown at the API's limits: emphasis runs,
// nesting, long tables, link and HTML floods. Prints the process CPU time per case (best and median
// of BENCH_RENDER_RUNS after a warm-up: other load on the machine only ever adds time, so the best
// run is the renderer's own cost) and whether the body renders or is refused with the API's 400.
// Exits non-zero when a rendered case's best is over the budget (BENCH_RENDER_BUDGET_MS, 50).
import { build } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './dev-identity.mjs';

const RUNS = Number(process.env.BENCH_RENDER_RUNS ?? 9);
const BUDGET_MS = Number(process.env.BENCH_RENDER_BUDGET_MS ?? 50);

const dir = mkdtempSync(path.join(tmpdir(), 'strive-render-'));
const outfile = path.join(dir, 'render.mjs');
// Resolved the way wrangler resolves the Worker's packages.
await build({
  entryPoints: [path.join(ROOT, 'src/modules/content/render.ts')],
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  conditions: ['workerd', 'worker', 'browser'],
  mainFields: ['browser', 'module', 'main'],
  outfile,
  logLevel: 'error',
});
const {
  renderMarkdown,
  MARKDOWN_MAX_CHARS: MAX,
  MARKDOWN_MAX_DEPTH: DEPTH,
} = await import(pathToFileURL(outfile).href);
rmSync(dir, { recursive: true, force: true });

/** `unit` repeated to fill `size` characters (after `head`). */
const fill = (unit, head = '', size = MAX) => head + unit.repeat(Math.floor((size - head.length) / unit.length));
const nested = (prefix, depth) => Array.from({ length: depth }, (_, i) => prefix(i)).join('');
const quotes = (depth) => '>'.repeat(depth) + ' ';
const lists = (depth) => Array.from({ length: depth }, (_, i) => `${'  '.repeat(i)}- item\n`).join('');

const CASES = {
  'emphasis: `_a` (22 s with marked at 200,000)': fill('_a'),
  'emphasis: `*a`': fill('*a'),
  'emphasis: `*_` alternating': fill('*_'),
  'emphasis: openers only `**a `': fill('**a '),
  'emphasis: closers only `a** `': fill('a** '),
  'emphasis: nested `*a **b `': fill('*a **b '),
  'emphasis: runs of 3 `a***b***`': fill('a***b***c '),
  'strikethrough `~~a`': fill('~~a'),
  'code spans: `` `a ``': fill('`a'),
  'code spans: growing backtick runs': fill('`'.repeat(7) + 'a' + '`'.repeat(6) + ' '),
  [`nesting: ${DEPTH} block quotes, then lazy lines`]: fill('lazy line\n', `${quotes(DEPTH)}x\n`),
  [`nesting: ${DEPTH} lists, then text`]: fill('more text ', lists(DEPTH)),
  [`nesting: ${DEPTH} of \`> - \` mixed, repeated`]: fill(`${nested(() => '> - ', DEPTH / 2)}x\n\n`),
  'nesting: `>` flood (a 500 before)': fill('>'),
  'nesting: `- ` flood': fill('- '),
  'nesting: indented lists, 1 deeper per line': fill(
    '',
    Array.from({ length: 2000 }, (_, i) => `${' '.repeat(i * 2)}- x\n`)
      .join('')
      .slice(0, MAX),
  ),
  'table: 2 columns, many rows': fill('| x | y |\n', '| a | b |\n|---|---|\n'),
  'table: 20 columns, many rows': fill(`|${' x |'.repeat(20)}\n`, `|${' a |'.repeat(20)}\n|${'---|'.repeat(20)}\n`),
  'table: one row, as wide as allowed': (() => {
    const n = Math.floor((MAX - 6) / 6);
    return `|${'a|'.repeat(n)}\n|${'-|'.repeat(n)}\n|${'b|'.repeat(n)}`;
  })(),
  'links: `[a](b)`': fill('[a](b)'),
  'links: unclosed `[`': fill('['),
  'links: unclosed `[a](`': fill('[a]('),
  'links: `](` floods': fill(']('),
  'links: nested brackets `[[[…]]]`': '['.repeat(MAX / 2) + ']'.repeat(MAX / 2),
  'links: reference definitions and uses': fill(
    '[r] ',
    Array.from({ length: Math.floor(MAX / 50) }, (_, i) => `[r${i}]: /u${i}\n`).join('') + '\n',
  ),
  'links: autolinks `<https://a.bc>`': fill('<https://a.bc> '),
  'links: bare URLs (linkify)': fill('https://a.example.com/x '),
  'images: `![a](/b.png)`': fill('![a](/b.png)'),
  'HTML: `<a>` flood': fill('<a>'),
  'HTML: `<img src=x onerror=…>` flood': fill('<img src=x onerror=alert(1)>'),
  'HTML: unclosed `<!--`': fill('<!-- a '),
  'HTML: `<` flood': fill('<'),
  'HTML: nested `<div>` blocks': fill('<div>\n'),
  'entities `&amp;#1;`': fill('&amp;&#1;&#x;'),
  'headings `# a`': fill('# a\n'),
  'list items `- a`': fill('- a\n'),
  'line breaks `a  \\n`': fill('a  \n'),
  'NUL and control characters': fill('\u0000\u0001a'),
  'a realistic post, repeated to the limit': fill(
    '## Section\n\nSome *emphasis*, **strong**, `code`, a [link](https://example.com) and text.\n\n- one\n- ' +
      'two\n\n> quoted\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n',
  ),
};

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

function measure(source) {
  let outcome = 'rendered';
  const times = [];
  for (let run = -1; run < RUNS; run++) {
    const start = cpuMs();
    try {
      renderMarkdown(source);
    } catch (error) {
      if (error?.code !== 'invalid_request') throw error;
      outcome = `400: ${error.detail}`;
    }
    if (run >= 0) times.push(cpuMs() - start); // run -1 warms up
  }
  times.sort((a, b) => a - b);
  return { outcome, best: times[0], median: times[Math.floor(times.length / 2)] };
}

console.log(
  `Limits: ${MAX} characters, ${DEPTH} levels of block quotes and lists. CPU ms per render (best and median of ` +
    `${RUNS}), budget ${BUDGET_MS} ms.\n`,
);
console.log('| case | chars | best ms | median ms | outcome |');
console.log('| --- | ---: | ---: | ---: | --- |');
let over = 0;
for (const [name, source] of Object.entries(CASES)) {
  if (source.length > MAX) throw new Error(`${name}: ${source.length} characters, over the limit the API accepts`);
  const { outcome, best, median } = measure(source);
  const flag = outcome === 'rendered' && best > BUDGET_MS ? ' **over budget**' : '';
  if (flag) over++;
  console.log(`| ${name} | ${source.length} | ${best.toFixed(1)} | ${median.toFixed(1)} | ${outcome}${flag} |`);
}
if (over) {
  console.error(`\n${over} case(s) over ${BUDGET_MS} ms.`);
  process.exitCode = 1;
}
