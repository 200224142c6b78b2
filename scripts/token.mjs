// `npm run token -- --email alice@acme.test [--name "Alice"] [--ttl 3600]`: a Clerk-shaped session
// token signed by the dev key, which the worker verifies networklessly against CLERK_JWT_KEY in
// .dev.vars. The token is the last line on stdout, so `$(npm run -s token -- … | tail -1)` works;
// everything meant for a human goes to stderr.
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEV_PRIVATE_KEY_PATH, devClerkUserId } from './dev-identity.mjs';

const ISSUER = 'https://clerk.strive.dev';
const AUTHORIZED_PARTY = 'http://127.0.0.1:8787';

const base64url = (data) => Buffer.from(data).toString('base64url');

/**
 * An RS256 JWT with the claims Clerk puts in a session token, plus what the session token template of
 * docs/operations/configuration.md adds: `email`, `email_verified` (a dev address counts as verified) and `name`.
 */
export function signDevToken({ privateKeyPem, email, name, ttl = 3600 }) {
  const iat = Math.floor(Date.now() / 1000);
  const header = { alg: 'RS256', typ: 'JWT', kid: 'dev' };
  const claims = {
    sub: devClerkUserId(email),
    email,
    email_verified: true,
    ...(name ? { name } : {}),
    iat,
    // A few seconds of slack: a worker whose clock runs slightly behind must not see a token
    // from the future.
    nbf: iat - 5,
    exp: iat + ttl,
    iss: ISSUER,
    sid: 'sess_dev_' + randomBytes(12).toString('hex'),
    azp: AUTHORIZED_PARTY,
  };
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const signature = sign('sha256', Buffer.from(signingInput), createPrivateKey(privateKeyPem));
  return `${signingInput}.${base64url(signature)}`;
}

function main() {
  const { values } = parseArgs({
    options: { email: { type: 'string' }, name: { type: 'string' }, ttl: { type: 'string', default: '3600' } },
  });
  const email = values.email?.trim();
  if (!email || !email.includes('@')) {
    console.error('Usage: npm run token -- --email alice@acme.test [--name "Alice"] [--ttl 3600]');
    return 1;
  }
  const ttl = Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl <= 0) {
    console.error('--ttl must be a positive whole number of seconds.');
    return 1;
  }
  if (!existsSync(DEV_PRIVATE_KEY_PATH)) {
    console.error('No dev signing key yet: run `npm run setup` (or `npm run dev`) first.');
    return 1;
  }

  const privateKeyPem = readFileSync(DEV_PRIVATE_KEY_PATH, 'utf8');
  const token = signDevToken({ privateKeyPem, email, name: values.name, ttl });
  console.error(`Session token for ${email} (sub ${devClerkUserId(email)}), valid ${ttl} s:`);
  console.log(token);
  return 0;
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  try {
    process.exitCode = main();
  } catch (error) {
    console.error(`token failed: ${error.message}`);
    process.exitCode = 1;
  }
}
