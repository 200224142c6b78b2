// The iCalendar feed (RFC 5545) and its per-member feed tokens. Calendar apps subscribe to a URL
// and cannot send headers, so the feed alone accepts `?token=`: a token of one member in one
// organization, stored as its SHA-256 hash on the membership row. Rotating replaces the hash (the
// old URL stops working); removing the member removes the token with the row.
import { and, asc, desc, eq, gt, gte, lt, lte, type SQL } from 'drizzle-orm';
import { organization_members } from '../../db/catalog';
import { appointments } from '../../db/tenant';
import type { TenantStore } from '../../db/tenant-store';
import type { TenantContext } from '../../env';
import { newCalendarToken } from '../../auth/calendar-tokens';
import { forgetAccess } from '../../auth/access-cache';
import { actingUserId, requirePermission } from '../../auth/tenant';
import { ApiError, notFound } from '../../lib/problem';
import { auditedCatalogChange } from '../activity/audit';
import { assignee } from '../tasks/service';
import { clientAppointmentScope, MAX_DURATION_MS, type Appointment } from './service';
import type { FeedQuery } from './schemas';

const DAY_MS = 24 * 60 * 60 * 1000;
/** The feed covers 90 days back and a year ahead, at most this many events (see feedAppointments). */
const FEED_PAST_DAYS = 90;
const FEED_FUTURE_DAYS = 366;
export const FEED_MAX_EVENTS = 2000;

const STATUS: Record<Appointment['status'], 'TENTATIVE' | 'CONFIRMED' | 'CANCELLED'> = {
  scheduled: 'TENTATIVE',
  confirmed: 'CONFIRMED',
  completed: 'CONFIRMED',
  no_show: 'CONFIRMED',
  cancelled: 'CANCELLED',
};

/** RFC 5545 §3.3.11: backslash, semicolon, comma and line breaks in TEXT values. */
export function escapeText(value: string): string {
  return value.replace(/[\\;,]/g, (ch) => `\\${ch}`).replace(/\r\n|\r|\n/g, '\\n');
}

const encoder = new TextEncoder();

/**
 * RFC 5545 §3.1: lines of at most 75 octets, continued after CRLF + one space, never splitting a
 * UTF-8 character.
 */
export function foldLine(line: string): string {
  if (encoder.encode(line).length <= 75) return line;
  const parts: string[] = [];
  let current = '';
  let octets = 0;
  for (const ch of line) {
    const size = encoder.encode(ch).length;
    // Continuation lines begin with a space, which counts towards their 75 octets.
    const limit = parts.length === 0 ? 75 : 74;
    if (octets + size > limit) {
      parts.push(current);
      current = '';
      octets = 0;
    }
    current += ch;
    octets += size;
  }
  parts.push(current);
  return parts.join('\r\n ');
}

/** `2026-12-03T15:00:00.000Z` → `20261203T150000Z` (UTC, basic format). */
const utc = (iso: string) => iso.replace(/[-:]/g, '').replace(/\.\d+/, '');

function event(row: Appointment): string[] {
  const optional = (name: string, value: string | null) => (value ? [`${name}:${escapeText(value)}`] : []);
  return [
    'BEGIN:VEVENT',
    `UID:${row.id}@strive`,
    // No METHOD on the calendar: DTSTAMP is when the event was last revised (RFC 5545 §3.8.7.2).
    `DTSTAMP:${utc(row.updated_at)}`,
    `CREATED:${utc(row.created_at)}`,
    `LAST-MODIFIED:${utc(row.updated_at)}`,
    `DTSTART:${utc(row.start_time)}`,
    `DTEND:${utc(row.end_time)}`,
    `SUMMARY:${escapeText(row.title)}`,
    ...optional('DESCRIPTION', row.description),
    ...optional('LOCATION', row.location),
    // URL is a URI, not TEXT: no escaping (the API accepts https URLs only).
    ...(row.meeting_url ? [`URL:${row.meeting_url}`] : []),
    `STATUS:${STATUS[row.status]}`,
    'END:VEVENT',
  ];
}

export function renderCalendar(name: string, rows: Appointment[]): string {
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Strive//Appointments//EN',
    'CALSCALE:GREGORIAN',
    `X-WR-CALNAME:${escapeText(name)}`,
    // Hints for subscribing apps: how often to poll.
    'REFRESH-INTERVAL;VALUE=DURATION:PT15M',
    'X-PUBLISHED-TTL:PT15M',
    ...rows.flatMap(event),
    'END:VCALENDAR',
  ];
  return lines.map(foldLine).join('\r\n') + '\r\n';
}

