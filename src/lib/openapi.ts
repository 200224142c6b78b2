// Every router is made here, so no route can forget error shaping: one validation hook that
// reports every zod issue, one problem schema, the bearer security scheme and the standard error
// responses added to each route definition.
import { createRoute, OpenAPIHono, z, type RouteConfig } from '@hono/zod-openapi';
import type { Env, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { routePath } from 'hono/route';
import type { AdminEnv, AppEnv, TenantEnv, UserEnv } from '../env';
import { requirePermission } from '../auth/tenant';
import type { Permission } from '../auth/permissions';
import { idempotency, MUTATIONS } from '../middleware/idempotency';
import { handOffTenant } from '../realtime/beside';
import { ApiError, ERROR_CODES, invalidFrom, notFound, type ErrorCode } from './problem';

/** The root, public and webhooks apps. */
export type App = OpenAPIHono<AppEnv>;
export type UserApp = OpenAPIHono<UserEnv>;
export type AdminApp = OpenAPIHono<AdminEnv>;
export type TenantApp = OpenAPIHono<TenantEnv>;

export function newApp<E extends Env = AppEnv>(): OpenAPIHono<E> {
  return new OpenAPIHono<E>({
    defaultHook: (result, c) => {
      if (result.success) return;
      // A path that names no resource is a 404 like a well-formed unknown id: no field named.
      if (result.target === 'param') {
        const param = result.error.issues[0]?.path[0];
        throw notFound(resourceNamedBy(routePath(c), String(param)));
      }
      throw invalidFrom(
        result.error,
        `The request ${result.target === 'json' ? 'body' : result.target} is invalid.`,
        result.target,
      );
    },
  });
}

/**
 * The noun a service's notFound uses for the row a path parameter names: the collection segment
 * before it, singular (`/customers/:id` → customer), except where the service says otherwise.
 */
const RESOURCE_NOUNS: Record<string, string> = {
  orgs: 'organization',
  public: 'organization',
  'api-keys': 'API key',
  'ai-tools': 'tool',
  deliveries: 'delivery',
};

function resourceNamedBy(path: string, param: string): string {
  const segments = path.split('/');
  const collection = segments[segments.indexOf(`:${param}`) - 1];
  if (!collection) return 'resource';
  return RESOURCE_NOUNS[collection] ?? collection.replace(/s$/, '');
}

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    code: z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]),
    detail: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    request_id: z.string(),
  })
  .openapi('Problem');

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ProblemSchema } },
});

const STANDARD_ERRORS = {
  400: problem('Invalid request: `errors` lists every invalid field.'),
  401: problem('No, bad or expired credentials.'),
  403: problem('The actor lacks the permission this route names in `x-permission`.'),
  404: problem('Unknown resource, or an organization the actor is not in.'),
  429: problem('Rate limited; see `Retry-After`.'),
  500: problem('Internal error (never a stack trace).'),
} as const;

export const WRITE_ERRORS = {
  409: problem('Conflict (slug taken, stale version, last owner, idempotency key reused).'),
  413: problem('Body over 1 MB.'),
  415: problem('Body is not JSON.'),
} as const;

type RouteSpec<P extends string> = Omit<RouteConfig, 'path'> & {
  path: P;
  /**
   * The permission this route needs, checked before the input is validated (so a caller without
   * it learns nothing about the input) and documented as `x-permission`, which the shared
   * security suite reads. Services check again: they are called from elsewhere too.
   */
  permission?: Permission;
  /** A path parameter naming a user: acting on oneself needs no permission (leaving an org). */
  selfParam?: string;
  /** No authentication (health, docs, public content, signature-verified webhooks). */
  public?: boolean;
  /**
   * Its success answer carries a secret shown once (an API key, a feed token, a webhook secret): an Idempotency-Key
   * does not keep it, and a repeat is answered 409 instead of with the secret again.
   */
  issuesSecret?: boolean;
  /**
   * Its body streams (the asset upload: ≤ 25 MB, counted by its service) instead of meeting the
   * JSON body limit, and it takes no Idempotency-Key (hashing the body would buffer the file).
   */
  streamsBody?: boolean;
  /**
   * A write of several round trips: run by the organization's writer object, beside its data, so
   * it costs one far hop (realtime/beside.ts). Any tenant write sent with an Idempotency-Key goes
   * there too (its claim and its answer are catalog writes around the route's own).
   */
  beside?: boolean;
};

