// Organizations' shapes: the read shape, create and patch.
import { z } from '@hono/zod-openapi';
import { DATA_REGIONS, MEMBER_ROLES, ORG_SUBSCRIPTION_STATUSES } from '../../db/enums';
import { Derived, Email, JsonObject, WebUrl } from '../../lib/fields';

/** 1–48 lower-case letters, digits and hyphens, neither first nor last a hyphen. */
export const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$/;

const Slug = z.string().regex(SLUG_PATTERN, 'Lower-case letters, digits and hyphens, 1–48 characters.');

export const OrganizationSchema = z
  .object({
    id: z.string().uuid(),
    slug: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    logo_url: z.string().nullable(),
    website: z.string().nullable(),
    settings: z.record(z.string(), z.unknown()),
    subscription_status: z.enum(ORG_SUBSCRIPTION_STATUSES).openapi({
      description:
        'Derived from the subscription: `trial` while trialing, `active` while its tier applies (active, past_due), `inactive` otherwise',
    }),
    billing_email: z.string().nullable().openapi({ description: "The Stripe customer's email at checkout" }),
    data_region: z.enum(DATA_REGIONS).nullable().openapi({
      description: "Where the organization's data lives: its shard's location hint, or `eu` (EU jurisdiction)",
    }),
    role: z.enum(MEMBER_ROLES).nullable().openapi({ description: "The caller's role; null for platform staff" }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Organization');

/** What a client may write; `subscription_status` is derived and refused (400) when sent. */
const fields = {
  name: z.string().trim().min(1).max(120),
  slug: Slug,
  description: z.string().max(2000).nullable(),
  logo_url: WebUrl().nullable(),
  website: WebUrl().nullable(),
  settings: JsonObject(16),
  billing_email: Email.nullable(),
  subscription_status: Derived(
    'subscription_status is derived from the subscription (trial while trialing, active while its tier applies, inactive otherwise): ' +
      'it changes through billing, not here.',
  ),
  data_region: Derived(
    "data_region is where the organization's data lives: changing it is a move of the organization to a shard " +
      'of another region, which platform admins make.',
  ),
};

export const OrganizationCreate = z
  .object({
    ...fields,
    slug: fields.slug.openapi({ description: 'Derived from the name when absent' }),
    data_region: z.enum(DATA_REGIONS).openapi({
      description:
        "Where the organization's data lives (a location hint, or `eu`: EU jurisdiction); " +
        'when absent, the region nearest the request',
    }),
  })
  .partial()
  .required({ name: true })
  .strict()
  .openapi('OrganizationCreate');

export const OrganizationPatch = z.object(fields).partial().strict().openapi('OrganizationPatch');

export type OrganizationCreate = z.output<typeof OrganizationCreate>;
export type OrganizationPatch = z.output<typeof OrganizationPatch>;
