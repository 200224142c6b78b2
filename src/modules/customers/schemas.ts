// Customers' shapes, one per action: the read shape, create, patch and the list query.
import { z } from '@hono/zod-openapi';
import { CUSTOMER_SOURCES, CUSTOMER_STATUSES } from '../../db/enums';
import { CreatedBy, Email, Id, JsonObject, SearchText, SERVER_SET, TagFilter, Tags } from '../../lib/fields';
import { pageQuery } from '../../lib/pagination';

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

export const CustomerCreate = z.object(fields).partial().required({ name: true }).strict().openapi('CustomerCreate');
export const CustomerPatch = z.object(fields).partial().strict().openapi('CustomerPatch');

export const CustomerQuery = z.object({
  ...pageQuery,
  status: z.enum(CUSTOMER_STATUSES).optional(),
  source: z.enum(CUSTOMER_SOURCES).optional(),
  tag: TagFilter,
  assigned_to: Id.optional(),
  q: SearchText.openapi({
    description: 'Words (or word beginnings) of name, email or company; empty: no search',
  }),
});

export type CustomerCreate = z.output<typeof CustomerCreate>;
export type CustomerPatch = z.output<typeof CustomerPatch>;
export type CustomerQuery = z.output<typeof CustomerQuery>;