export function defineRoute<P extends string, R extends RouteSpec<P>>(spec: R) {
  const { permission, selfParam, public: isPublic, issuesSecret, streamsBody, beside, ...route } = spec;
  const isWrite = route.method !== 'get' && route.method !== 'head';
  const limit = streamsBody ? [] : [jsonBodyLimit];
  // An Idempotency-Key belongs to the credential that sent it: authenticated routes only. It is
  // claimed where the route runs: after the hand-off to the writer, inside it.
  const idempotent = streamsBody || isPublic ? [] : [idempotency];
  const handOff = isPublic || !isWrite ? [] : [besideWhere(beside === true, streamsBody === true)];
  const guard = permission ? [permissionGuard(permission, selfParam)] : [];
  const secret = issuesSecret ? [markIssuesSecret] : [];
  const optionalBody = route.request?.body?.required === false ? [emptyBodyIsNone] : [];
  return createRoute({
    ...route,
    middleware: [
      ...limit,
      ...secret,
      ...guard,
      ...handOff,
      ...idempotent,
      ...optionalBody,
      ...[route.middleware ?? []].flat(),
    ],
    ...(isPublic ? {} : { security: [{ bearer: [] }] }),
    ...(permission ? { 'x-permission': permission } : {}),
    ...(issuesSecret ? { 'x-issues-secret': true } : {}),
    responses: { ...STANDARD_ERRORS, ...(isWrite ? WRITE_ERRORS : {}), ...route.responses },
  } as unknown as R);
}

const JSON_BODY_LIMIT = 1024 * 1024;
const jsonBodyLimit = bodyLimit({
  maxSize: JSON_BODY_LIMIT,
  onError: () => {
    throw new ApiError('payload_too_large', `JSON bodies are limited to ${JSON_BODY_LIMIT} bytes.`);
  },
});

/**
 * A tenant write declared `beside`, or sent with an Idempotency-Key, is handed to its
 * organization's writer (after the Worker's chain and the permission check); inside it, it runs on.
 */
const besideWhere =
  (beside: boolean, streams: boolean): MiddlewareHandler<TenantEnv> =>
  async (c, next) => {
    const keyed = MUTATIONS.has(c.req.method) && c.req.header('idempotency-key') !== undefined;
    if (c.get('beside') || c.get('tenant') === undefined || !(beside || keyed)) return next();
    return handOffTenant(c, streams);
  };

const markIssuesSecret: MiddlewareHandler<AppEnv> = async (c, next) => {
  c.set('issuesSecret', true);
  await next();
};

function permissionGuard(permission: Permission, selfParam: string | undefined): MiddlewareHandler<TenantEnv> {
  return async (c, next) => {
    const ctx = c.get('tenant');
    // Only a signed-in user acts on themselves; their API key acts within its scopes.
    const self = ctx.actor.type === 'user' && selfParam !== undefined && c.req.param(selfParam) === ctx.actor.user.id;
    if (!self) requirePermission(ctx, permission);
    await next();
  };
}

export const jsonBody = <T extends z.ZodTypeAny>(schema: T) => ({
  required: true,
  content: { 'application/json': { schema } },
});

/** A JSON body that may be left out (`{}` then). */
export const optionalJsonBody = <T extends z.ZodTypeAny>(schema: T) => ({ ...jsonBody(schema), required: false });

/**
 * An optional body sent empty with a JSON Content-Type (as many HTTP clients do for a bodiless
 * POST) is no body, not malformed JSON: the validator then reads `{}`. Without a Content-Type the
 * validator takes `{}` itself, and the body must stay as sent: the media-type check reads it to
 * refuse (415) a body without a type, and `{}` put in its place was such a body.
 */
const emptyBodyIsNone: MiddlewareHandler<AppEnv> = async (c, next) => {
  // What c.req.json() parses; hono keeps promises in the cache (its type says the value).
  if (c.req.header('content-type') && (await c.req.text()) === '')
    c.req.bodyCache.text = Promise.resolve('{}') as unknown as string;
  await next();
};

export const json = <T extends z.ZodTypeAny>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

export const noContent = { description: 'Done; no body.' } as const;

/** `{org}`: an organization's id or its slug. */
export const OrgParam = z
  .string()
  .min(1)
  .max(64)
  .openapi({ description: "The organization's id or slug", example: 'acme' });
