import { z } from '@hono/zod-openapi';
import { Id } from '../../lib/fields';
import { defineRoute, json, jsonBody, noContent, OrgParam, type TenantApp } from '../../lib/openapi';
import { pageOf } from '../../lib/pagination';
import { createCustomer, deleteCustomer, getCustomer, listCustomers, updateCustomer } from './service';
import { CustomerCreate, CustomerPatch, CustomerQuery, CustomerSchema } from './schemas';

const params = z.object({ org: OrgParam });
const itemParams = z.object({ org: OrgParam, id: Id });
const tags = ['Customers'];

export function registerCustomerRoutes(app: TenantApp) {
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
