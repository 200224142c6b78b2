// The Hono app: middleware in the order a request meets it, then one registration per module.
import { Scalar } from '@scalar/hono-api-reference';
import { HTTPException } from 'hono/http-exception';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { requestId } from 'hono/request-id';
import { secureHeaders } from 'hono/secure-headers';
import { authenticate } from './auth/credentials';
import { resolveTenant } from './auth/tenant';
import { ApiError, problemBody, problemHeaders, type ErrorCode } from './lib/problem';
import { newApp } from './lib/openapi';
import { uuidv7 } from './lib/ids';
import { limitFailedAuthentication, limitPublicByClient } from './middleware/client-limits';
import { idempotency } from './middleware/idempotency';
import { rateLimit } from './middleware/rate-limit';
import { BOOKMARK_HEADER, CONSISTENCY_HEADER, d1Sessions } from './middleware/d1-sessions';
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

const JSON_BODY_LIMIT = 1024 * 1024;
/** Routes that authenticate by other means (signatures) or not at all. */
const UNAUTHENTICATED = /^\/v1\/(webhooks|public)\//;
/** Embeddable from any site: CORS `*` and Cross-Origin-Resource-Policy `cross-origin`. */
const EMBEDDABLE = /^(\/v1\/public\/|\/embed\.js$)/;
/**
 * The asset upload streams its body (≤ 25 MB, counted by the service) instead of meeting the
 * 1 MB JSON limit, and takes no Idempotency-Key (that would buffer the file to hash it).
 */
const isAssetUpload = (method: string, path: string) => method === 'POST' && /^\/v1\/orgs\/[^/]+\/assets$/.test(path);

const HTTP_EXCEPTION_CODES: Record<number, ErrorCode> = {
  400: 'invalid_request',
  401: 'unauthenticated',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

export function createApp() {
  const app = newApp();

  app.use(requestId({ generator: () => uuidv7() }));
  const sameOriginHeaders = secureHeaders();
  const embeddableHeaders = secureHeaders({ crossOriginResourcePolicy: 'cross-origin' });
  app.use((c, next) => (EMBEDDABLE.test(c.req.path) ? embeddableHeaders(c, next) : sameOriginHeaders(c, next)));
  app.use(
    '/v1/*',
    cors({
      origin: (origin, c) => {
        if (EMBEDDABLE.test(c.req.path)) return '*';
        const allowed = c.env.CORS_ORIGINS.split(',').map((o: string) => o.trim());
        return allowed.includes('*') ? '*' : allowed.includes(origin) ? origin : null;
      },
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
        'x-d1-instances',
        'content-range',
        'accept-ranges',
        'x-cache',
        BOOKMARK_HEADER,
      ],
      maxAge: 86_400,
    }),
  );
  // After CORS: a malformed Strive-Bookmark's 400 is readable by the browser that sent it.
  app.use(d1Sessions);
  const jsonBodyLimit = bodyLimit({
    maxSize: JSON_BODY_LIMIT,
    onError: () => {
      throw new ApiError('payload_too_large', `JSON bodies are limited to ${JSON_BODY_LIMIT} bytes.`);
    },
  });
  app.use('/v1/*', (c, next) => (isAssetUpload(c.req.method, c.req.path) ? next() : jsonBodyLimit(c, next)));
  // Per client address: every public request, every failed authentication (a 401 below).
  app.use('/v1/public/*', limitPublicByClient);
  app.use('/embed.js', limitPublicByClient);
  app.use('/v1/*', (c, next) => (UNAUTHENTICATED.test(c.req.path) ? next() : limitFailedAuthentication(c, next)));
  app.use('/v1/*', (c, next) => (UNAUTHENTICATED.test(c.req.path) ? next() : authenticate(c, next)));
  app.use('/v1/*', (c, next) => (UNAUTHENTICATED.test(c.req.path) ? next() : rateLimit(c, next)));
  // Also matches /v1/orgs/:org itself (Hono's trailing /* is optional).
  app.use('/v1/orgs/:org/*', resolveTenant);
  app.use('/v1/orgs/:org/*', meterApiCalls);
  app.use('/v1/orgs/:org/*', drainAfterWrites);
  app.use('/v1/*', (c, next) =>
    UNAUTHENTICATED.test(c.req.path) || isAssetUpload(c.req.method, c.req.path) ? next() : idempotency(c, next),
  );

  registerPlatformRoutes(app);
  registerMeRoutes(app);
  registerOrganizationRoutes(app);
  registerMemberRoutes(app);
  registerApiKeyRoutes(app);
  registerActivityRoutes(app);
  registerCustomerRoutes(app);
  registerProjectRoutes(app);
  registerTaskRoutes(app);
  registerBillingRoutes(app);
  registerUsageRoutes(app);
  registerAppointmentRoutes(app);
  registerContentRoutes(app);
  registerAssetRoutes(app);
  registerPublicContentRoutes(app);
  registerConversationRoutes(app);
  registerAiToolRoutes(app);
  registerWebhookEndpointRoutes(app);
  registerClerkWebhook(app);
  registerStripeWebhook(app);

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
    let error: ApiError;
    if (err instanceof ApiError) {
      error = err;
    } else if (err instanceof HTTPException && HTTP_EXCEPTION_CODES[err.status]) {
      const detail = err.message || 'The request was refused.';
      // A 400 from the body parser (malformed JSON) names the body, as every 400 names its field.
      error = new ApiError(
        HTTP_EXCEPTION_CODES[err.status]!,
        detail,
        err.status === 400 ? [{ path: 'body', message: detail }] : undefined,
      );
    } else {
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
