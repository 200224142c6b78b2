// The typed client (client/index.ts) against the Worker itself: typed calls, problem+json as
// ApiProblem, the Idempotency-Key on mutations and the retry it makes safe, the bookmark echoed
// back, and cursor paging.
import { SELF } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { ApiProblem, BOOKMARK_HEADER, collect, createStriveClient, pages, unwrap } from '../client';
import { newOrg, type TestOrg } from './helpers';

let org: TestOrg;
beforeAll(async () => {
  org = await newOrg();
});

/** The client on SELF, recording every request it sends. */
function clientFor(
  token: string | null,
  intercept?: (request: Request) => Promise<Response | undefined> | Response | undefined,
) {
  const sent: Request[] = [];
  const client = createStriveClient({
    baseUrl: 'https://strive.test',
    credential: () => token,
    fetch: async (input, init) => {
      const request = new Request(input as Request, init);
      sent.push(request.clone());
      return (await intercept?.(request)) ?? SELF.fetch(request);
    },
  });
  return { client, sent };
}

describe('typed calls', () => {
  it('answers data for a success and sends the credential', async () => {
    const { client, sent } = clientFor(org.owner.token);
    const me = unwrap(await client.GET('/v1/me'));
    expect(me.email).toBe(org.owner.email);
    expect(sent[0]!.headers.get('authorization')).toBe(`Bearer ${org.owner.token}`);
  });

  it('throws the problem as an ApiProblem with the detail for the person', async () => {
    const { client } = clientFor(org.owner.token);
    const refused = await client.POST('/v1/orgs/{org}/customers', {
      params: { path: { org: org.slug } },
      body: { name: '' },
    });
    const error = (() => {
      try {
        unwrap(refused);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ApiProblem);
    expect((error as ApiProblem).status).toBe(400);
    expect((error as ApiProblem).problem.code).toBe('invalid_request');
    expect((error as ApiProblem).problem.errors?.[0]?.path).toBe('name');
    expect((error as ApiProblem).message).toBe((error as ApiProblem).problem.detail);
  });

  it('makes a problem of an answer that is not problem+json', async () => {
    const { client } = clientFor(
      org.owner.token,
      () => new Response('<h1>Bad gateway</h1>', { status: 502, headers: { 'content-type': 'text/html' } }),
    );
    expect(() => unwrap({ error: '<h1>', response: new Response(null, { status: 502 }) })).toThrow(/502/);
    const result = await client.GET('/v1/me');
    expect(() => unwrap(result)).toThrow(ApiProblem);
  });
});

describe('mutations', () => {
  it('carry a fresh Idempotency-Key each; reads carry none', async () => {
    const { client, sent } = clientFor(org.owner.token);
    const path = { params: { path: { org: org.slug } } } as const;
    unwrap(await client.POST('/v1/orgs/{org}/customers', { ...path, body: { name: 'Keyed one' } }));
    unwrap(await client.POST('/v1/orgs/{org}/customers', { ...path, body: { name: 'Keyed two' } }));
    unwrap(await client.GET('/v1/orgs/{org}/customers', path));
    const [one, two, read] = sent.map((r) => r.headers.get('idempotency-key'));
    expect(one).toMatch(/^[0-9a-f-]{36}$/);
    expect(two).toMatch(/^[0-9a-f-]{36}$/);
    expect(one).not.toBe(two);
    expect(read).toBeNull();
  });

  it('are retried once with the same key when the network loses the answer, and happen once', async () => {
    let lost = false;
    const { client, sent } = clientFor(org.owner.token, async (request) => {
      if (lost || request.method !== 'POST') return undefined;
      lost = true;
      await SELF.fetch(request); // the server does it; the answer never arrives
      throw new TypeError('network connection lost');
    });
    const name = `Retried ${crypto.randomUUID()}`;
    const { data, response } = await client.POST('/v1/orgs/{org}/customers', {
      params: { path: { org: org.slug } },
      body: { name },
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('idempotent-replayed')).toBe('true');
    expect(sent).toHaveLength(2);
    expect(sent[0]!.headers.get('idempotency-key')).toBe(sent[1]!.headers.get('idempotency-key'));
    const found = unwrap(
      await client.GET('/v1/orgs/{org}/customers', { params: { path: { org: org.slug }, query: { q: name } } }),
    );
    expect(found.data.map((c) => c.id)).toEqual([data!.id]);
  });
});

describe('bookmark', () => {
  it('sends back the newest Strive-Bookmark the server answered with', async () => {
    let answer = 0;
    const { client, sent } = clientFor(org.owner.token, async (request) => {
      const response = await SELF.fetch(request);
      const headers = new Headers(response.headers);
      if (answer++ < 2) headers.set(BOOKMARK_HEADER, `bookmark-${answer}`);
      return new Response(response.body, { status: response.status, headers });
    });
    for (let n = 0; n < 4; n++) await client.GET('/v1/me');
    expect(sent.map((r) => r.headers.get(BOOKMARK_HEADER))).toEqual([null, 'bookmark-1', 'bookmark-2', 'bookmark-2']);
    expect(client.bookmark()).toBe('bookmark-2');
  });
});

describe('paging', () => {
  it('walks every page of a list by its cursor', async () => {
    const { client } = clientFor(org.owner.token);
    const tag = `paged-${crypto.randomUUID().slice(0, 8)}`;
    for (let n = 0; n < 5; n++) {
      unwrap(
        await client.POST('/v1/orgs/{org}/customers', {
          params: { path: { org: org.slug } },
          body: { name: `${tag} ${n}` },
        }),
      );
    }
    const page = (cursor: string | undefined) =>
      client
        .GET('/v1/orgs/{org}/customers', { params: { path: { org: org.slug }, query: { q: tag, limit: 2, cursor } } })
        .then(unwrap);
    const sizes: number[] = [];
    for await (const p of pages(page)) sizes.push(p.data.length);
    expect(sizes).toEqual([2, 2, 1]);
    const all = await collect(page);
    expect(all.map((c) => c.name)).toEqual([4, 3, 2, 1, 0].map((n) => `${tag} ${n}`));
    expect(await collect(page, 3)).toHaveLength(3);
  });

  it('gives a socket URL with the credential in the query', async () => {
    const { client } = clientFor('tok');
    expect(await client.socketUrl('/v1/orgs/acme/projects/p/board/ws')).toBe(
      'wss://strive.test/v1/orgs/acme/projects/p/board/ws?token=tok',
    );
  });
});
