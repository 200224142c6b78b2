// `npm run fuzz`: schema-driven requests from the Worker's own /openapi.json, valid-ish and
// mutated (wrong types, nulls, huge strings, unicode, boundary numbers, extra fields, repeated and
// garbage parameters), as the seeded `acme`'s owner, an admin, a member, a viewer, an API key with
// every scope, and nobody. The Worker runs as `npm run bench` runs it (scripts/local-worker.mjs):
// the deploy bundle in Miniflare on a throwaway copy of the dev data, all traffic on 127.0.0.1,
// and every fetch it makes to another host answered by a refusal here, never the network.
//
// Prints the answers by status (and problem code), and every 5xx with the request that drew it;
// exits non-zero on any. One 5xx is an answer by design and is counted apart: 503
// `not_configured` (billing without STRIPE_SECRET_KEY, which a dev copy never has).
//
// FUZZ_SEED (default 1) makes the run's requests the same every time (each is built from its own
// number and the seed, whatever the concurrency); FUZZ_REQUESTS (default 4000),
// FUZZ_CONCURRENCY (default 4) and FUZZ_SECONDS (default 600: the run stops there) bound it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEV_PRIVATE_KEY_PATH } from './dev-identity.mjs';
import { devSetup } from './dev-setup.mjs';
import { buildBundle, liftQuotas, seededOrganization, startOnCopy } from './local-worker.mjs';
import { runBounded } from './lib/worker.mjs';
import { signDevToken } from './token.mjs';

