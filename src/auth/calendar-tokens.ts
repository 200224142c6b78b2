// Calendar feed tokens: `scal_` + 32 random bytes, one per member and organization. Only the
// SHA-256 of the token is stored (organization_members.calendar_token_hash, unique).
import { base64UrlEncode, sha256Hex } from '../lib/crypto';

export const CALENDAR_TOKEN_PREFIX = 'scal_';

export async function newCalendarToken(): Promise<{ token: string; hash: string }> {
  const token = CALENDAR_TOKEN_PREFIX + base64UrlEncode(crypto.getRandomValues(new Uint8Array(32)));
  return { token, hash: await sha256Hex(token) };
}
