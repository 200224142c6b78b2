// `npm run setup`, and the first half of `npm run dev`: makes a fresh clone servable without a
// Clerk or Stripe account. Each step only creates what is missing, so it runs on every start and
// never replaces a key, a secret or a row that already exists.
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildConsole, consoleBuilt } from './console-build.mjs';
import { DEV_PRIVATE_KEY_PATH, DEV_VARS_PATH, WEBHOOKS_LISTEN_PORT } from './dev-identity.mjs';
import { migrateAll } from './migrate.mjs';
import { seed } from './seed.mjs';

/**
 * The parser wrangler itself applies to .dev.vars (dotenv 16's `parse`, bundled in wrangler, with
 * no variable expansion), so what this script reads back is exactly what the worker will see.
 */
export function parseDotenv(text) {
  // One expression in three parts (key, value, the rest), so that no line runs long.
  const valuePart = /(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?/;
  const keyPart = /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)/;
  const line = new RegExp(keyPart.source + valuePart.source + /\s*(?:#.*)?(?:$|$)/.source, 'gm');
  const parsed = {};
  for (const [, key, raw = ''] of text.replace(/\r\n?/g, '\n').matchAll(line)) {
    let value = raw.trim();
    const quote = value[0];
    value = value.replace(/^(['"`])([\s\S]*)\1$/gm, '$2');
    if (quote === '"') value = value.replace(/\\n/g, '\n').replace(/\\r/g, '\r');
    parsed[key] = value;
  }
  return parsed;
}

/**
 * One `KEY="value"` line. Double quotes with `\n` escapes keep a PEM on one line and are turned
 * back into newlines by dotenv; only double quotes get that treatment. Clerk's networkless
 * verification needs the real newlines: it strips them, while a literal backslash-n would end up
 * inside the key's modulus.
 */
function dotenvLine(key, value) {
  if (/["\\]/.test(value)) throw new Error(`${key}: value must not contain quotes or backslashes.`);
  return `${key}="${value.replace(/\r?\n/g, '\\n')}"`;
}

// Stripe and Svix (Clerk's webhooks) both sign with `whsec_` + base64 of the secret bytes.
const webhookSecret = () => 'whsec_' + randomBytes(32).toString('base64');

/**
 * Clerk's PEM loader only understands a 2048-bit RSA key with exponent 65537 (it cuts fixed
 * prefixes off the base64), so those parameters are not a free choice.
 */
function ensureSigningKey() {
  if (existsSync(DEV_PRIVATE_KEY_PATH)) return false;
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicExponent: 0x10001,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  mkdirSync(path.dirname(DEV_PRIVATE_KEY_PATH), { recursive: true, mode: 0o700 });
  writeFileSync(DEV_PRIVATE_KEY_PATH, privateKey, { mode: 0o600, flag: 'wx' });
  return true;
}

/** Writes the missing variables of .dev.vars; returns the names it added. */
function ensureDevVars() {
  // Derived from the private key on disk, so a lost .dev.vars comes back matching the key.
  const publicKeyPem = createPublicKey(readFileSync(DEV_PRIVATE_KEY_PATH, 'utf8')).export({
    type: 'spki',
    format: 'pem',
  });
  const wanted = {
    CLERK_JWT_KEY: () => publicKeyPem,
    // The console's dev sign-in (POST /app/dev-session) signs with it; only on a loopback host.
    DEV_SESSION_SIGNING_KEY: () => readFileSync(DEV_PRIVATE_KEY_PATH, 'utf8'),
    CLERK_WEBHOOK_SECRET: webhookSecret,
    STRIPE_WEBHOOK_SECRET: webhookSecret,
    EXPOSE_D1_ROUND_TRIPS: () => 'true',
    // `npm run webhooks:listen`'s receiver: webhook endpoints may point there although it is not public https.
    WEBHOOKS_DEV_RECEIVER: () => `http://127.0.0.1:${WEBHOOKS_LISTEN_PORT}/`,
    // workerd does not implement Durable Object jurisdictions (wrangler.toml has them on).
    DO_JURISDICTIONS: () => 'off',
  };

  const existing = existsSync(DEV_VARS_PATH) ? readFileSync(DEV_VARS_PATH, 'utf8') : '';
  const present = parseDotenv(existing);
  const missing = Object.keys(wanted).filter((key) => !(key in present));
  if (missing.length > 0) {
    const header = existing
      ? ''
      : '# Local secrets for `wrangler dev`, git-ignored. Written by scripts/dev-setup.mjs,\n' +
        '# which only ever adds missing variables: delete a line to have it regenerated.\n';
    const separator = existing && !existing.endsWith('\n') ? '\n' : '';
    const lines = missing.map((key) => dotenvLine(key, wanted[key]()));
    appendFileSync(DEV_VARS_PATH, separator + header + lines.join('\n') + '\n', { mode: 0o600 });
  }

  const written = parseDotenv(readFileSync(DEV_VARS_PATH, 'utf8'));
  if (missing.includes('CLERK_JWT_KEY') && written.CLERK_JWT_KEY !== publicKeyPem) {
    throw new Error(`${DEV_VARS_PATH}: CLERK_JWT_KEY does not read back as the PEM that was written.`);
  }
  if (written.CLERK_JWT_KEY !== publicKeyPem) {
    console.warn(
      `  warning: CLERK_JWT_KEY in .dev.vars is not the public half of ${path.basename(DEV_PRIVATE_KEY_PATH)};\n` +
        '  tokens from `npm run token` will be rejected. Delete that line and run `npm run setup` again.',
    );
  }
  return missing;
}

/** Everything `npm run setup` does; throws on the first failure. Exported for the bench. */
export function devSetup() {
  console.log('Dev setup');
  const newKey = ensureSigningKey();
  console.log(
    `  signing key: ${newKey ? 'created' : 'present'} (${path.relative(process.cwd(), DEV_PRIVATE_KEY_PATH)})`,
  );
  const added = ensureDevVars();
  console.log(`  .dev.vars: ${added.length ? `added ${added.join(', ')}` : 'complete'}`);

  console.log('Migrations (local)');
  migrateAll({ remote: false, quiet: true });
  console.log('Seed (local)');
  seed();
  // wrangler.toml's [assets] directory must exist before wrangler starts (npm run dev then rebuilds it on changes).
  console.log(`Console (dist/console): ${consoleBuilt() ? 'present' : 'building'}`);
  if (!consoleBuilt()) buildConsole({ quiet: true });
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  try {
    devSetup();
    console.log(`
The console, once \`npm run dev\` runs: http://127.0.0.1:8787/app/ (pick a seeded user to sign in).
Get a session token (signed by the dev key, valid 1 h):
  npm run token -- --email alice@acme.test
Then:
  curl -H "Authorization: Bearer $(npm run -s token -- --email alice@acme.test | tail -1)" http://127.0.0.1:8787/v1/me
Seeded users: alice@acme.test (acme owner), bob@acme.test (member), vic@acme.test (viewer),
  carol@globex.test (globex owner), admin@strive.test (platform admin).
`);
  } catch (error) {
    console.error(`\nDev setup failed: ${error.message}`);
    process.exitCode = 1;
  }
}
