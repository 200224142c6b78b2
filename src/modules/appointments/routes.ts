import { z } from '@hono/zod-openapi';
import { Id } from '../../lib/fields';
import { defineRoute, json, jsonBody, noContent, OrgParam, type TenantApp } from '../../lib/openapi';
import { pageOf } from '../../lib/pagination';
import { calendarFeed, revokeCalendarToken, rotateCalendarToken } from './calendar';
import { deleteWebhook, getWebhook, putWebhook } from './webhook';
import { createAppointment, deleteAppointment, getAppointment, listAppointments, updateAppointment } from './service';
import {
  AppointmentCreate,
  AppointmentPatch,
  AppointmentQuery,
  AppointmentSchema,
  FeedQuery,
  FeedToken,
  Webhook,
  WebhookPut,
} from './schemas';

const params = z.object({ org: OrgParam });
const itemParams = z.object({ org: OrgParam, id: Id });
const tags = ['Appointments'];

export function registerAppointmentRoutes(app: TenantApp) {
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
      beside: true,
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
      beside: true,
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
