// Appointments' shapes: the read shape, create, patch, the list query, the calendar feed and the webhook.
import { z } from '@hono/zod-openapi';
import { APPOINTMENT_STATUSES, LIVE_APPOINTMENT_STATUSES } from '../../db/enums';
import { CreatedBy, Derived, Id, InstantOrDate, OutboundUrl, SERVER_SET, WebUrl } from '../../lib/fields';
import { pageQuery } from '../../lib/pagination';
import { checkTimes } from './service';

export const AppointmentSchema = z
  .object({
    id: Id,
    organization_id: Id,
    customer_id: z.string().nullable(),
    assigned_to: z.string().nullable(),
    title: z.string(),
    description: z.string().nullable(),
    start_time: z.string(),
    end_time: z.string(),
    status: z.enum(APPOINTMENT_STATUSES),
    location: z.string().nullable(),
    meeting_url: z.string().nullable(),
    reminders_sent: z.object({ '24h': z.string().nullable(), '1h': z.string().nullable() }).openapi({
      description:
        'Which reminder for the current start_time went out and when (queued), per window; null: not (yet). A move resets both',
      example: { '24h': '2026-12-02T15:00:03.112Z', '1h': null },
    }),
    created_by: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Appointment');

/** An instant with a `Z` or an offset, normalised to UTC (`2026-12-03T15:00:00.000Z`). */
export const Instant = z.iso
  .datetime({ offset: true })
  .transform((value) => new Date(value).toISOString())
  .openapi({ description: 'ISO 8601 with `Z` or an offset; answered in UTC', example: '2026-12-03T15:00:00.000Z' });

const fields = {
  title: z.string().trim().min(1).max(200),
  description: z.string().max(10_000).nullable(),
  start_time: Instant,
  end_time: Instant,
  customer_id: Id.nullable().openapi({ description: 'A customer of the organization' }),
  assigned_to: Id.nullable().openapi({
    description: 'A member of the organization; their live appointments may not overlap',
  }),
  location: z.string().trim().max(500).nullable(),
  meeting_url: WebUrl({ https: true }).nullable(),
  ...SERVER_SET,
  reminders_sent: Derived(
    'the reminder job records each reminder it sends (24 h and 1 h before start_time); a move resets it.',
  ),
  created_by: CreatedBy,
};

/** When both times are sent: end after start, at most 24 h (a PATCH sending one is checked by the database). */
const validTimes = (value: { start_time?: string; end_time?: string }, ctx: z.RefinementCtx) => {
  if (value.start_time === undefined || value.end_time === undefined) return;
  const message = checkTimes(value.start_time, value.end_time);
  if (message) ctx.addIssue({ code: 'custom', path: ['end_time'], message });
};

export const AppointmentCreate = z
  .object({
    ...fields,
    status: z.enum(APPOINTMENT_STATUSES).openapi({
      description:
        `Default \`scheduled\`. Any status may be recorded (a past meeting as \`completed\`, say); only ` +
        `${LIVE_APPOINTMENT_STATUSES.map((s) => `\`${s}\``).join(' and ')} ones hold the assignee's slot`,
    }),
  })
  .partial()
  .required({ title: true, start_time: true, end_time: true })
  .strict()
  .superRefine(validTimes)
  .openapi('AppointmentCreate');

export const AppointmentPatch = z
  .object({
    ...fields,
    status: z.enum(APPOINTMENT_STATUSES).openapi({
      description:
        'scheduled → confirmed | completed | no_show | cancelled; confirmed → completed | no_show | cancelled; the others are final (409)',
    }),
  })
  .partial()
  .strict()
  .superRefine(validTimes)
  .openapi('AppointmentPatch');

export const AppointmentQuery = z.object({
  ...pageQuery,
  from: InstantOrDate.optional().openapi({
    description: 'Appointments that end after this instant (a date: its midnight UTC)',
  }),
  to: InstantOrDate.optional().openapi({
    description: 'Appointments that start before this instant (a date: its midnight UTC)',
  }),
  assigned_to: z
    .union([z.literal('me'), Id])
    .optional()
    .openapi({ description: "A member's id, or `me`" }),
  customer_id: Id.optional(),
  status: z.enum(APPOINTMENT_STATUSES).optional(),
});

export const FeedQuery = z.object({
  token: z.string().optional().openapi({
    description:
      'A calendar feed token (`scal_…`, from `POST …/appointments/feed-token`) instead of the Authorization header',
  }),
  assigned_to: z
    .union([z.literal('me'), Id])
    .optional()
    .openapi({ description: "Only this member's appointments (`me`: the token's owner)" }),
});

export const FeedToken = z
  .object({
    token: z.string().openapi({ description: 'Shown once; only its hash is stored' }),
    feed_url: z.string(),
    webcal_url: z.string().openapi({ description: 'The same URL for calendar apps (webcal:)' }),
  })
  .openapi('CalendarFeedToken');

export const Webhook = z
  .object({ url: z.string(), created_at: z.string(), updated_at: z.string() })
  .openapi('AppointmentWebhook');

export const WebhookPut = z.object({ url: OutboundUrl }).strict().openapi('AppointmentWebhookPut');

export type AppointmentCreate = z.output<typeof AppointmentCreate>;
export type AppointmentPatch = z.output<typeof AppointmentPatch>;
export type AppointmentQuery = z.output<typeof AppointmentQuery>;
export type FeedQuery = z.output<typeof FeedQuery>;
export type WebhookPut = z.output<typeof WebhookPut>;
