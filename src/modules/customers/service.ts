// Customers (CRM). Every write is one shard batch with its audit row.
import { and, eq, sql, type SQL } from 'drizzle-orm';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import { appointments, customers, projects } from '../../db/tenant';
import type { TenantContext } from '../../env';
import { actingUserId, requirePermission } from '../../auth/tenant';
import { hasAllTags } from '../../db/columns';
import { uuidv7 } from '../../lib/ids';
import { newestFirst } from '../../lib/pagination';
import { notFound } from '../../lib/problem';
import { auditedDelete, auditedInsert, auditedUpdate } from '../activity/audit';
import { assertMember } from '../members/service';
import { matchesWords } from '../../lib/text';
import type { CustomerCreate, CustomerPatch, CustomerQuery } from './schemas';

export type Customer = typeof customers.$inferSelect;

const described = (action: 'create' | 'update' | 'delete') => ({
  action: `customer.${action}` as const,
  resource_type: 'customer',
});

/**
 * What a global `client` user may see of records that name a customer (projects, appointments):
 * those of the customer whose email is theirs (none when no customer has it). Undefined for
 * everyone else. `customerId` is the record's customer column.
 */
export function clientCustomerScope(ctx: TenantContext, customerId: SQLiteColumn): SQL | undefined {
  if (ctx.clientEmail === null) return undefined;
  return sql`${customerId} IN ${ctx.store.subquery(customers, customers.id, eq(customers.email, ctx.clientEmail.toLowerCase()))}`;
}

export async function listCustomers({ ctx, input }: { ctx: TenantContext; input: CustomerQuery }) {
  requirePermission(ctx, 'customers:read');
  return newestFirst(customers.id, input, (after) =>
    ctx.store.select(
      customers,
      and(
        input.status ? eq(customers.status, input.status) : undefined,
        input.source ? eq(customers.source, input.source) : undefined,
        input.assigned_to ? eq(customers.assigned_to, input.assigned_to) : undefined,
        input.q ? matchesWords(customers, 'customers_fts', input.q, ctx.organization.id) : undefined,
        ...hasAllTags(customers.tags, input.tag),
        after,
      ),
    ),
  );
}

export async function getCustomer({ ctx, id }: { ctx: TenantContext; id: string }) {
  requirePermission(ctx, 'customers:read');
  const row = await ctx.store.select(customers, eq(customers.id, id)).get();
  if (!row) throw notFound('customer');
  return row;
}

export async function createCustomer({ ctx, input }: { ctx: TenantContext; input: CustomerCreate }) {
  requirePermission(ctx, 'customers:write');
  await assertMember(ctx, 'assigned_to', input.assigned_to);
  const now = new Date().toISOString();
  return auditedInsert(
    ctx,
    customers,
    { ...input, id: uuidv7(), created_by: actingUserId(ctx.actor), created_at: now, updated_at: now },
    described('create'),
  );
}

export async function updateCustomer({ ctx, id, input }: { ctx: TenantContext; id: string; input: CustomerPatch }) {
  requirePermission(ctx, 'customers:write');
  await assertMember(ctx, 'assigned_to', input.assigned_to);
  return (await auditedUpdate(ctx, customers, id, input, described('update'))).row;
}

export async function deleteCustomer({ ctx, id }: { ctx: TenantContext; id: string }) {
  requirePermission(ctx, 'customers:delete');
  // Projects and appointments outlive their customer: their reference is cleared first.
  await auditedDelete(ctx, customers, id, described('delete'), [
    ctx.store.update(projects, { customer_id: null }, eq(projects.customer_id, id)),
    ctx.store.update(appointments, { customer_id: null }, eq(appointments.customer_id, id)),
  ]);
}
