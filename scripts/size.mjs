// `npm run size`: the Worker as `wrangler deploy` ships it (minify on in wrangler.toml), in raw and
// gzip bytes with the packages that weigh most, and its start-up CPU from `wrangler check startup`
// (the least of three profiles: other load only adds to it; CPU samples only: idle and the profiler's own "(program)" excluded).
// `--check` fails past the budgets below, set from the measured result with a margin; CI runs it.
// Start-up is measured on this machine, not Cloudflare's: the budget catches regressions, it is not
// a promise about production.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { ROOT } from './dev-identity.mjs';

const BUDGET = { rawBytes: 1_900 * 1024, gzipBytes: 460 * 1024, startupMs: 250 };
const check = process.argv.includes('--check');
const out = mkdtempSync(path.join(tmpdir(), 'strive-size-'));
const wrangler = (args) =>
  execFileSync(path.join(ROOT, 'node_modules', '.bin', 'wrangler'), args, {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

try {
  const metafile = path.join(out, 'meta.json');
  // One build: the modules to weigh (--outdir) and the upload as wrangler sends it (--outfile),
  // which `check startup --worker` profiles without building again.
  const upload = path.join(out, 'worker.bundle');
  wrangler(['deploy', '--dry-run', '--outdir', path.join(out, 'bundle'), '--outfile', upload, '--metafile', metafile]);
  const modules = readdirSync(path.join(out, 'bundle')).filter((name) => /\.(m?js|wasm)$/.test(name));
  const bytes = modules.map((name) => readFileSync(path.join(out, 'bundle', name)));
  const raw = bytes.reduce((sum, b) => sum + b.length, 0);
  const gzip = bytes.reduce((sum, b) => sum + gzipSync(b, { level: 9 }).length, 0);

  const startups = [0, 1, 2].map((run) => {
    const profile = path.join(out, `startup-${run}.cpuprofile`);
    // Now and then a profile comes back without a sample of the Worker's script: that one is taken again.
    for (let attempt = 0; attempt < 3; attempt++) {
      wrangler(['check', 'startup', '--worker', upload, '--outfile', profile]);
      const ms = busyMs(JSON.parse(readFileSync(profile, 'utf8')));
      if (ms > 0) return ms;
    }
    throw new Error('wrangler check startup gave three empty profiles.');
  });
  const startup = Math.min(...startups);

  console.log('Worker bundle as deployed (wrangler deploy --dry-run, minify from wrangler.toml):');
  console.log(`  ${kib(raw)} raw, ${kib(gzip)} gzip (budget ${kib(BUDGET.rawBytes)} / ${kib(BUDGET.gzipBytes)})`);
  console.log(`  start-up CPU ${startup.toFixed(1)} ms, least of ${startups.map((ms) => ms.toFixed(1)).join(', ')}`);
  console.log(`  (budget ${BUDGET.startupMs} ms; wrangler check startup, this machine)`);
  console.log('Heaviest packages in the bundle (minified bytes):');
  for (const [name, size] of byPackage(JSON.parse(readFileSync(metafile, 'utf8'))).slice(0, 10)) {
    console.log(`  ${kib(size).padStart(10)}  ${name}`);
  }
  const over = [
    raw > BUDGET.rawBytes && 'raw size',
    gzip > BUDGET.gzipBytes && 'gzip size',
    startup > BUDGET.startupMs && 'start-up CPU',
  ].filter(Boolean);
  if (check && over.length) {
    console.error(`Over budget: ${over.join(', ')}.`);
    process.exitCode = 1;
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}

function kib(bytes) {
  return `${(bytes / 1024).toFixed(0)} KiB`;
}

/** CPU time of a V8 profile: every sample but idle and the profiler's "(program)". */
function busyMs(profile) {
  const skipped = new Set(
    profile.nodes.filter((n) => ['(idle)', '(program)'].includes(n.callFrame.functionName)).map((n) => n.id),
  );
  let micros = 0;
  profile.samples.forEach((node, i) => {
    if (!skipped.has(node)) micros += profile.timeDeltas[i];
  });
  return micros / 1000;
}

/** Output bytes per npm package (our own code as "strive"), largest first. */
function byPackage(meta) {
  const output = Object.entries(meta.outputs).find(([file]) => file.endsWith('index.js'))[1];
  const sizes = new Map();
  for (const [file, { bytesInOutput }] of Object.entries(output.inputs)) {
    const inModules = file.split('node_modules/').at(-1);
    const parts = inModules.split('/');
    const name = file.includes('node_modules/') ? parts.slice(0, parts[0].startsWith('@') ? 2 : 1).join('/') : 'strive';
    sizes.set(name, (sizes.get(name) ?? 0) + bytesInOutput);
  }
  return [...sizes].sort((a, b) => b[1] - a[1]);
}
