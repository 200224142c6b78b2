// Resolved tenant access, kept so that a request skips the catalog look-up: in the isolate (a Map)
// and in the location (the Cache API, `caches.default`), so that a fresh isolate of a location
// that answered the same credential recently skips it too. Both for ACCESS_TTL_MS.
//
// Never a secret: the location keys an entry by the SHA-256 of the credential and organization
// reference, and an entry holds ids, the role and the permissions, nothing that authenticates.
//
// Changes. A membership, key or organization change drops this isolate's matching entries at once
// and marks the organization (or the user) changed in the location, with the time and the catalog
// bookmark of the change: a location entry read before the mark, or at an older catalog position,
// is not used. A mark that is missing (evicted) counts as a change just now. Other locations and
// isolates see a change within the TTL, as before; a client that made the change itself and sends
// its Strive-Bookmark never acts on older access (the entry is read again, `usable`).
import type { D1Sessions } from '../db/sessions';
import { sha256Hex } from '../lib/crypto';
import type { Permission } from './permissions';
import type { Access } from './tenant';

/** In line with Clerk's 60 s session tokens; changes purge as described above. */
export const ACCESS_TTL_MS = 30_000;
const ISOLATE_MAX = 10_000;
const ORIGIN = 'https://access-cache.strive.internal';
/** A mark outlives every entry it may have to refuse. */
const MARK_TTL_S = 24 * 3600;

/** `bookmark`: the catalog position the access was read at; `readAt`: when that read began. */
type Kept = { access: Access; expires: number; readAt: number; bookmark: string | null };
type Mark = { at: number; bookmark: string | null };
type Scope = 'org' | 'user';

const isolate = new Map<string, Kept>();

const markUrl = (scope: Scope, id: string) => `${ORIGIN}/changed/${scope}/${id}`;
const entryUrl = async (key: string) => `${ORIGIN}/access/${await sha256Hex(key)}`;
const scopesOf = (kept: Kept): [Scope, string][] => [
  ['org', kept.access.organization.id],
  ['user', kept.access.userId],
];

/**
 * Kept access answers this request unless it has expired, the request asks for the primary, or the
 * request has seen the catalog newer than the access was read (the client's own change).
 */
function usable(kept: Kept, d1: D1Sessions, now: number): boolean {
  if (kept.expires <= now || d1.mode === 'primary') return false;
  const seen = d1.bookmark('catalog');
  return seen === undefined || (kept.bookmark !== null && seen <= kept.bookmark);
}

async function markOf(scope: Scope, id: string): Promise<Mark | null> {
  const response = await caches.default.match(markUrl(scope, id));
  return response ? ((await response.json()) as Mark) : null;
}

const putMark = (scope: Scope, id: string, mark: Mark) =>
  caches.default.put(
    markUrl(scope, id),
    new Response(JSON.stringify(mark), { headers: { 'cache-control': `max-age=${MARK_TTL_S}` } }),
  );

/** Read after the last change of its organization and of its user, at a catalog position that has it. */
async function unchanged(kept: Kept): Promise<boolean> {
  const marks = await Promise.all(scopesOf(kept).map(([scope, id]) => markOf(scope, id)));
  return marks.every(
    (mark) =>
      mark !== null &&
      kept.readAt > mark.at &&
      (mark.bookmark === null || (kept.bookmark !== null && kept.bookmark >= mark.bookmark)),
  );
}

function remember(key: string, kept: Kept): void {
  if (isolate.size >= ISOLATE_MAX) isolate.clear();
  isolate.set(key, kept);
}

/** The access kept for `key` (credential and organization reference) that may answer this request. */
export async function keptAccess(key: string, d1: D1Sessions): Promise<Access | undefined> {
  const now = Date.now();
  const own = isolate.get(key);
  if (own && usable(own, d1, now)) return own.access;
  isolate.delete(key);
  const response = await caches.default.match(await entryUrl(key));
  if (!response) return undefined;
  const stored = (await response.json()) as Omit<Kept, 'access'> & {
    access: Omit<Access, 'permissions'> & { permissions: Permission[] };
  };
  const kept: Kept = { ...stored, access: { ...stored.access, permissions: new Set(stored.access.permissions) } };
  if (!usable(kept, d1, now) || !(await unchanged(kept))) return undefined;
  remember(key, kept);
  return kept.access;
}

/**
 * Keeps access read from the catalog (the read began at `readAt`): in the isolate at once, in the
 * location off the response's path.
 */
export function keepAccess(
  key: string,
  access: Access,
  d1: D1Sessions,
  readAt: number,
  waitUntil: (promise: Promise<unknown>) => void,
): void {
  const kept: Kept = { access, expires: readAt + ACCESS_TTL_MS, readAt, bookmark: d1.bookmark('catalog') ?? null };
  remember(key, kept);
  waitUntil(
    storeInLocation(key, kept).catch((error) => console.error('access cache: not kept in the location', error)),
  );
}

async function storeInLocation(key: string, kept: Kept): Promise<void> {
  // A mark that is missing may have been evicted after a change: whatever was kept before this
  // read is not trusted (this entry, read after it began, is).
  await Promise.all(
    scopesOf(kept).map(async ([scope, id]) => {
      if (!(await markOf(scope, id))) await putMark(scope, id, { at: kept.readAt - 1, bookmark: null });
    }),
  );
  const ttl = Math.ceil((kept.expires - Date.now()) / 1000);
  if (ttl <= 0) return;
  const body = JSON.stringify({ ...kept, access: { ...kept.access, permissions: [...kept.access.permissions] } });
  await caches.default.put(await entryUrl(key), new Response(body, { headers: { 'cache-control': `max-age=${ttl}` } }));
}

export type AccessChange = { organizationId?: string; userId?: string; keyId?: string };
/** The access changes each unit of work made: a writer object hands its own to the Worker that called it. */
const changes = new WeakMap<D1Sessions, AccessChange[]>();
export const accessChangesOf = (d1: D1Sessions): AccessChange[] => changes.get(d1) ?? [];

/**
 * Drops kept access after a membership, key or organization change made by `d1`'s unit of work:
 * this isolate's entries at once, the location's by marking the organization (or the user) changed.
 */
export async function forgetAccess(d1: D1Sessions, match: AccessChange): Promise<void> {
  changes.set(d1, [...(changes.get(d1) ?? []), match]);
  for (const [key, { access }] of isolate) {
    if (match.organizationId !== undefined && access.organization.id !== match.organizationId) continue;
    if (match.userId !== undefined && access.userId !== match.userId) continue;
    if (match.keyId !== undefined && access.keyId !== match.keyId) continue;
    isolate.delete(key);
  }
  const mark: Mark = { at: Date.now(), bookmark: d1.bookmark('catalog') ?? null };
  // The organization's mark covers its members and keys; a user's alone, every organization of theirs.
  if (match.organizationId !== undefined) await putMark('org', match.organizationId, mark);
  else if (match.userId !== undefined) await putMark('user', match.userId, mark);
}

/** Tests: a fresh isolate (the location keeps its entries). */
export const forgetIsolateAccess = () => isolate.clear();
