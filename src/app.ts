// The Hono app: the root's middleware, the sub-apps each with its pipeline, one registration per module.
import { Scalar } from '@scalar/hono-api-reference';
import { HTTPException } from 'hono/http-exception';
import { cors } from 'hono/cors';
import { requestId } from 'hono/request-id';
import { secureHeaders } from 'hono/secure-headers';
import { authenticate } from './auth/credentials';
import { resolveTenant } from './auth/tenant';
import type { AdminEnv, Bindings, TenantEnv, UserEnv } from './env';
import { ApiError, problemBody, problemHeaders, type ErrorCode } from './lib/problem';
import { asApiError } from './db/errors';
import { newApp } from './lib/openapi';
import { uuidv7 } from './lib/ids';
import { limitFailedAuthentication, limitPublicByClient } from './middleware/client-limits';
import { rateLimit } from './middleware/rate-limit';
import { BOOKMARK_HEADER, CONSISTENCY_HEADER, d1Sessions } from './middleware/d1-sessions';
import { auditPlatformAccess } from './modules/activity/platform-access';
import { registerActivityRoutes } from './modules/activity/routes';
import { registerApiKeyRoutes } from './modules/api-keys/routes';
import { meterApiCalls } from './modules/usage/metering';
import { registerAppointmentRoutes } from './modules/appointments/routes';
import { registerCustomerRoutes } from './modules/customers/routes';
import { registerMeRoutes } from './modules/me/routes';
import { registerMemberRoutes } from './modules/members/routes';
import { registerOrganizationRoutes } from './modules/organizations/routes';
import { registerPlatformRoutes } from './modules/platform/routes';
import { registerTaskRoutes } from './modules/tasks/routes';
import { registerProjectRoutes } from './modules/projects/routes';
import { registerClerkWebhook } from './modules/webhooks/clerk';
import { registerStripeWebhook } from './modules/webhooks/stripe';
import { registerBillingRoutes } from './modules/billing/routes';
import { registerUsageRoutes } from './modules/usage/routes';
import { registerAssetRoutes } from './modules/assets/routes';
import { registerContentRoutes } from './modules/content/routes';
import { registerPublicContentRoutes } from './modules/content/public-routes';
import { registerConversationRoutes } from './modules/conversations/routes';
import { registerAiToolRoutes } from './modules/ai-tools/routes';
import { registerConsoleRoutes } from './modules/console/routes';
import { registerWebhookEndpointRoutes } from './modules/outbound-webhooks/routes';
import { drainAfterWrites } from './modules/outbound-webhooks/delivery';
import { arrived } from './realtime/beside';

