// Organization API keys: `stk_` + 32 random bytes. Only the SHA-256 of the secret is stored,
// under a unique index, with a short prefix for recognising the key in lists.
import { base64UrlEncode, sha256Hex } from '../lib/crypto';

export const API_KEY_PREFIX = 'stk_';
const DISPLAY_PREFIX_LENGTH = API_KEY_PREFIX.length + 8;

export async function newApiKeySecret(): Promise<{ secret: string; prefix: string; hash: string }> {
  const secret = API_KEY_PREFIX + base64UrlEncode(crypto.getRandomValues(new Uint8Array(32)));
  return { secret, prefix: secret.slice(0, DISPLAY_PREFIX_LENGTH), hash: await sha256Hex(secret) };
}

export const hashApiKey = (secret: string) => sha256Hex(secret);
