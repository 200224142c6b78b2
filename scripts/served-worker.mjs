// The Worker as `npm run dev` serves it (wrangler.toml, .dev.vars, the console's assets), started
// in this process through wrangler's API on a free port, on a throwaway copy of the dev data, so
// a script can drive it without touching the data `npm run dev` shows. Used by `npm run client`
// and the browser suite.
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { unstable_startWorker } from 'wrangler';
import { ROOT } from './dev-identity.mjs';

const DEV_STATE = path.join(ROOT, '.wrangler', 'state');
/**
 * Blanked whatever .dev.vars holds, so no call leaves the machine: the local model answers, and
 * billing answers 503 not_configured (vitest.config.ts does the same for the tests).
 */
const OUTBOUND_SECRETS = ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GEMINI_API_KEY', 'STRIPE_SECRET_KEY'];

/**
 * `seeded`: start from a copy of the local dev state (run devSetup() first); otherwise empty.
 * Resolves to { url, dispose }.
 */
export async function startLocalWorker({ seeded = false } = {}) {
  const persist = mkdtempSync(path.join(tmpdir(), 'strive-worker-'));
  if (seeded) {
    if (!existsSync(DEV_STATE)) throw new Error('No local dev state: run `npm run setup` first.');
    cpSync(DEV_STATE, persist, { recursive: true });
  }
  // Miniflare asks workers.cloudflare.com for a `Request.cf` object unless NODE_ENV is `test`:
  // nothing here may leave the machine.
  process.env.NODE_ENV = 'test';
  const worker = await unstable_startWorker({
    config: path.join(ROOT, 'wrangler.toml'),
    bindings: Object.fromEntries(OUTBOUND_SECRETS.map((name) => [name, { type: 'plain_text', value: '' }])),
    dev: {
      server: { hostname: '127.0.0.1', port: 0 },
      inspector: false,
      persist,
      watch: false,
      testScheduled: true,
      logLevel: 'warn',
    },
  });
  try {
    await worker.ready;
    const url = (await worker.url).origin;
    return {
      url,
      async dispose() {
        await worker.dispose();
        rmSync(persist, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await worker.dispose();
    rmSync(persist, { recursive: true, force: true });
    throw error;
  }
}
