// `npm run org:move -- --org <slug> --to <SHARD_n> [--leave-eu] [--url http://127.0.0.1:8787] [--remote]`:
// moves an organization to another shard while it keeps working. Starts the move (POST
// /v1/admin/organizations/{org}/moves) and drives it (POST /v1/admin/moves/{id}/step, each a few
// seconds of bounded steps) to its end, printing each phase; `--resume <move id>` drives a move
// whose driver stopped (a crash resumes from the recorded phase), `--cancel <move id>` rolls back
// one that has not flipped. Locally it talks to `npm run dev` as the seeded platform admin
// (admin@strive.test); with --remote, to --url as the platform admin whose session token is in
// STRIVE_TOKEN.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEV_PRIVATE_KEY_PATH } from './dev-identity.mjs';
import { signDevToken } from './token.mjs';

const LOCAL_ADMIN = 'admin@strive.test';

/** A platform admin's request to the Worker at `url`: the answer's body, or an Error carrying its problem. */
export const adminApi = (url, token) =>
  async function call(method, route, body, retries = 3) {
    let response;
    try {
      response = await fetch(`${url}${route}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch (error) {
      // A connection that dropped (a kept-alive socket closed, a restart): tried again, steps are idempotent.
      if (retries === 0) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      return call(method, route, body, retries - 1);
    }
    const answer = await response.json();
    if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${answer.code}: ${answer.detail}`);
    return answer;
  };

/** The local seeded platform admin's session token, signed with the dev key. */
export function localAdminToken() {
  if (!existsSync(DEV_PRIVATE_KEY_PATH)) throw new Error('No dev signing key yet: run `npm run setup` first.');
  return signDevToken({ privateKeyPem: readFileSync(DEV_PRIVATE_KEY_PATH, 'utf8'), email: LOCAL_ADMIN });
}

/** Drives the move `id` to its end (sleeping through its wait after the flip); answers its last state. */
export async function driveMove(call, id, log = () => {}) {
  let move = await call('GET', `/v1/admin/moves/${id}`);
  let shown = '';
  while (!move.done) {
    move = await call('POST', `/v1/admin/moves/${id}/step`);
    const line = `${move.phase}${move.wait_ms > 0 ? ` (source rows go in ${Math.ceil(move.wait_ms / 1000)} s)` : ''}`;
    if (line !== shown) log(line);
    shown = line;
    if (move.wait_ms > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(move.wait_ms, 5_000)));
  }
  return move;
}

/** Writes were refused from the fence to the flip: the move's write-unavailability window. */
export const fencedMs = (move) => (move.flipped_at ? Date.parse(move.flipped_at) - Date.parse(move.fenced_at) : null);

async function main() {
  const { values } = parseArgs({
    options: {
      org: { type: 'string' },
      to: { type: 'string' },
      'leave-eu': { type: 'boolean', default: false },
      resume: { type: 'string' },
      cancel: { type: 'string' },
      url: { type: 'string', default: process.env.STRIVE_API_URL ?? 'http://127.0.0.1:8787' },
      remote: { type: 'boolean', default: false },
    },
  });
  if (!values.resume && !values.cancel && (!values.org || !values.to)) {
    console.error('Usage: npm run org:move -- --org <slug> --to <SHARD_n> [--leave-eu] [--url …] [--remote]');
    console.error('       npm run org:move -- --resume <move id> | --cancel <move id>');
    return 1;
  }
  if (values.remote && !process.env.STRIVE_TOKEN) {
    console.error("--remote: set STRIVE_TOKEN to a platform admin's session token, and --url to the Worker.");
    return 1;
  }
  const call = adminApi(values.url, values.remote ? process.env.STRIVE_TOKEN : localAdminToken());
  const log = (line) => console.log(`${new Date().toISOString()}  ${line}`);
  if (values.cancel) {
    log(`cancelling ${values.cancel}: ${(await call('POST', `/v1/admin/moves/${values.cancel}/cancel`)).phase}`);
  }
  let id = values.resume ?? values.cancel;
  if (!id) {
    const body = { to: values.to, ...(values['leave-eu'] ? { leave_eu: true } : {}) };
    const started = await call('POST', `/v1/admin/organizations/${encodeURIComponent(values.org)}/moves`, body);
    id = started.id;
    log(`move ${id}: ${values.org} ${started.from} → ${started.to}`);
  }
  const move = await driveMove(call, id, log);
  if (move.error) log(`error: ${move.error}`);
  const fenced = fencedMs(move);
  if (fenced !== null) log(`writes were refused for ${fenced} ms (fence → flip)`);
  return move.phase === 'cleaned' || values.cancel ? 0 : 1;
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  try {
    process.exitCode = await main();
  } catch (error) {
    console.error(`org:move failed: ${error.message}`);
    process.exitCode = 1;
  }
}