export async function calendarFeed({
  ctx,
  input,
}: {
  ctx: TenantContext;
  input: Omit<FeedQuery, 'token'>;
}): Promise<string> {
  requirePermission(ctx, 'appointments:read');
  const assignedTo = assignee(ctx, input.assigned_to);
  const rows = await feedAppointments(
    ctx.store,
    and(assignedTo ? eq(appointments.assigned_to, assignedTo) : undefined, clientAppointmentScope(ctx)),
    Date.now(),
    FEED_MAX_EVENTS,
  );
  return renderCalendar(`${ctx.organization.name} appointments`, rows);
}

/**
 * The feed's appointments, at most `max`, by start: every upcoming and ongoing one (nearest
 * first) before any past one, then the most recent past ones, so an organization with a long
 * history never loses its future from the feed. Two reads in one batch (one round trip).
 */
export async function feedAppointments(
  store: TenantStore,
  where: SQL | undefined,
  now: number,
  max: number,
): Promise<Appointment[]> {
  const nowIso = new Date(now).toISOString();
  const [upcoming, past] = await store.batch([
    store
      // An ongoing one started less than MAX_DURATION_MS ago: that bound keeps the index range short.
      .select(
        appointments,
        and(
          gt(appointments.end_time, nowIso),
          gt(appointments.start_time, new Date(now - MAX_DURATION_MS).toISOString()),
          lt(appointments.start_time, new Date(now + FEED_FUTURE_DAYS * DAY_MS).toISOString()),
          where,
        ) as SQL,
      )
      .orderBy(asc(appointments.start_time))
      .limit(max),
    store
      .select(
        appointments,
        and(
          lte(appointments.end_time, nowIso),
          gte(appointments.start_time, new Date(now - FEED_PAST_DAYS * DAY_MS).toISOString()),
          where,
        ) as SQL,
      )
      .orderBy(desc(appointments.start_time))
      .limit(max),
  ]);
  return [...past.slice(0, max - upcoming.length), ...upcoming].sort((a, b) =>
    a.start_time.localeCompare(b.start_time),
  );
}

/** The acting member: feed tokens belong to a person with a membership, not to an API key. */
function feedOwner(ctx: TenantContext): string {
  const userId = actingUserId(ctx.actor);
  if (ctx.actor.type !== 'user' || ctx.role === null || !userId) {
    throw new ApiError('forbidden', 'A calendar feed token belongs to a signed-in member of the organization.');
  }
  return userId;
}

async function setCalendarTokenHash(ctx: TenantContext, action: 'rotate' | 'revoke', hash: string | null) {
  const userId = feedOwner(ctx);
  await auditedCatalogChange(
    ctx,
    { action: `calendar_feed.${action}`, resource_type: 'calendar_feed', resource_id: userId },
    async () => {
      const updated = await ctx.catalog
        .update(organization_members)
        .set({ calendar_token_hash: hash })
        .where(
          and(eq(organization_members.organization_id, ctx.organization.id), eq(organization_members.user_id, userId)),
        )
        .returning({ id: organization_members.id });
      if (updated.length === 0) throw notFound('membership');
    },
  );
  // This isolate forgets the old token at once; others within the access cache's 30 s.
  await forgetAccess(ctx.d1, { organizationId: ctx.organization.id, userId });
}

/** A new feed token for the acting member, shown once; the previous one stops working. */
export async function rotateCalendarToken({ ctx, origin }: { ctx: TenantContext; origin: string }) {
  requirePermission(ctx, 'appointments:read');
  const { token, hash } = await newCalendarToken();
  await setCalendarTokenHash(ctx, 'rotate', hash);
  const feedUrl = `${origin}/v1/orgs/${ctx.organization.slug}/appointments.ics?token=${token}`;
  return { token, feed_url: feedUrl, webcal_url: feedUrl.replace(/^https?:/, 'webcal:') };
}

export async function revokeCalendarToken({ ctx }: { ctx: TenantContext }) {
  requirePermission(ctx, 'appointments:read');
  await setCalendarTokenHash(ctx, 'revoke', null);
}
