import { z } from '@hono/zod-openapi';
import { APPOINTMENT_STATUSES, LIVE_APPOINTMENT_STATUSES } from '../../db/enums';
import { CreatedBy, Derived, Id, InstantOrDate, OutboundUrl, SERVER_SET, WebUrl } from '../../lib/fields';
import { defineRoute, json, jsonBody, noContent, OrgParam, type App } from '../../lib/openapi';
import { pageOf, pageQuery } from '../../lib/pagination';
import { calendarFeed, revokeCalendarToken, rotateCalendarToken } from './calendar';
import { deleteWebhook, getWebhook, putWebhook } from './webhook';
import {
  checkTimes,
  createAppointment,
  deleteAppointment,
  getAppointment,
  listAppointments,
  updateAppointment,
} from './service';

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

const AppointmentCreate = z
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

const AppointmentPatch = z
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

const AppointmentQuery = z.object({
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

const params = z.object({ org: OrgParam });
const itemParams = z.object({ org: OrgParam, id: Id });
const tags = ['Appointments'];

const FeedQuery = z.object({
  token: z.string().optional().openapi({
    description:
      'A calendar feed token (`scal_…`, from `POST …/appointments/feed-token`) instead of the Authorization header',
  }),
  assigned_to: z
    .union([z.literal('me'), Id])
    .optional()
    .openapi({ description: "Only this member's appointments (`me`: the token's owner)" }),
});

const FeedToken = z
  .object({
    token: z.string().openapi({ description: 'Shown once; only its hash is stored' }),
    feed_url: z.string(),
    webcal_url: z.string().openapi({ description: 'The same URL for calendar apps (webcal:)' }),
  })
  .openapi('CalendarFeedToken');

const Webhook = z
  .object({ url: z.string(), created_at: z.string(), updated_at: z.string() })
  .openapi('AppointmentWebhook');
const WebhookPut = z.object({ url: OutboundUrl }).strict().openapi('AppointmentWebhookPut');

export function registerAppointmentRoutes(app: App) {
  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/appointments.ics',
      tags,
      permission: 'appointments:read',
      summary: 'iCalendar feed (RFC 5545) of appointments from 90 days ago to a year ahead',
      description:
        'Authenticated by the bearer token as usual, or by `?token=` with a calendar feed token. Client users ' +
        "see their own customer's appointments only.",
      request: { params, query: FeedQuery },
      responses: { 200: { description: 'The calendar', content: { 'text/calendar': { schema: z.string() } } } },
    }),
    async (c) => {
      const { assigned_to } = c.req.valid('query');
      const body = await calendarFeed({ ctx: c.get('tenant'), input: { assigned_to } });
      // The feed URL carries a credential: nothing on the way may keep a copy.
      return c.body(body, 200, {
        'content-type': 'text/calendar; charset=utf-8',
        'cache-control': 'private, no-store',
      });
    },
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/orgs/{org}/appointments/feed-token',
      tags,
      permission: 'appointments:read',
      issuesSecret: true,
      summary: "Create or rotate the acting member's calendar feed token (the previous one stops working)",
      request: { params },
      responses: { 201: json(FeedToken, 'The token and the feed URL, shown once') },
    }),
    async (c) => c.json(await rotateCalendarToken({ ctx: c.get('tenant'), origin: new URL(c.req.url).origin }), 201),
  );

  app.openapi(
    defineRoute({
      method: 'delete',
      path: '/v1/orgs/{org}/appointments/feed-token',
      tags,
      permission: 'appointments:read',
      summary: "Revoke the acting member's calendar feed token",
      request: { params },
      responses: { 204: noContent },
    }),
    async (c) => {
      await revokeCalendarToken({ ctx: c.get('tenant') });
      return c.body(null, 204);
    },
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/appointments/webhook',
      tags,
      summary: 'The appointment webhook (its secret is never shown again)',
      permission: 'organization:update',
      request: { params },
      responses: { 200: json(Webhook, 'The webhook') },
    }),
    async (c) => c.json(await getWebhook({ ctx: c.get('tenant') }), 200),
  );

  app.openapi(
    defineRoute({
      method: 'put',
      path: '/v1/orgs/{org}/appointments/webhook',
      tags,
      permission: 'organization:update',
      issuesSecret: true,
      summary:
        'Set the appointment webhook: reminders are POSTed to it, signed with a new secret shown in this answer only',
      request: { params, body: jsonBody(WebhookPut) },
      responses: {
        200: json(
          Webhook.extend({ secret: z.string().openapi({ description: 'whsec_…: shown once' }) }).openapi(
            'AppointmentWebhookWithSecret',
          ),
          'The webhook and its secret',
        ),
      },
    }),
    async (c) => c.json(await putWebhook({ ctx: c.get('tenant'), input: c.req.valid('json') }), 200),
  );

  app.openapi(
    defineRoute({
      method: 'delete',
      path: '/v1/orgs/{org}/appointments/webhook',
      tags,
      summary: 'Remove the appointment webhook',
      permission: 'organization:update',
      request: { params },
      responses: { 204: noContent },
    }),
    async (c) => {
      await deleteWebhook({ ctx: c.get('tenant') });
      return c.body(null, 204);
    },
  );

  // The item routes come after every static `/appointments/…` path, which `{id}` would shadow.
  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/appointments',
      tags,
      summary: 'List appointments, newest first',
      permission: 'appointments:read',
      request: { params, query: AppointmentQuery },
      responses: { 200: json(pageOf(AppointmentSchema), 'A page of appointments') },
    }),
    async (c) => c.json(await listAppointments({ ctx: c.get('tenant'), input: c.req.valid('query') }), 200),
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/orgs/{org}/appointments',
      tags,
      permission: 'appointments:write',
      summary: 'Book an appointment (409 when it overlaps a live appointment of the same assignee)',
      request: { params, body: jsonBody(AppointmentCreate) },
      responses: { 201: json(AppointmentSchema, 'The appointment') },
    }),
    async (c) => c.json(await createAppointment({ ctx: c.get('tenant'), input: c.req.valid('json') }), 201),
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/appointments/{id}',
      tags,
      summary: 'Get an appointment',
      permission: 'appointments:read',
      request: { params: itemParams },
      responses: { 200: json(AppointmentSchema, 'The appointment') },
    }),
    async (c) => c.json(await getAppointment({ ctx: c.get('tenant'), id: c.req.valid('param').id }), 200),
  );

  app.openapi(
    defineRoute({
      method: 'patch',
      path: '/v1/orgs/{org}/appointments/{id}',
      tags,
      permission: 'appointments:write',
      summary: 'Update, move or change the status of an appointment (409 on overlap or a disallowed transition)',
      request: { params: itemParams, body: jsonBody(AppointmentPatch) },
      responses: { 200: json(AppointmentSchema, 'The appointment') },
    }),
    async (c) =>
      c.json(
        await updateAppointment({ ctx: c.get('tenant'), id: c.req.valid('param').id, input: c.req.valid('json') }),
        200,
      ),
  );

  app.openapi(
    defineRoute({
      method: 'delete',
      path: '/v1/orgs/{org}/appointments/{id}',
      tags,
      summary: 'Delete an appointment',
      permission: 'appointments:delete',
      request: { params: itemParams },
      responses: { 204: noContent },
    }),
    async (c) => {
      await deleteAppointment({ ctx: c.get('tenant'), id: c.req.valid('param').id });
      return c.body(null, 204);
    },
  );
}