const ORG = 'acme';
const positive = (name, fallback) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive whole number.`);
  return value;
};
const SEED = positive('FUZZ_SEED', 1);
const REQUESTS = positive('FUZZ_REQUESTS', 4000);
const CONCURRENCY = positive('FUZZ_CONCURRENCY', 4);
const SECONDS = positive('FUZZ_SECONDS', 600);

// ── Deterministic randomness ──────────────────────────────────────────────────────────────────
/** mulberry32: a small seeded PRNG; one per request, seeded by the run's seed and its number. */
function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  return {
    int,
    chance: (p) => next() < p,
    pick: (list) => list[int(list.length)],
    between: (min, max) => min + int(max - min + 1),
    hex: (n) => Array.from({ length: n }, () => int(16).toString(16)).join(''),
  };
}
const uuidFrom = (r) => `${r.hex(8)}-${r.hex(4)}-7${r.hex(3)}-${r.pick(['8', '9', 'a', 'b'])}${r.hex(3)}-${r.hex(12)}`;

// ── Hostile values ────────────────────────────────────────────────────────────────────────────
const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff\ud800',
  'e\u0301',
  '\u202egnp.exe',
  '💥'.repeat(300),
  '𝕬'.repeat(100),
  "'; DROP TABLE customers; --",
  '" OR 1=1 --',
  '%',
  '%%_%_',
  '\\',
  '\\\\%',
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  'javascript:alert(1)',
  '../../../etc/passwd',
  '{{7*7}}',
  '${7*7}',
  'null',
  'undefined',
  'NaN',
  '-1',
  '0',
  '1e309',
  'true',
  '[]',
  '{}',
  'ʇsǝʇ',
  '中文字符',
  'ﷺ'.repeat(50),
  '\r\n\r\nX: y',
  'x'.repeat(65),
  'x'.repeat(257),
  'x'.repeat(2049),
];
const NASTY_NUMBERS = [
  0,
  -0,
  -1,
  1,
  0.5,
  1.005,
  0.1 + 0.2,
  2 ** 31,
  -(2 ** 31),
  2 ** 53,
  -(2 ** 53),
  2 ** 53 + 2,
  1e21,
  1e308,
  -1e308,
  5e-324,
];
const HUGE_LENGTHS = [1_000, 10_000, 100_000, 600_000, 1_100_000];

/** A value of any other kind than the schema asks for, or a hostile one of its kind. */
function hostile(r, schema) {
  switch (r.int(9)) {
    case 0:
      return null;
    case 1:
      return r.pick(NASTY_STRINGS);
    case 2:
      return r.pick(NASTY_NUMBERS);
    case 3:
      return 'A'.repeat(r.pick(HUGE_LENGTHS));
    case 4:
      return r.chance(0.5) ? [] : Array.from({ length: r.pick([1, 51, 101, 1000]) }, () => r.pick(NASTY_STRINGS));
    case 5:
      return r.chance(0.5)
        ? {}
        : {
            __proto__x: 1,
            constructor: { prototype: 'x' },
            toString: 'x',
            [r.pick(NASTY_STRINGS)]: r.pick(NASTY_NUMBERS),
          };
    case 6:
      return r.chance(0.5) ? true : 'true';
    case 7:
      return nested(r.pick([10, 100, 500]));
    default:
      return schema?.type === 'string' ? r.pick(NASTY_NUMBERS) : r.pick(NASTY_STRINGS);
  }
}
const nested = (depth) => (depth === 0 ? 'deep' : { a: nested(depth - 1) });

// ── Values from the schema ────────────────────────────────────────────────────────────────────
let components = {};
const resolve = (schema) => (schema?.$ref ? resolve(components[schema.$ref.split('/').pop()]) : (schema ?? {}));

/** A value the schema should accept, more or less: its types, enums, formats and bounds. */
function valid(r, rawSchema, pools, depth = 0) {
  const schema = resolve(rawSchema);
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants) return valid(r, r.pick(variants), pools, depth);
  if (schema.allOf) return Object.assign({}, ...schema.allOf.map((s) => valid(r, s, pools, depth)));
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return r.pick(schema.enum);
  if (schema.example !== undefined && r.chance(0.15)) return schema.example;
  let type = schema.type;
  if (Array.isArray(type)) type = r.chance(0.85) ? (r.pick(type.filter((t) => t !== 'null')) ?? 'null') : 'null';
  switch (type) {
    case 'null':
      return null;
    case 'boolean':
      return r.chance(0.5);
    case 'integer':
    case 'number': {
      const min = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 0);
      const max = Math.min(schema.maximum ?? min + 1000, min + 1e6);
      const n = min + r.int(Math.max(1, max - min + 1));
      return type === 'integer' ? Math.floor(n) : r.chance(0.3) ? n + 0.25 : n;
    }
    case 'string':
      return validString(r, schema, pools);
    case 'array': {
      const count = r.between(schema.minItems ?? 0, Math.min(schema.maxItems ?? 3, (schema.minItems ?? 0) + 3));
      return depth > 4 ? [] : Array.from({ length: count }, () => valid(r, schema.items, pools, depth + 1));
    }
    case 'object':
    default: {
      if (depth > 4) return {};
      const object = {};
      const required = new Set(schema.required ?? []);
      for (const [field, property] of Object.entries(schema.properties ?? {})) {
        if (required.has(field) || r.chance(0.5)) object[field] = valid(r, property, pools, depth + 1);
      }
      if (!schema.properties && schema.additionalProperties !== false && r.chance(0.5))
        object[`k${r.int(100)}`] = r.pick(['v', 1, true]);
      return object;
    }
  }
}

function validString(r, schema, pools) {
  switch (schema.format) {
    case 'uuid':
      return r.chance(0.6) && pools.ids.length ? r.pick(pools.ids) : uuidFrom(r);
    case 'date-time':
      return new Date(Date.UTC(2026, r.int(24), 1 + r.int(28), r.int(24), r.pick([0, 15, 30, 45]))).toISOString();
    case 'date':
      return new Date(Date.UTC(2026, r.int(24), 1 + r.int(28))).toISOString().slice(0, 10);
    case 'email':
      return `fuzz${r.int(1e6)}@example.com`;
    case 'uri':
    case 'url':
      return r.pick([
        'https://example.com/',
        `https://example.com/p/${r.int(1e6)}`,
        'http://example.org',
        'https:example.com',
        'HTTPS://EXAMPLE.COM',
        'https://user:pw@example.com',
        'https://[::1]/',
        'https://127.0.0.1/',
        'javascript:alert(1)',
        'data:text/html,x',
        'ftp://x',
        'https://x',
      ]);
    default:
      break;
  }
  if (schema.pattern) return r.pick([`fuzz-${r.int(1e6)}`, 'a', 'abc-123', 'x'.repeat(10)]);
  const min = schema.minLength ?? 0;
  const max = Math.min(schema.maxLength ?? 40, min + 60);
  const words = ['alpha', 'beta', 'gamma', 'Ünïcödé', 'naïve café', '#tag', 'done', 'todo', '100%', 'snake_case'];
  let text = '';
  while (text.length < min || (text.length < max && r.chance(0.6))) text += (text ? ' ' : '') + r.pick(words);
  return text.slice(0, Math.max(min, Math.min(max, text.length))) || 'x'.repeat(min);
}

