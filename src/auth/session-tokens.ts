// Clerk-shaped session tokens (RS256) signed here rather than by Clerk: the console's dev sign-in
// (src/modules/console/routes.ts) and the tests' users. Clerk's own tokens are only verified
// (credentials.ts); nothing in production signs one.
import { base64Decode, base64UrlEncode, sha256Hex } from '../lib/crypto';

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function importSigningKey(privateKeyPem: string): Promise<CryptoKey> {
  let key = keys.get(privateKeyPem);
  if (!key) {
    const der = base64Decode(privateKeyPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''));
    key = crypto.subtle.importKey('pkcs8', der, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
    keys.set(privateKeyPem, key);
  }
  return key;
}

/** A JWT of `claims` signed with the PKCS#8 PEM key whose public half is CLERK_JWT_KEY. */
export async function signSessionToken(
  privateKeyPem: string,
  claims: Record<string, unknown>,
  kid: string,
): Promise<string> {
  const part = (value: object) => base64UrlEncode(encoder.encode(JSON.stringify(value)));
  const input = `${part({ alg: 'RS256', typ: 'JWT', kid })}.${part(claims)}`;
  const signature = await crypto.subtle.sign(
    'RSASSA-PKCS1-v1_5',
    await importSigningKey(privateKeyPem),
    encoder.encode(input),
  );
  return `${input}.${base64UrlEncode(new Uint8Array(signature))}`;
}

/**
 * The Clerk user id a dev email stands for: scripts/dev-identity.mjs's rule (the seed stores it),
 * so a console sign-in as alice@acme.test is the seeded Alice.
 */
export async function devClerkUserId(email: string): Promise<string> {
  return 'user_dev_' + (await sha256Hex(email.toLowerCase())).slice(0, 24);
}
