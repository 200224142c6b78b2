import { z } from '@hono/zod-openapi';
import type { Bindings } from '../../env';
import { defineRoute, json, jsonBody, noContent, OrgParam, type TenantApp } from '../../lib/openapi';
import { pageOf, pageQuery } from '../../lib/pagination';
import {
  DeliveryListQuery,
  DeliveryParams,
  EndpointParams,
  ReplayRequest,
  ReplayResult,
  WebhookDeliverySchema,
  WebhookEndpointCreate,
  WebhookEndpointSchema,
  WebhookEndpointPatch,
  WebhookEndpointWithSecret,
} from './schemas';
import {
  createEndpoint,
  deleteEndpoint,
  getEndpoint,
  listDeliveries,
  listEndpoints,
  replayEvents,
  retryDelivery,
  rotateSecret,
  testEndpoint,
  updateEndpoint,
  type Delivery,
} from './service';

const tags = ['Webhooks'];
const permission = 'webhooks:manage' as const;
const delivery = (c: { env: Bindings }): Delivery => ({
  queue: c.env.WEBHOOKS_QUEUE,
  devReceiver: c.env.WEBHOOKS_DEV_RECEIVER || undefined,
});

export function registerWebhookEndpointRoutes(app: TenantApp) {
  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/webhooks',
      tags,
      summary: 'List webhook endpoints (never their secrets)',
      permission,
      request: { params: z.object({ org: OrgParam }), query: z.object(pageQuery) },
      responses: { 200: json(pageOf(WebhookEndpointSchema), 'A page of endpoints, newest first') },
    }),
    async (c) => c.json(await listEndpoints({ ctx: c.get('tenant'), input: c.req.valid('query') }), 200),
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/orgs/{org}/webhooks',
      tags,
      summary: 'Add a webhook endpoint; its signing secret is in this answer only',
      permission,
      issuesSecret: true,
      request: { params: z.object({ org: OrgParam }), body: jsonBody(WebhookEndpointCreate) },
      responses: { 201: json(WebhookEndpointWithSecret, 'The endpoint, with its secret') },
    }),
    async (c) =>
      c.json(await createEndpoint({ ctx: c.get('tenant'), input: c.req.valid('json'), delivery: delivery(c) }), 201),
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/webhooks/{id}',
      tags,
      summary: 'A webhook endpoint',
      permission,
      request: { params: EndpointParams },
      responses: { 200: json(WebhookEndpointSchema, 'The endpoint') },
    }),
    async (c) => c.json(await getEndpoint({ ctx: c.get('tenant'), id: c.req.valid('param').id }), 200),
  );

  app.openapi(
    defineRoute({
      method: 'patch',
      path: '/v1/orgs/{org}/webhooks/{id}',
      tags,
      summary: 'Change a webhook endpoint: URL, event types, description, paused or active',
      permission,
      request: { params: EndpointParams, body: jsonBody(WebhookEndpointPatch) },
      responses: { 200: json(WebhookEndpointSchema, 'The endpoint') },
    }),
    async (c) =>
      c.json(
        await updateEndpoint({
          ctx: c.get('tenant'),
          id: c.req.valid('param').id,
          input: c.req.valid('json'),
          delivery: delivery(c),
        }),
        200,
      ),
  );

  app.openapi(
    defineRoute({
      method: 'delete',
      path: '/v1/orgs/{org}/webhooks/{id}',
      tags,
      summary: 'Remove a webhook endpoint and its deliveries',
      permission,
      request: { params: EndpointParams },
      responses: { 204: noContent },
    }),
    async (c) => {
      await deleteEndpoint({ ctx: c.get('tenant'), id: c.req.valid('param').id });
      return c.body(null, 204);
    },
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/orgs/{org}/webhooks/{id}/rotate',
      tags,
      summary: 'A new signing secret, in this answer only; the previous one signs too for 24 h',
      permission,
      issuesSecret: true,
      request: { params: EndpointParams },
      responses: { 200: json(WebhookEndpointWithSecret, 'The endpoint, with its new secret') },
    }),
    async (c) => c.json(await rotateSecret({ ctx: c.get('tenant'), id: c.req.valid('param').id }), 200),
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/webhooks/{id}/deliveries',
      tags,
      summary: "An endpoint's deliveries, newest first: status, latency, response code and body start",
      permission,
      request: { params: EndpointParams, query: DeliveryListQuery },
      responses: { 200: json(pageOf(WebhookDeliverySchema), 'A page of deliveries') },
    }),
    async (c) =>
      c.json(
        await listDeliveries({ ctx: c.get('tenant'), id: c.req.valid('param').id, input: c.req.valid('query') }),
        200,
      ),
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/orgs/{org}/webhooks/{id}/deliveries/{delivery}/retry',
      tags,
      summary: 'Send a finished delivery again (same webhook-id)',
      permission,
      request: { params: DeliveryParams },
      responses: { 202: json(WebhookDeliverySchema, 'The delivery, queued') },
    }),
    async (c) => {
      const { id, delivery: deliveryId } = c.req.valid('param');
      return c.json(await retryDelivery({ ctx: c.get('tenant'), id, deliveryId, delivery: delivery(c) }), 202);
    },
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/orgs/{org}/webhooks/{id}/replay',
      tags,
      summary: 'Send every event since a time again, in sequence order',
      permission,
      request: { params: EndpointParams, body: jsonBody(ReplayRequest) },
      responses: { 202: json(ReplayResult, 'How many events were queued') },
    }),
    async (c) =>
      c.json(
        await replayEvents({
          ctx: c.get('tenant'),
          id: c.req.valid('param').id,
          since: c.req.valid('json').since,
          delivery: delivery(c),
        }),
        202,
      ),
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/orgs/{org}/webhooks/{id}/test',
      tags,
      summary: 'Send a `ping` event to the endpoint',
      permission,
      request: { params: EndpointParams },
      responses: { 202: json(WebhookDeliverySchema, 'The ping delivery, queued') },
    }),
    async (c) =>
      c.json(await testEndpoint({ ctx: c.get('tenant'), id: c.req.valid('param').id, delivery: delivery(c) }), 202),
  );
}
