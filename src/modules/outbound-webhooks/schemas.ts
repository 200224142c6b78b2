// One schema per action of the webhook endpoints API.
import { z } from '@hono/zod-openapi';
import { WEBHOOK_DELIVERY_STATUSES, WEBHOOK_DELIVERY_TRIGGERS, WEBHOOK_ENDPOINT_STATUSES } from '../../db/enums';
import { OrgParam } from '../../lib/openapi';
import { pageQuery } from '../../lib/pagination';
import { EVENT_TYPES } from './events';

/** Checked by the service (outboundUrlRefusal), which knows the dev receiver: see service.ts `acceptedUrl`. */
const EndpointUrl = z.string().max(2048).openapi({
  description:
    'https, a public domain name: no IP address, private name (.internal, .local, .localhost …) or wildcard-DNS service',
  example: 'https://hooks.example.com/strive',
});

const EventTypes = z
  .array(z.enum(EVENT_TYPES))
  .min(1)
  .max(EVENT_TYPES.length)
  .nullable()
  .openapi({ description: 'The event types delivered to it; null: all of them' });

export const WebhookEndpointSchema = z
  .object({
    id: z.string().uuid(),
    url: z.string(),
    description: z.string().nullable(),
    event_types: z.array(z.string()).nullable(),
    status: z.enum(WEBHOOK_ENDPOINT_STATUSES),
    paused_reason: z.string().nullable().openapi({ description: 'Why Strive paused it (410 Gone, 3 days failing)' }),
    failing_since: z.string().nullable(),
    previous_secret_expires_at: z
      .string()
      .nullable()
      .openapi({ description: 'Until then the secret before the last rotation signs too' }),
    created_by: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('WebhookEndpoint');

export const WebhookEndpointWithSecret = WebhookEndpointSchema.extend({
  secret: z.string().openapi({ description: '`whsec_…`: shown in this answer only' }),
}).openapi('WebhookEndpointWithSecret');

export const WebhookEndpointCreate = z
  .object({
    url: EndpointUrl,
    description: z.string().trim().max(500).nullable().optional(),
    event_types: EventTypes.optional(),
  })
  .strict()
  .openapi('WebhookEndpointCreate');
export type WebhookEndpointCreateInput = z.infer<typeof WebhookEndpointCreate>;

export const WebhookEndpointPatch = z
  .object({
    url: EndpointUrl.optional(),
    description: z.string().trim().max(500).nullable().optional(),
    event_types: EventTypes.optional(),
    status: z.enum(WEBHOOK_ENDPOINT_STATUSES).optional().openapi({ description: 'active again clears paused_reason' }),
  })
  .strict()
  .openapi('WebhookEndpointPatch');
export type WebhookEndpointPatchInput = z.infer<typeof WebhookEndpointPatch>;

export const WebhookDeliverySchema = z
  .object({
    id: z.string().uuid(),
    endpoint_id: z.string().uuid(),
    event_id: z.string().openapi({ description: 'The `webhook-id` header: the same in every attempt and replay' }),
    event_type: z.string(),
    sequence: z.number().int().nullable(),
    trigger: z.enum(WEBHOOK_DELIVERY_TRIGGERS),
    status: z.enum(WEBHOOK_DELIVERY_STATUSES),
    attempts: z.number().int(),
    next_attempt_at: z.string(),
    last_attempt_at: z.string().nullable(),
    response_status: z.number().int().nullable(),
    response_body: z
      .string()
      .nullable()
      .openapi({ description: "The first 1 KB of the receiver's answer, or the error" }),
    latency_ms: z.number().int().nullable(),
    created_at: z.string(),
  })
  .openapi('WebhookDelivery');

export const DeliveryListQuery = z.object({
  ...pageQuery,
  status: z.enum(WEBHOOK_DELIVERY_STATUSES).optional(),
  event_type: z.enum([...EVENT_TYPES, 'ping']).optional(),
});
export type DeliveryListInput = z.infer<typeof DeliveryListQuery>;

export const ReplayRequest = z
  .object({
    since: z.iso
      .datetime({ offset: true })
      .transform((value) => new Date(value).toISOString())
      .openapi({ description: 'Every event since then is sent again, in sequence order (at most 1000)' }),
  })
  .strict()
  .openapi('WebhookReplay');

export const ReplayResult = z.object({ replayed: z.number().int() }).openapi('WebhookReplayResult');

export const EndpointParams = z.object({ org: OrgParam, id: z.string().uuid() });
export const DeliveryParams = EndpointParams.extend({ delivery: z.string().uuid() });
