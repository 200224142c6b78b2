// Usage's shapes: a usage row, a period's usage and its query.
import { z } from '@hono/zod-openapi';
import { USAGE_RESOURCE_TYPES, TIERS } from '../../db/enums';
import { Id, IsoDate } from '../../lib/fields';
import { pageQuery } from '../../lib/pagination';

const Limit = z.object({
  used: z.number().int(),
  limit: z.number().int().nullable().openapi({ description: 'null: unlimited' }),
  remaining: z.number().int().nullable(),
});

const BillingPeriod = z
  .string()
  .openapi({ format: 'date', description: "The month's first day (UTC)", example: '2026-11-01' });

export const UsageRecordSchema = z
  .object({
    id: Id,
    organization_id: Id,
    user_id: z
      .string()
      .nullable()
      .openapi({
        description:
          "Whom the usage is counted for: the acting user (an API key's creator), for seats the member; null when no user acted " +
          '(webhooks, system)',
      }),
    resource_type: z.enum(USAGE_RESOURCE_TYPES),
    resource_name: z.string().openapi({
      description:
        "What within the type: the route of an API call, a model, an asset's id ('' when nothing finer applies)",
    }),
    usage_amount: z
      .number()
      .int()
      .openapi({ description: 'The sum of the events counted into this row (events of stocks may be negative)' }),
    billing_period: BillingPeriod,
    metadata: z.record(z.string(), z.unknown()).openapi({
      description:
        'What the consumer recorded of the events counted into the row: `events` (how many), `first_event_at`, `last_event_at`',
      example: { events: 42, first_event_at: '2026-11-02T09:14:03.120Z', last_event_at: '2026-11-24T17:40:51.008Z' },
    }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('UsageRecord');

export const Usage = z
  .object({
    billing_period: BillingPeriod,
    tier: z.enum(TIERS).openapi({
      description: 'The tier in effect now (free while the subscription is not active, trialing or past_due)',
    }),
    totals: z.array(
      z.object({
        resource_type: z.enum(USAGE_RESOURCE_TYPES),
        resource_name: z.string(),
        usage_amount: z.number().int(),
      }),
    ),
    limits: z.object(
      Object.fromEntries(USAGE_RESOURCE_TYPES.map((r) => [r, Limit])) as Record<
        (typeof USAGE_RESOURCE_TYPES)[number],
        typeof Limit
      >,
    ),
    records: z.array(UsageRecordSchema).openapi({
      description: "A page of the period's usage_tracking rows (one per user, resource type and name), newest first",
    }),
    next_cursor: z.string().nullable().openapi({ description: 'The next page of `records`' }),
  })
  .openapi('Usage');

const Month = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/);

export const UsageQuery = z.object({
  period: z
    .union([Month, IsoDate], { error: 'A month as YYYY-MM, or a date (YYYY-MM-DD: its month).' })
    .transform((value) => `${value.slice(0, 7)}-01`)
    .optional()
    .openapi({
      description: 'YYYY-MM, or a date meaning its month (UTC); the current month by default',
      example: '2026-11',
    }),
  ...pageQuery,
});

export type UsageQuery = z.output<typeof UsageQuery>;