/** The valid value with one thing wrong: a field hostile, one missing, one extra, or the whole. */
function mutate(r, value, schema) {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || r.chance(0.15))
    return hostile(r, resolve(schema));
  const copy = { ...value };
  const fields = Object.keys(resolve(schema).properties ?? copy);
  switch (r.int(4)) {
    case 0:
      copy[`extra_${r.int(100)}`] = r.pick(NASTY_STRINGS);
      return copy;
    case 1:
      if (fields.length) delete copy[r.pick(fields)];
      return copy;
    default: {
      const field = fields.length ? r.pick(fields) : 'x';
      copy[field] = hostile(r, resolve(resolve(schema).properties?.[field]));
      return copy;
    }
  }
}

// ── Requests ──────────────────────────────────────────────────────────────────────────────────
/** Weighted towards those who may do most, so that more requests get past the permission check. */
const IDENTITIES = ['owner', 'owner', 'owner', 'admin', 'admin', 'api_key', 'api_key', 'member', 'viewer', 'none'];
/** Ends the run's use of acme: never sent by those who could do it. */
const runEnding = (op, identity) =>
  op.method === 'delete' && op.path === '/v1/orgs/{org}' && (identity === 'owner' || identity === 'api_key');

function pathValue(r, name, pools) {
  const garbage = () =>
    r.pick([
      'not-an-id',
      '0',
      '-1',
      '%2e%2e',
      'x'.repeat(300),
      encodeURIComponent(r.pick(NASTY_STRINGS).toWellFormed()) || '%20',
      uuidFrom(r).toUpperCase(),
    ]);
  if (name === 'org') return r.chance(0.9) ? pools.orgId : r.chance(0.5) ? ORG : garbage();
  if (name === 'org_slug') return r.chance(0.85) ? ORG : garbage();
  if (name === 'user_id') return r.chance(0.6) ? r.pick(pools.victims) : r.chance(0.5) ? uuidFrom(r) : garbage();
  if (name === 'slug') return r.chance(0.6) && pools.slugs.length ? r.pick(pools.slugs) : garbage();
  return r.chance(0.55) && pools.ids.length ? r.pick(pools.ids) : r.chance(0.6) ? uuidFrom(r) : garbage();
}

function queryValue(r, parameter, pools) {
  const schema = resolve(parameter.schema);
  if (r.chance(0.7)) {
    const value = valid(r, schema, pools);
    return Array.isArray(value) ? value.map(String) : value === null ? '' : String(value);
  }
  if (schema.type === 'array' && r.chance(0.4))
    return Array.from({ length: r.pick([49, 50, 51, 150, 500]) }, (_, n) => `t${n}`);
  const value = hostile(r, schema);
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
}

/** Request `n` of the run: the same for the same seed. */
function buildRequest(n, operations, pools) {
  const r = prng(SEED * 1_000_003 + n);
  const op = r.pick(operations);
  let identity = r.pick(IDENTITIES);
  if (runEnding(op, identity)) identity = 'admin';
  const url = new URL(
    op.path.replace(/\{(\w+)\}/g, (_, name) => pathValue(r, name, pools)),
    'http://fuzz',
  );
  for (const parameter of op.parameters.filter((p) => p.in === 'query')) {
    if (!parameter.required && r.chance(0.5)) continue;
    if (parameter.required && r.chance(0.05)) continue;
    const value = queryValue(r, parameter, pools);
    for (const v of [value].flat()) url.searchParams.append(parameter.name, v);
  }
  if (r.chance(0.05))
    url.searchParams.append(r.pick(['utm_source', 'q', 'limit', 'cursor', 'token']), r.pick(NASTY_STRINGS));
  const headers = {};
  let body;
  const content = op.requestBody?.content ?? {};
  if (content['application/json']) {
    const schema = content['application/json'].schema;
    const roll = r.int(20);
    if (roll >= 3) {
      const value = valid(r, schema, pools);
      body = roll < 13 ? JSON.stringify(value) : (JSON.stringify(mutate(r, value, schema)) ?? 'null');
      if (r.chance(0.03)) body = body.slice(0, Math.max(1, body.length - 3)); // malformed JSON
      headers['content-type'] = r.chance(0.94)
        ? 'application/json'
        : r.pick(['text/plain', 'application/json; charset=utf-8', 'application/x-www-form-urlencoded']);
    } else if (roll === 2) {
      headers['content-type'] = 'application/json';
      body = '';
    }
  } else if (content['application/octet-stream']) {
    const size = r.pick([0, 1, 16, 4096, 70_000]);
    body = new Uint8Array(size).map(() => r.int(256));
    headers['content-type'] = r.pick([
      'image/png',
      'text/plain',
      'application/pdf',
      'image/svg+xml',
      'video/mp4',
      'x/y',
      'IMAGE/PNG; x=1',
    ]);
  }
  if (op.method !== 'get' && r.chance(0.05))
    headers['idempotency-key'] = r.pick([`fuzz-${r.int(50)}`, 'k'.repeat(300), '']);
  if (op.method === 'get' && r.chance(0.05))
    headers.range = r.pick(['bytes=0-10', 'bytes=-5', 'bytes=999999-', 'bytes=5-1', 'bytes=a-b', 'bytes=0-1,3-4']);
  if (op.method === 'get' && r.chance(0.03)) headers['if-none-match'] = r.pick(['"x"', '*', 'W/"y"']);
  return {
    n,
    method: op.method.toUpperCase(),
    path: `${url.pathname}${url.search}`,
    route: `${op.method.toUpperCase()} ${op.path}`,
    identity,
    headers,
    body,
  };
}

