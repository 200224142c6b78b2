// Requests run beside their data: the Worker (near the client) hands a write of several round trips
// to its organization's ORGANIZATION_WRITER, placed at the organization's shard, which runs the
// same route there; the Worker makes one far hop, the object's D1 trips are local to the data.
//
// The Worker does what it does for every request first (authentication, rate limit, access,
// the move fence, metering, the route's permission), then hands the request on with what it
// established (the arrival). The object runs the Worker's own app in its `beside` form
// (app.ts): the arrival stands in for that chain, and the route's idempotency, validation and
// handler run as they would in the Worker, every query on the primary. Its D1 work comes back
// with the answer and counts as the request's (D1Sessions.absorb), bookmarks included; the
// access changes it made are forgotten in the Worker's isolate and location too.
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { accessChangesOf, forgetAccess, type AccessChange } from '../auth/access-cache';
import { fromPortable, toPortable, type PortableContext } from '../auth/tenant';
import { placedObject, type Placed } from '../db/places';
import { D1Sessions, type D1Report } from '../db/sessions';
import type { AppEnv, Credentials, TenantEnv } from '../env';

/** What the Worker established about the request: its credentials and, on a tenant route, its context. */
type Arrival = { credentials?: Credentials; tenant?: PortableContext };
type Answer = D1Report & { accessChanges: AccessChange[] };

const ARRIVAL_HEADER = 'x-strive-arrival';
const ANSWER_HEADER = 'x-strive-beside';

/**
 * The Worker's side: `c`'s request, run by the writer of the organization `place` describes
 * (`name`: its id), and its answer. `streams`: the body is streamed on (an upload), not read first.
 */
export async function handOff<E extends AppEnv>(
  c: Context<E>,
  place: Placed,
  name: string,
  { streams = false, ...arrival }: Arrival & { streams?: boolean } = {},
) {
  const d1 = c.var.d1;
  const headers = new Headers(c.req.raw.headers);
  headers.set(ARRIVAL_HEADER, JSON.stringify(arrival));
  headers.set('x-request-id', c.var.requestId);
  const bodiless = c.req.method === 'GET' || c.req.method === 'HEAD';
  const declared = Number(c.req.header('content-length') ?? NaN);
  const sized = streams && Number.isSafeInteger(declared) && declared >= 0;
  const body = bodiless ? undefined : streams ? streamOn(c.req.raw.body, sized ? declared : null) : await c.req.text();
  if (!sized) headers.delete('content-length'); // the text's own is set; a stream of no declared length has none
  const writer = placedObject(c.env, c.env.ORGANIZATION_WRITER, place, name);
  const response = await writer.fetch(new Request(c.req.url, { method: c.req.method, headers, body }));
  const answer = JSON.parse(response.headers.get(ANSWER_HEADER) ?? 'null') as Answer | null;
  // A hop made whatever came back: an object that failed before any D1 work still cost one.
  d1.absorb(answer ?? { trips: [], bookmarks: {} });
  for (const change of answer?.accessChanges ?? []) await forgetAccess(d1, change);
  const answered = new Headers(response.headers);
  answered.delete(ANSWER_HEADER);
  return new Response(response.body, { status: response.status, headers: answered });
}

/**
 * The body, streamed on at its declared length; one of no declared length is not handed on (an
 * upload is refused unread without one). The writer may answer before reading it all (a refusal:
 * too large, over the quota): what is left is dropped there, which is no error here.
 */
function streamOn(body: ReadableStream | null, length: number | null): ReadableStream | null {
  if (!body || length === null) return null;
  const { readable, writable } = new FixedLengthStream(length);
  body.pipeTo(writable).catch(() => undefined);
  return readable;
}

/** A tenant request's writer: its organization's, placed at its shard. */
export const handOffTenant = (c: Context<TenantEnv>, streams: boolean) => {
  const tenant = c.get('tenant');
  return handOff(c, tenant.organization, tenant.organization.id, {
    streams,
    credentials: c.get('credentials'),
    tenant: toPortable(tenant),
  });
};

/**
 * The object's side, in place of the Worker's chain: the arrival's credentials and context, D1
 * sessions on the primary, and the D1 work and access changes handed back with the answer. Only
 * the Worker reaches the object (through its binding), so the arrival is the Worker's word.
 */
export const arrived = createMiddleware<{
  Bindings: AppEnv['Bindings'];
  Variables: AppEnv['Variables'] & Partial<TenantEnv['Variables']>;
}>(async (c, next) => {
  const arrival = JSON.parse(c.req.header(ARRIVAL_HEADER) ?? 'null') as Arrival | null;
  if (!arrival) return c.text('expected a request from the Worker', 400);
  const d1 = D1Sessions.primary(c.env);
  c.set('d1', d1);
  c.set('beside', true);
  if (arrival.credentials) c.set('credentials', arrival.credentials);
  if (arrival.tenant)
    c.set(
      'tenant',
      fromPortable(c.env, d1, arrival.tenant, (p) => c.executionCtx.waitUntil(p)),
    );
  await next();
  const answer: Answer = { ...d1.report(), accessChanges: accessChangesOf(d1) };
  c.header(ANSWER_HEADER, JSON.stringify(answer));
});
