import { z } from '@hono/zod-openapi';
import { defineRoute, json, jsonBody, noContent, OrgParam, type TenantApp } from '../../lib/openapi';
import { pageOf, pageQuery } from '../../lib/pagination';
import { addMember, listMembers, removeMember, updateMember } from './service';
import { MemberCreate, MemberPatch, MemberSchema } from './schemas';

const params = z.object({ org: OrgParam });
const memberParams = z.object({ org: OrgParam, user_id: z.string().uuid() });
const tags = ['Members'];

export function registerMemberRoutes(app: TenantApp) {
  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/members',
      tags,
      summary: 'List members',
      permission: 'members:read',
      request: { params, query: z.object(pageQuery) },
      responses: { 200: json(pageOf(MemberSchema), 'A page of members, newest first') },
    }),
    async (c) => c.json(await listMembers({ ctx: c.get('tenant'), input: c.req.valid('query') }), 200),
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/orgs/{org}/members',
      beside: true,
      tags,
      permission: 'members:manage',
      summary: 'Add a member by email (someone not signed up yet joins on first sign-in)',
      request: { params, body: jsonBody(MemberCreate) },
      responses: { 201: json(MemberSchema, 'The member') },
    }),
    async (c) => c.json(await addMember({ ctx: c.get('tenant'), input: c.req.valid('json') }), 201),
  );

  app.openapi(
    defineRoute({
      method: 'patch',
      path: '/v1/orgs/{org}/members/{user_id}',
      beside: true,
      tags,
      permission: 'members:manage',
      summary: "Change a member's role or permissions (owners: owners:manage; the last owner stays)",
      request: { params: memberParams, body: jsonBody(MemberPatch) },
      responses: { 200: json(MemberSchema, 'The member') },
    }),
    async (c) =>
      c.json(
        await updateMember({ ctx: c.get('tenant'), userId: c.req.valid('param').user_id, input: c.req.valid('json') }),
        200,
      ),
  );

  app.openapi(
    defineRoute({
      method: 'delete',
      path: '/v1/orgs/{org}/members/{user_id}',
      beside: true,
      tags,
      permission: 'members:manage',
      selfParam: 'user_id',
      summary: 'Remove a member (anyone may remove themselves; the last owner stays)',
      request: { params: memberParams },
      responses: { 204: noContent },
    }),
    async (c) => {
      await removeMember({ ctx: c.get('tenant'), userId: c.req.valid('param').user_id });
      return c.body(null, 204);
    },
  );
}