// ── The run ───────────────────────────────────────────────────────────────────────────────────
/** Every operation of the document, with its parameters resolved. */
function operationsOf(document) {
  return Object.entries(document.paths).flatMap(([routePath, item]) =>
    ['get', 'post', 'put', 'patch', 'delete']
      .filter((method) => item[method])
      .map((method) => ({
        method,
        path: routePath,
        parameters: item[method].parameters ?? [],
        requestBody: item[method].requestBody,
      })),
  );
}

/**
 * One request on its own connection (node:http, no agent): workerd closes a connection whose
 * request body it did not read (a 401 or 413 before the body), and a keep-alive client that had
 * already sent the next request on it would see that as the next request failing.
 */
function call(url, request, credentials) {
  const headers = { ...request.headers };
  if (credentials[request.identity]) headers.authorization = `Bearer ${credentials[request.identity]}`;
  const body = request.body === undefined ? undefined : Buffer.from(request.body);
  if (body) headers['content-length'] = String(body.length);
  return new Promise((resolve, reject) => {
    const outgoing = http.request(url + request.path, { method: request.method, headers, agent: false }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let code = '';
        try {
          code = JSON.parse(text).code ?? '';
        } catch {
          /* not JSON */
        }
        resolve({ status: response.statusCode, code, text });
      });
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/** As the owner, through the API: an admin, two members to remove, an API key with every scope; the ids to aim at. */
async function prepare(url, orgId, owner, operations, sign) {
  const api = async (method, route, body) => {
    const response = await fetch(`${url}${route}`, {
      method,
      headers: { authorization: `Bearer ${owner}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body && JSON.stringify(body),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(`${method} ${route} answered ${response.status}: ${JSON.stringify(answer)}`);
    return answer;
  };
  const base = `/v1/orgs/${orgId}`;
  await api('POST', `${base}/members`, { email: 'fuzz-admin@acme.test', role: 'admin' });
  const victims = [];
  for (const n of [1, 2])
    victims.push(
      (await api('POST', `${base}/members`, { email: `fuzz-victim-${n}@acme.test`, role: 'member' })).user_id,
    );
  const scopes = [...new Set(operations.map((op) => op.permission).filter(Boolean))].sort();
  const key = await api('POST', `${base}/api-keys`, { name: 'fuzz', scopes });
  const credentials = {
    owner,
    admin: sign('fuzz-admin@acme.test'),
    member: sign('bob@acme.test'),
    viewer: sign('vic@acme.test'),
    api_key: key.key,
    none: undefined,
  };
  // Ids of the organization's rows, from its lists (the fuzz's own key is not one to revoke).
  const ids = new Set();
  const slugs = new Set();
  for (const op of operations.filter((o) => o.method === 'get' && /^\/v1\/orgs\/\{org\}\/[a-z-]+$/.test(o.path))) {
    const response = await fetch(`${url}${op.path.replace('{org}', orgId)}?limit=100`, {
      headers: { authorization: `Bearer ${owner}` },
    });
    const answer = response.headers.get('content-type')?.includes('json') ? await response.json() : {};
    for (const row of answer.data ?? []) {
      if (row.id && row.id !== key.id && !row.user_id) ids.add(row.id);
      if (row.slug) slugs.add(row.slug);
    }
  }
  return { credentials, pools: { orgId, victims, ids: [...ids].sort(), slugs: [...slugs].sort() } };
}

async function main() {
  devSetup();
  const outdir = mkdtempSync(path.join(tmpdir(), 'strive-fuzz-'));
  const workers = [];
  const outbound = [];
  try {
    console.log('Bundle (wrangler deploy --dry-run)');
    const scriptPath = buildBundle(outdir);
    const { mf, url } = await startOnCopy(scriptPath, outdir, 'fuzz', workers, {
      // No provider, Stripe or other host is ever called: no keys, and every outbound fetch refused here.
      vars: {
        OPENAI_API_KEY: '',
        ANTHROPIC_API_KEY: '',
        GEMINI_API_KEY: '',
        STRIPE_SECRET_KEY: '',
        AI_LOCAL_DELTA_MS: '0',
      },
      outbound: (request) => {
        outbound.push(request.url);
        return new Response('fuzz: no network', { status: 503 });
      },
    });
    await liftQuotas(mf, ORG);
    const org = await seededOrganization(mf, ORG);
    console.log(`Worker on ${url}; D1 state: ${org.description}`);

    const document = await (await fetch(`${url}/openapi.json`)).json();
    components = document.components?.schemas ?? {};
    const operations = operationsOf(document).map((op) => ({
      ...op,
      permission: document.paths[op.path][op.method]['x-permission'],
    }));
    const privateKeyPem = readFileSync(DEV_PRIVATE_KEY_PATH, 'utf8');
    const sign = (email) => signDevToken({ privateKeyPem, email, ttl: SECONDS + 600 });
    const { credentials, pools } = await prepare(url, org.id, sign('alice@acme.test'), operations, sign);
    console.log(
      `${operations.length} operations; ${pools.ids.length} ids, ${pools.victims.length} members to aim at; seed ` +
        `${SEED}, ${REQUESTS} requests, ${CONCURRENCY} at a time, at most ${SECONDS} s`,
    );

    const byStatus = new Map();
    const failures = [];
    let sent = 0;
    let next = 0;
    const started = Date.now();
    const deadline = started + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < REQUESTS && Date.now() < deadline) {
          const request = buildRequest(next++, operations, pools);
          let answer;
          try {
            answer = await call(url, request, credentials);
          } catch (error) {
            answer = { status: 'network error', code: '', text: `${error}${error.cause ? ` (${error.cause})` : ''}` };
          }
          sent++;
          const label = `${answer.status}${answer.code ? ` ${answer.code}` : ''}`;
          byStatus.set(label, (byStatus.get(label) ?? 0) + 1);
          const expected = answer.status === 503 && answer.code === 'not_configured';
          if ((answer.status === 'network error' || answer.status >= 500) && !expected)
            failures.push({ request, answer });
          if (sent % 500 === 0) console.log(`  ${sent} sent, ${failures.length} failures`);
        }
      }),
    );

    console.log(
      `\n${sent} requests in ${((Date.now() - started) / 1000).toFixed(0)} s (seed ${SEED}), by status and code:`,
    );
    for (const [label, count] of [...byStatus].sort(([a], [b]) => String(a).localeCompare(String(b))))
      console.log(`  ${label.padEnd(36)} ${count}`);
    if (outbound.length > 0)
      console.log(`\nOutbound fetches refused (never sent): ${outbound.length}, e.g. ${outbound[0]}`);
    for (const { request, answer } of failures) {
      const body = request.body instanceof Uint8Array ? `<${request.body.length} bytes>` : request.body?.slice(0, 600);
      console.error(
        `\n!! #${request.n} ${request.route} as ${request.identity} → ${answer.status}\n   ${request.method} ` +
          `${request.path.slice(0, 600)}` +
          `\n   headers ${JSON.stringify(request.headers)}${body !== undefined ? `\n   body ${body}` : ''}\n   ` +
          `answer ${answer.text.slice(0, 600)}`,
      );
    }
    if (failures.length > 0) {
      console.error(
        `\n!! ${failures.length} requests answered 5xx (503 not_configured aside). Replay one with FUZZ_SEED=${SEED}.`,
      );
      process.exitCode = 1;
    } else if (sent < REQUESTS) {
      console.error(`\n!! Only ${sent} of ${REQUESTS} requests were sent within FUZZ_SECONDS=${SECONDS}.`);
      process.exitCode = 1;
    } else {
      console.log('\nNo 5xx.');
    }
  } finally {
    await Promise.all(workers.map((worker) => worker.dispose()));
    rmSync(outdir, { recursive: true, force: true });
  }
}

// Bounded: the run stops sending at FUZZ_SECONDS; past that and a margin for setup, give up.
await runBounded('fuzz', main, (SECONDS + 300) * 1000);
