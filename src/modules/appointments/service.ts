// Appointments. A live appointment (scheduled or confirmed) holds its assignee's time slot: no
// other live appointment of the same assignee may overlap it. The check and the write are ONE
// statement (INSERT … SELECT … WHERE NOT EXISTS, UPDATE … WHERE NOT EXISTS), in the same batch as
// the audit row, so two concurrent bookings of one slot cannot both win. Intervals are half-open
// [start, end): back-to-back appointments do not overlap.
import { and, asc, eq, sql, type SQL } from 'drizzle-orm';
import { LIVE_APPOINTMENT_STATUSES, type AppointmentStatus } from '../../db/enums';
import { isForeignKeyViolation } from '../../db/errors';
import { appointments, NO_REMINDERS_SENT } from '../../db/tenant';
import type { TenantContext } from '../../env';
import { actingUserId, requirePermission } from '../../auth/tenant';
import { uuidv7 } from '../../lib/ids';
import { newestFirst } from '../../lib/pagination';
import { conflict, invalid, notFound } from '../../lib/problem';
import { auditedDelete, auditedInsertWhere, auditedUpdate } from '../activity/audit';
import { clientCustomerScope } from '../customers/service';
import { assertMember } from '../members/service';
import { assignee } from '../tasks/service';
import type { AppointmentCreate, AppointmentPatch, AppointmentQuery } from './schemas';

export type Appointment = typeof appointments.$inferSelect;

/** An appointment lasts at most a day; the overlap check relies on it (see `overlapping`). */
export const MAX_DURATION_MS = 24 * 60 * 60 * 1000;

/**
 * The statuses an appointment may move to. Completed and no_show may also follow scheduled
 * directly: nobody is obliged to confirm first. Completed, cancelled and no_show are final.
 */
export const NEXT_STATUSES: Record<AppointmentStatus, readonly AppointmentStatus[]> = {
  scheduled: ['confirmed', 'completed', 'no_show', 'cancelled'],
  confirmed: ['completed', 'no_show', 'cancelled'],
  completed: [],
  cancelled: [],
  no_show: [],
};

const described = (action: 'create' | 'update' | 'delete') => ({
  action: `appointment.${action}` as const,
  resource_type: 'appointment',
});

/** Global `client` users see only the appointments of their own customer. */
export const clientAppointmentScope = (ctx: TenantContext) => clientCustomerScope(ctx, appointments.customer_id);

const isLive = (status: SQL | string) =>
  sql`${status} IN (${sql.join(
    LIVE_APPOINTMENT_STATUSES.map((s) => sql`${s}`),
    sql`, `,
  )})`;

/**
 * A live appointment of `assignee` overlapping [start, end), other than `except`. Values may be
 * SQL (the updated row's own columns). Appointments last at most 24 h, so an overlapping one
 * starts after start − 24 h: that bound keeps the (assigned_to, start_time) index scan to one
 * day instead of the assignee's whole history.
 */
function overlapping(
  ctx: TenantContext,
  assignee: SQL | string,
  start: SQL | string,
  end: SQL | string,
  except?: SQL | string,
): SQL {
  return sql`SELECT o.id FROM ${appointments} AS o
    WHERE o.organization_id = ${ctx.organization.id} AND o.assigned_to = ${assignee}
      AND ${isLive(sql`o.status`)} AND o.start_time < ${end} AND o.end_time > ${start}
      AND o.start_time > strftime('%Y-%m-%dT%H:%M:%fZ', ${start}, '-1 day')
      ${except === undefined ? sql`` : sql`AND o.id <> ${except}`}`;
}

export async function listAppointments({ ctx, input }: { ctx: TenantContext; input: AppointmentQuery }) {
  requirePermission(ctx, 'appointments:read');
  const assignedTo = assignee(ctx, input.assigned_to);
  return newestFirst(appointments.id, input, (after) =>
    ctx.store.select(
      appointments,
      and(
        // Overlap with [from, to): ends after `from`, starts before `to`.
        input.from ? sql`${appointments.end_time} > ${input.from}` : undefined,
        input.to ? sql`${appointments.start_time} < ${input.to}` : undefined,
        assignedTo ? eq(appointments.assigned_to, assignedTo) : undefined,
        input.customer_id ? eq(appointments.customer_id, input.customer_id) : undefined,
        input.status ? eq(appointments.status, input.status) : undefined,
        clientAppointmentScope(ctx),
        after,
      ),
    ),
  );
}

export async function getAppointment({ ctx, id }: { ctx: TenantContext; id: string }) {
  requirePermission(ctx, 'appointments:read');
  const row = await ctx.store.select(appointments, and(eq(appointments.id, id), clientAppointmentScope(ctx))).get();
  if (!row) throw notFound('appointment');
  return row;
}

/** A composite foreign key refuses a customer of another organization (or none). */
function customerError(error: unknown): unknown {
  return isForeignKeyViolation(error) ? invalid('customer_id', 'Not a customer of this organization.') : error;
}

export async function createAppointment({ ctx, input }: { ctx: TenantContext; input: AppointmentCreate }) {
  requirePermission(ctx, 'appointments:write');
  await assertMember(ctx, 'assigned_to', input.assigned_to);
  const status = input.status ?? 'scheduled';
  const now = new Date().toISOString();
  const values = {
    ...input,
    id: uuidv7(),
    status,
    reminders_sent: NO_REMINDERS_SENT,
    created_by: actingUserId(ctx.actor),
    created_at: now,
    updated_at: now,
  };
  const holdsSlot = input.assigned_to && (LIVE_APPOINTMENT_STATUSES as readonly string[]).includes(status);
  let row: Appointment | undefined;
  try {
    row = await auditedInsertWhere(
      ctx,
      appointments,
      values,
      described('create'),
      holdsSlot ? sql`NOT EXISTS (${overlapping(ctx, input.assigned_to!, input.start_time, input.end_time)})` : sql`1`,
    );
  } catch (error) {
    throw customerError(error);
  }
  if (!row) throw await doubleBooked(ctx, input.assigned_to!, input.start_time, input.end_time);
  return row;
}

