// Per-address limits for traffic no user or key answers for: failed authentications on every
// credentialed route (the real local AUTH_FAILURE_LIMITER: 60 a minute), and every request to the
// public routes (PUBLIC_RATE_LIMITER, stubbed: its limit is 1200).
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createApp } from '../src/app';
import { clientKey } from '../src/middleware/client-limits';
import { api, expectProblem, newOrg, readResponse } from './helpers';

const hex = () => Math.floor(Math.random() * 0xffff).toString(16);
/** An address of its own per test: the binding's counts outlive a test. */
const newNetwork = () => `2001:db8:${hex()}:${hex()}`;
const randomKey = () => `stk_${crypto.randomUUID().replaceAll('-', '')}`;

describe('failed authentications per address', () => {
  it('are 401 up to 60 a minute, then 429, and unknown keys and feed tokens from there are no longer looked up', async () => {
    const org = await newOrg();
    const known = (
      await api('POST', `/v1/orgs/${org.slug}/api-keys`, {
        token: org.owner.token,
        body: { name: 'ci', scopes: ['customers:read'] },
      })
    ).body.key;
    const customers = `/v1/orgs/${org.slug}/customers`;
    expect((await api('GET', customers, { token: known })).status).toBe(200); // cached in this isolate now
    const network = newNetwork();
    const from = (suffix: string) => ({ 'cf-connecting-ip': `${network}::${suffix}` });

    const statuses: number[] = [];
    while (statuses.length < 80 && !statuses.includes(429)) {
      statuses.push((await api('GET', customers, { token: randomKey(), headers: from('1') })).status);
    }
    expect(statuses.slice(0, 60)).toEqual(Array(60).fill(401));
    expect(statuses.at(-1)).toBe(429);

    // Another address of the same /64, a random key: refused before the catalog is asked.
    const guessed = await api('GET', customers, { token: randomKey(), headers: from('2') });
    expectProblem(guessed, 429, 'rate_limited');
    expect(guessed.headers.get('retry-after')).toBe('60');
    expect(guessed.roundTrips).toBe(0);
    const feed = await api('GET', `/v1/orgs/${org.slug}/appointments.ics?token=scal_${crypto.randomUUID()}`, {
      headers: from('3'),
    });
    expectProblem(feed, 429, 'rate_limited');
    expect(feed.roundTrips).toBe(0);

    // Sessions and keys this isolate knows still work from there; other addresses are untouched.
    expect((await api('GET', customers, { token: org.owner.token, headers: from('1') })).status).toBe(200);
    expect((await api('GET', customers, { token: known, headers: from('1') })).status).toBe(200);
    expectProblem(
      await api('GET', customers, { token: randomKey(), headers: { 'cf-connecting-ip': `${newNetwork()}::1` } }),
      401,
      'unauthenticated',
    );
  });

  it('are not limited without CF-Connecting-IP (not through Cloudflare: tests, local calls)', async () => {
    const org = await newOrg();
    for (let n = 0; n < 70; n++) {
      expect((await api('GET', `/v1/orgs/${org.slug}`, { token: randomKey() })).status).toBe(401);
    }
  });
});

describe('public requests per address', () => {
  async function withLimiter(path: string, headers: Record<string, string>, success: boolean) {
    const keys: string[] = [];
    const limiter = { limit: async ({ key }: { key: string }) => (keys.push(key), { success }) };
    const ctx = createExecutionContext();
    const response = await createApp().request(
      `https://strive.test${path}`,
      { headers },
      { ...env, PUBLIC_RATE_LIMITER: limiter },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    return { res: await readResponse(response), keys };
  }

  it('counts every request to /v1/public/* and /embed.js by address, and answers 429 past the limit, readable by an embed', async () => {
    for (const path of ['/v1/public/acme/content', '/embed.js']) {
      const { res, keys } = await withLimiter(
        path,
        { 'cf-connecting-ip': '203.0.113.7', origin: 'https://blog.example' },
        false,
      );
      expectProblem(res, 429, 'rate_limited');
      expect(res.headers.get('retry-after')).toBe('60');
      expect(keys).toEqual(['203.0.113.7']);
      if (path !== '/embed.js') expect(res.headers.get('access-control-allow-origin')).toBe('*');
    }
    const { res, keys } = await withLimiter('/embed.js', { 'cf-connecting-ip': '2001:DB8:0:1:aaaa::7' }, true);
    expect(res.status).toBe(200);
    expect(keys).toEqual(['2001:db8:0:1::/64']);
    expect((await withLimiter('/embed.js', {}, false)).keys).toEqual([]);
  });

  it('keys an IPv6 address by its /64 and an IPv4 address whole', () => {
    expect(clientKey('2001:db8:0000:0001:1:2:3:4')).toBe('2001:db8:0:1::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey('2001:db8:a:b::')).toBe('2001:db8:a:b::/64');
    expect(clientKey('198.51.100.23')).toBe('198.51.100.23');
  });
});