const HTTP_EXCEPTION_CODES: Record<number, ErrorCode> = {
  400: 'invalid_request',
  401: 'unauthenticated',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

const corsFrom = (origin: NonNullable<Parameters<typeof cors>[0]>['origin']) =>
  cors({
    origin,
    allowHeaders: [
      'authorization',
      'content-type',
      'idempotency-key',
      'if-none-match',
      'x-request-id',
      BOOKMARK_HEADER,
      CONSISTENCY_HEADER,
    ],
    allowMethods: ['GET', 'POST', 'PATCH', 'PUT', 'DELETE', 'OPTIONS'],
    // Range answers and the public cache's hit/miss are read by embeds on other origins too.
    exposeHeaders: [
      'x-request-id',
      'retry-after',
      'etag',
      'idempotent-replayed',
      'x-d1-round-trips',
      'x-d1-far-hops',
      'x-d1-instances',
      'content-range',
      'accept-ranges',
      'x-cache',
      BOOKMARK_HEADER,
    ],
    maxAge: 86_400,
  });
/** The API browsers call with credentials: the configured origins (CORS_ORIGINS). */
const apiCors = corsFrom((origin, c) => {
  const allowed = (c.env as Bindings).CORS_ORIGINS.split(',').map((o: string) => o.trim());
  return allowed.includes('*') ? '*' : allowed.includes(origin) ? origin : null;
});

/**
 * The request's pipeline is chosen by the sub-app that owns its path, never by a regex. Each
 * sub-app is an OpenAPIHono with its own Env type (src/env.ts), so a route reads only what its
 * pipeline set: `c.get('tenant')` exists on the tenant app alone. Sub-apps are mounted at `/` and
 * their routes keep their full paths (`/v1/orgs/{org}/projects`), as the API page lists them,
 * rather than `app.route('/v1/orgs/:org', …)` prefixes that would leave `/projects` in each route
 * file. Each chain is registered on the paths its app serves, before its routes. Per route
 * (defineRoute): the JSON body limit and, on authenticated routes, the Idempotency-Key, which the
 * asset upload (`streamsBody`) skips.
 *
 * `beside`: the app as an organization's writer object runs it (realtime/beside.ts): the same routes,
 * with what the Worker established (the arrival) in place of the Worker's chains.
 */
export function createApp({ beside = false }: { beside?: boolean } = {}) {
  const app = newApp();
  app.use(requestId({ generator: () => uuidv7() }));
  // The defaults for every answer; a sub-app's own (the public app's cross-origin CORP) are kept.
  app.use(secureHeaders({ overwrite: false }));

  // After CORS: a malformed Strive-Bookmark's 400 is readable by the browser that sent it.
  const browserApi = beside ? [arrived] : [apiCors, d1Sessions({ cookie: true })];
  // Every failed authentication (a 401 below) counts against the client's address.
  const authenticated = beside ? browserApi : [...browserApi, limitFailedAuthentication, authenticate, rateLimit];

  // Embeddable from any site: CORS `*`, Cross-Origin-Resource-Policy `cross-origin`, no cookie, a per-address limit.
  const publicApp = newApp();
  for (const path of ['/v1/public/*', '/embed.js']) {
    publicApp.use(
      path,
      secureHeaders({ crossOriginResourcePolicy: 'cross-origin' }),
      corsFrom('*'),
      d1Sessions({ cookie: false }),
      limitPublicByClient,
    );
  }
  // Signed by their sender, checked by each route: no bearer, no cookie.
  const webhooksApp = newApp();
  webhooksApp.use('/v1/webhooks/*', ...(beside ? [arrived] : [apiCors, d1Sessions({ cookie: false })]));
  // Authenticated, outside any organization. Platform-staff routes are its admin sub-app.
  const userApp = newApp<UserEnv>();
  for (const path of ['/v1/me', '/v1/orgs', '/v1/admin/*', '/v1/ai-tools/*']) userApp.use(path, ...authenticated);
  const adminApp = newApp<AdminEnv>();
  // One organization's: authenticate → rate limit → resolve tenant → meter → signal the webhook
  // outbox after a write (→ idempotency, per route).
  // Also matches /v1/orgs/:org itself (Hono's trailing /* is optional).
  const tenantApp = newApp<TenantEnv>();
  if (beside) tenantApp.use('/v1/orgs/:org/*', arrived);
  else
    tenantApp.use(
      '/v1/orgs/:org/*',
      ...authenticated,
      resolveTenant,
      auditPlatformAccess,
      meterApiCalls,
      drainAfterWrites,
    );

  registerPlatformRoutes(app, adminApp);
  registerMeRoutes(userApp);
  registerOrganizationRoutes(userApp, tenantApp);
  registerMemberRoutes(tenantApp);
  registerApiKeyRoutes(tenantApp);
  registerActivityRoutes(tenantApp);
  registerCustomerRoutes(tenantApp);
  registerProjectRoutes(tenantApp);
  registerTaskRoutes(tenantApp);
  registerBillingRoutes(tenantApp);
  registerUsageRoutes(tenantApp);
  registerAppointmentRoutes(tenantApp);
  registerContentRoutes(tenantApp);
  registerAssetRoutes(tenantApp, publicApp);
  registerPublicContentRoutes(publicApp);
  registerConversationRoutes(tenantApp);
  registerAiToolRoutes(userApp, adminApp, tenantApp);
  registerWebhookEndpointRoutes(tenantApp);
  registerClerkWebhook(webhooksApp);
  registerStripeWebhook(webhooksApp);

  // The admin routes after the user app's chain, which runs on their paths too.
  userApp.route('/', adminApp);
  app.route('/', publicApp).route('/', webhooksApp).route('/', userApp).route('/', tenantApp);

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'A Clerk session JWT, or an organization API key (`stk_…`).',
  });
  let document: ReturnType<typeof app.getOpenAPI31Document> | undefined;
  app.get('/openapi.json', (c) =>
    // Built once per isolate, on first request: not per request, not at start-up.
    c.json(
      (document ??= app.getOpenAPI31Document({
        openapi: '3.1.0',
        info: {
          title: 'Strive API',
          version: '1.0.0',
          description:
            'Multi-tenant SaaS backend on one Cloudflare Worker. Errors are RFC 9457 problem+json. ' +
            'Reads come from a nearby database replica, at most its replication lag behind: send back the `Strive-Bookmark` ' +
            'of a response (header; browsers: the cookie it sets) to read at least that state, your own writes included, ' +
            'or `Strive-Consistency: primary` for the latest state.',
        },
      })),
    ),
  );
  app.get('/docs', Scalar({ url: '/openapi.json', pageTitle: 'Strive API reference' }));
  registerConsoleRoutes(app);

  app.notFound((c) => {
    const error = new ApiError('not_found', `No route for ${c.req.method} ${c.req.path}.`);
    return c.newResponse(JSON.stringify(problemBody(error, c.get('requestId'))), 404, {
      'content-type': 'application/problem+json',
    });
  });

  app.onError((err, c) => {
    // As thrown; a move's fence that refused a write, whatever path it took (a service, an object): 503 `moving`.
    let error = asApiError(err);
    if (error === null && err instanceof HTTPException && HTTP_EXCEPTION_CODES[err.status]) {
      const detail = err.message || 'The request was refused.';
      // A 400 from the body parser (malformed JSON) names the body, as every 400 names its field.
      error = new ApiError(
        HTTP_EXCEPTION_CODES[err.status]!,
        detail,
        err.status === 400 ? [{ path: 'body', message: detail }] : undefined,
      );
    } else if (error === null) {
      // Log the whole error with the request id; answer without any of it.
      console.error(`request ${c.get('requestId')} failed:`, err);
      error = new ApiError('internal', 'Something went wrong on our side. Quote the request id when reporting it.');
    }
    return c.newResponse(
      JSON.stringify(problemBody(error, c.get('requestId'))),
      error.status as 400,
      problemHeaders(error),
    );
  });

  return app;
}