/** The 409 for a write refused because the slot is taken, naming the appointment that holds it. */
async function doubleBooked(ctx: TenantContext, assignedTo: string, start: string, end: string, except?: string) {
  const taken = await ctx.store
    .selectFields(
      appointments,
      {
        id: appointments.id,
        title: appointments.title,
        start_time: appointments.start_time,
        end_time: appointments.end_time,
      },
      sql`${appointments.id} IN (${overlapping(ctx, assignedTo, start, end, except)})`,
    )
    .orderBy(asc(appointments.start_time))
    .get();
  // Read after the refused write: the clash may have been cancelled in between.
  return conflict(
    taken
      ? `The assignee is already booked: appointment ${taken.id} ('${taken.title}', ${taken.start_time} to ` +
          `${taken.end_time}) overlaps ${start} to ${end}.`
      : `The assignee was booked between ${start} and ${end} when this was written; try again.`,
  );
}

/** The updated row's own column (a subquery's alias must not shadow it). */
const own = (field: keyof Appointment) => sql.raw(`"appointments"."${field}"`);

export async function updateAppointment({
  ctx,
  id,
  input,
}: {
  ctx: TenantContext;
  id: string;
  input: AppointmentPatch;
}) {
  requirePermission(ctx, 'appointments:write');
  await assertMember(ctx, 'assigned_to', input.assigned_to);
  // The row as it will be: the patch's values, or its own.
  const start = input.start_time ?? own('start_time');
  const end = input.end_time ?? own('end_time');
  const assignedTo = input.assigned_to !== undefined ? sql`${input.assigned_to}` : own('assigned_to');
  const status = input.status ?? own('status');
  const moves = input.start_time !== undefined || input.end_time !== undefined;
  const guard = and(
    // The transition is checked against the row as the UPDATE sees it, not as read earlier.
    input.status
      ? sql`(${own('status')} = ${input.status} OR ${own('status')} IN (${sql.join(allowedBefore(input.status), sql`, `)}))`
      : undefined,
    // One of the two times may come from the row: end > start and ≤ 24 h are checked here too.
    moves ? sql`${end} > ${start} AND julianday(${end}) - julianday(${start}) <= 1` : undefined,
    moves || input.assigned_to !== undefined || input.status !== undefined
      ? sql`NOT (${isLive(status)} AND ${assignedTo} IS NOT NULL AND EXISTS (${overlapping(ctx, assignedTo, start, end, own('id'))}))`
      : undefined,
  );
  // A reminder was for the old start time: a move makes the appointment due for new ones.
  const set = input.start_time
    ? {
        reminders_sent: sql`CASE WHEN ${own('start_time')} = ${input.start_time} THEN ${own('reminders_sent')} ELSE
          ${JSON.stringify(NO_REMINDERS_SENT)} END`,
      }
    : undefined;
  let result;
  try {
    result = await auditedUpdate(ctx, appointments, id, input, described('update'), { guard, set });
  } catch (error) {
    throw customerError(error);
  }
  return result.changed ? result.row : await refusedOrUnchanged(ctx, result.row, input);
}

/** The statuses `to` may follow. */
const allowedBefore = (to: AppointmentStatus) =>
  (Object.keys(NEXT_STATUSES) as AppointmentStatus[])
    .filter((from) => NEXT_STATUSES[from].includes(to))
    .map((from) => sql`${from}`)
    .concat(sql`NULL`);

/** Nothing was written: the patch changed nothing (200, the row), or which guard refused it. */
async function refusedOrUnchanged(ctx: TenantContext, row: Appointment, patch: AppointmentPatch): Promise<Appointment> {
  const fields = Object.keys(patch) as (keyof AppointmentPatch)[];
  if (fields.every((f) => patch[f] === undefined || patch[f] === row[f])) return row;
  if (patch.status && patch.status !== row.status && !NEXT_STATUSES[row.status].includes(patch.status)) {
    throw conflict(
      `An appointment that is ${row.status} cannot become ${patch.status}` +
        (NEXT_STATUSES[row.status].length
          ? ` (it may become ${NEXT_STATUSES[row.status].join(', ')}).`
          : ': its status is final.'),
    );
  }
  const start = patch.start_time ?? row.start_time;
  const end = patch.end_time ?? row.end_time;
  const durationError = checkTimes(start, end);
  if (durationError) throw invalid('end_time', durationError);
  throw await doubleBooked(ctx, (patch.assigned_to ?? row.assigned_to)!, start, end, row.id);
}

/** Why [start, end) is not a valid appointment, if it is not. */
export function checkTimes(start: string, end: string): string | undefined {
  const duration = Date.parse(end) - Date.parse(start);
  if (duration <= 0) return 'Must be after start_time.';
  if (duration > MAX_DURATION_MS) return 'An appointment lasts at most 24 hours.';
  return undefined;
}

export async function deleteAppointment({ ctx, id }: { ctx: TenantContext; id: string }) {
  requirePermission(ctx, 'appointments:delete');
  await auditedDelete(ctx, appointments, id, described('delete'));
}
