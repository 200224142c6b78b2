// The one place the seed and the token script agree on: which Clerk user id a dev email stands
// for, and where the dev key and secrets live. A token minted for alice@acme.test must carry the
// `sub` that the seed stored for Alice, or the API would provision a second, org-less Alice.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root, so the scripts work from any cwd (npm runs them from the root anyway). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** RSA private key that signs dev session tokens (git-ignored, mode 0600). */
export const DEV_PRIVATE_KEY_PATH = path.join(ROOT, '.dev-keys', 'clerk-dev-private.pem');

/** Local secrets read by `wrangler dev` (git-ignored). */
export const DEV_VARS_PATH = path.join(ROOT, '.dev.vars');

/**
 * A stable, Clerk-shaped user id derived from the email: no Clerk instance is needed locally, and
 * the same email always maps to the same user on every machine. Lower-cased because emails are
 * compared case-insensitively everywhere else.
 */
export function devClerkUserId(email) {
  const digest = createHash('sha256').update(email.toLowerCase()).digest('hex');
  return 'user_dev_' + digest.slice(0, 24);
}

/** Where `npm run webhooks:listen` receives events (WEBHOOKS_DEV_RECEIVER in .dev.vars names it). */
export const WEBHOOKS_LISTEN_PORT = 8853;
