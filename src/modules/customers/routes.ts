import { z } from '@hono/zod-openapi';
import { CUSTOMER_SOURCES, CUSTOMER_STATUSES } from '../../db/enums';
import { CreatedBy, Email, Id, JsonObject, SearchText, SERVER_SET, TagFilter, Tags } from '../../lib/fields';
import { defineRoute, json, jsonBody, noContent, OrgParam, type App } from '../../lib/openapi';
import { pageOf, pageQuery } from '../../lib/pagination';
import { createCustomer, deleteCustomer, getCustomer, listCustomers, updateCustomer } from './service';

export const CustomerSchema = z
  .object({
    id: Id,
    organization_id: Id,
    name: z.string(),
    email: z.string().nullable(),
    phone: z.string().nullable(),
    company: z.string().nullable(),
    status: z.enum(CUSTOMER_STATUSES),
    source: z.enum(CUSTOMER_SOURCES).nullable(),
    tags: z.array(z.string()),
    custom_fields: z.record(z.string(), z.unknown()),
    assigned_to: z.string().nullable(),
    notes: z.string().nullable(),
    created_by: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Customer');

const fields = {
  name: z.string().trim().min(1).max(200),
  email: Email.nullable(),
  phone: z.string().trim().max(50).nullable(),
  company: z.string().trim().max(200).nullable(),
  status: z.enum(CUSTOMER_STATUSES),
  source: z.enum(CUSTOMER_SOURCES).nullable(),
  tags: Tags,
  custom_fields: JsonObject(16).openapi({ description: 'Any JSON object, kept as sent (≤ 16 KB)' }),
  assigned_to: Id.nullable().openapi({ description: 'A member of the organization' }),
  notes: z.string().max(10_000).nullable(),
  ...SERVER_SET,
  created_by: CreatedBy,
};

const CustomerCreate = z.object(fields).partial().required({ name: true }).strict().openapi('CustomerCreate');
const CustomerPatch = z.object(fields).partial().strict().openapi('CustomerPatch');

const CustomerQuery = z.object({
  ...pageQuery,
  status: z.enum(CUSTOMER_STATUSES).optional(),
  source: z.enum(CUSTOMER_SOURCES).optional(),
  tag: TagFilter,
  assigned_to: Id.optional(),
  q: SearchText.openapi({
    description: 'Words (or word beginnings) of name, email or company; empty: no search',
  }),
});

const params = z.object({ org: OrgParam });
const itemParams = z.object({ org: OrgParam, id: Id });
const tags = ['Customers'];

export function registerCustomerRoutes(app: App) {
  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/customers',
      tags,
      summary: 'List customers, newest first',
      permission: 'customers:read',
      request: { params, query: CustomerQuery },
      responses: { 200: json(pageOf(CustomerSchema), 'A page of customers') },
    }),
    async (c) => c.json(await listCustomers({ ctx: c.get('tenant'), input: c.req.valid('query') }), 200),
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/orgs/{org}/customers',
      tags,
      summary: 'Create a customer',
      permission: 'customers:write',
      request: { params, body: jsonBody(CustomerCreate) },
      responses: { 201: json(CustomerSchema, 'The customer') },
    }),
    async (c) => c.json(await createCustomer({ ctx: c.get('tenant'), input: c.req.valid('json') }), 201),
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/customers/{id}',
      tags,
      summary: 'Get a customer',
      permission: 'customers:read',
      request: { params: itemParams },
      responses: { 200: json(CustomerSchema, 'The customer') },
    }),
    async (c) => c.json(await getCustomer({ ctx: c.get('tenant'), id: c.req.valid('param').id }), 200),
  );

  app.openapi(
    defineRoute({
      method: 'patch',
      path: '/v1/orgs/{org}/customers/{id}',
      tags,
      summary: 'Update a customer',
      permission: 'customers:write',
      request: { params: itemParams, body: jsonBody(CustomerPatch) },
      responses: { 200: json(CustomerSchema, 'The customer') },
    }),
    async (c) =>
      c.json(
        await updateCustomer({ ctx: c.get('tenant'), id: c.req.valid('param').id, input: c.req.valid('json') }),
        200,
      ),
  );

  app.openapi(
    defineRoute({
      method: 'delete',
      path: '/v1/orgs/{org}/customers/{id}',
      tags,
      summary: 'Delete a customer (its projects and appointments stay, unlinked)',
      permission: 'customers:delete',
      request: { params: itemParams },
      responses: { 204: noContent },
    }),
    async (c) => {
      await deleteCustomer({ ctx: c.get('tenant'), id: c.req.valid('param').id });
      return c.body(null, 204);
    },
  );
}
