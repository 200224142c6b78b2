// The typed Strive client: openapi-fetch over the types `npm run client` generates from the
// Worker's /openapi.json (schema.d.ts), so a path, parameter or body the API does not have is a
// type error. Around it: the credential, the read-your-writes bookmark, an Idempotency-Key on
// every mutation (and one retry of a request the network lost), problem+json refusals as typed
// values, and cursor paging.
import createClient from 'openapi-fetch';
import type { components, paths } from './schema';

export type { components, paths };
export type Schemas = components['schemas'];
/** RFC 9457 problem details, as every refusal of the API is written. */
export type Problem = Schemas['Problem'];
export type Page<T> = { data: T[]; next_cursor: string | null };

/** The response header a read-replica bookmark arrives in, and the request header it goes back in. */
export const BOOKMARK_HEADER = 'strive-bookmark';
const MUTATIONS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** A refused request as a value: `problem` is the server's body (`detail` is for the person). */
export class ApiProblem extends Error {
  constructor(
    readonly problem: Problem,
    readonly status: number,
  ) {
    super(problem.detail);
    this.name = 'ApiProblem';
  }
}

export type StriveClientOptions = {
  /** The API's origin; the page's own by default. */
  baseUrl?: string;
  /** The bearer credential for each request (a session token, refreshed as it expires, or an API key). */
  credential: () => string | null | Promise<string | null>;
  fetch?: typeof globalThis.fetch;
};

export function createStriveClient({
  baseUrl = '',
  credential,
  fetch = globalThis.fetch.bind(globalThis),
}: StriveClientOptions) {
  // The newest bookmark this client was given: sent with every later request, so a read after a
  // write sees it even when another replica answers. Ignored by a server that keeps none.
  let bookmark: string | null = null;

  const client = createClient<paths>({
    baseUrl,
    // One retry when the network, not the server, failed: safe for reads, and for mutations
    // because the retry carries the same Idempotency-Key (the server answers it at most once).
    fetch: async (request: Request) => {
      const again = request.clone();
      try {
        return await fetch(request);
      } catch (error) {
        if (request.signal.aborted) throw error;
        return fetch(again);
      }
    },
  });
  client.use({
    async onRequest({ request }) {
      const token = await credential();
      if (token) request.headers.set('authorization', `Bearer ${token}`);
      if (bookmark) request.headers.set(BOOKMARK_HEADER, bookmark);
      if (MUTATIONS.has(request.method) && !request.headers.has('idempotency-key')) {
        request.headers.set('idempotency-key', crypto.randomUUID());
      }
      return request;
    },
    onResponse({ response }) {
      const next = response.headers.get(BOOKMARK_HEADER);
      if (next) bookmark = next;
      return undefined;
    },
  });
  return Object.assign(client, {
    /** The bookmark sent with the next request (null until the server sends one). */
    bookmark: () => bookmark,
    /** The same credential and bookmark on a socket URL (browsers cannot set a socket's headers). */
    async socketUrl(path: string): Promise<string> {
      const url = new URL(path, baseUrl || (globalThis as { location?: { href: string } }).location?.href);
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      const token = await credential();
      if (token) url.searchParams.set('token', token);
      return url.href;
    },
  });
}

export type StriveClient = ReturnType<typeof createStriveClient>;

/** The data of a success, or the problem thrown as an ApiProblem. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.response.ok) return result.data as T;
  throw new ApiProblem(asProblem(result.error, result.response), result.response.status);
}

/** A problem body, or one made from the status when the answer was not problem+json (a proxy's page). */
function asProblem(body: unknown, response: Response): Problem {
  if (body && typeof body === 'object' && 'code' in body && 'detail' in body) return body as Problem;
  return {
    type: 'about:blank',
    title: response.statusText || 'Error',
    status: response.status,
    code: 'internal',
    detail: `The server answered ${response.status}${response.statusText ? ` ${response.statusText}` : ''}.`,
    request_id: response.headers.get('x-request-id') ?? '',
  } as Problem;
}

/** Every page of a cursor list, one at a time: `for await (const page of pages((cursor) => …))`. */
export async function* pages<T>(fetchPage: (cursor: string | undefined) => Promise<Page<T>>): AsyncGenerator<Page<T>> {
  let cursor: string | undefined;
  do {
    const page = await fetchPage(cursor);
    yield page;
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
}

/** Every item of a cursor list, up to `max` (a guard against loading an unbounded list). */
export async function collect<T>(
  fetchPage: (cursor: string | undefined) => Promise<Page<T>>,
  max = 1000,
): Promise<T[]> {
  const items: T[] = [];
  for await (const page of pages(fetchPage)) {
    items.push(...page.data);
    if (items.length >= max) return items.slice(0, max);
  }
  return items;
}
