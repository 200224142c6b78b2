// Projects' shapes: the read shape, create, patch, the list query and one project's query.
import { z } from '@hono/zod-openapi';
import { PRIORITIES, PROJECT_STATUSES } from '../../db/enums';
import { CreatedBy, Derived, Hundredths, Id, IsoDate, SERVER_SET, Tags } from '../../lib/fields';
import { pageQuery } from '../../lib/pagination';

export const ProjectSchema = z
  .object({
    id: Id,
    organization_id: Id,
    customer_id: z.string().nullable(),
    name: z.string(),
    description: z.string().nullable(),
    status: z.enum(PROJECT_STATUSES),
    priority: z.enum(PRIORITIES),
    start_date: z.string().nullable().openapi({ format: 'date' }),
    due_date: z.string().nullable().openapi({ format: 'date' }),
    completion_date: z.string().nullable().openapi({
      format: 'date',
      description: 'Set (UTC date) when the status becomes `completed`, cleared when it leaves it',
    }),
    budget: z.number().nullable().openapi({ description: 'Exact to the cent' }),
    progress_percentage: z
      .number()
      .int()
      .openapi({ description: 'Stored value, or derived from tasks with `?derive=progress`' }),
    project_manager_id: z.string().nullable(),
    tags: z.array(z.string()),
    created_by: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Project');

const fields = {
  name: z.string().trim().min(1).max(200),
  description: z.string().max(10_000).nullable(),
  status: z.enum(PROJECT_STATUSES).openapi({ description: 'Default `planning`' }),
  priority: z.enum(PRIORITIES).openapi({ description: 'Default `medium`' }),
  start_date: IsoDate.nullable(),
  due_date: IsoDate.nullable().openapi({ description: 'On or after `start_date`' }),
  budget: Hundredths(1e12).nullable(),
  progress_percentage: z.number().int().min(0).max(100),
  project_manager_id: Id.nullable().openapi({ description: 'A member of the organization' }),
  customer_id: Id.nullable().openapi({ description: 'A customer of the organization' }),
  tags: Tags,
  ...SERVER_SET,
  completion_date: Derived('set to today (UTC) when `status` becomes `completed`, cleared when it leaves it.'),
  created_by: CreatedBy,
};

type Dates = { start_date?: string | null; due_date?: string | null };

const DATES_IN_ORDER = {
  path: ['due_date'],
  message: 'Must be on or after start_date.',
  // Checked even when other fields are invalid, so one answer names every problem.
  when: ({ value, issues }: { value: unknown; issues: { path?: PropertyKey[] }[] }) =>
    typeof value === 'object' &&
    value !== null &&
    !issues.some((i) => i.path?.[0] === 'start_date' || i.path?.[0] === 'due_date'),
};

/** When both dates are in the body; a PATCH of one of them is checked by the database. */
const datesInOrder = ({ start_date, due_date }: Dates) => !start_date || !due_date || due_date >= start_date;

export const ProjectCreate = z
  .object(fields)
  .partial()
  .required({ name: true })
  .strict()
  .refine(datesInOrder, DATES_IN_ORDER)
  .openapi('ProjectCreate');

export const ProjectPatch = z
  .object(fields)
  .partial()
  .strict()
  .refine(datesInOrder, DATES_IN_ORDER)
  .openapi('ProjectPatch');

const derive = z
  .enum(['progress'])
  .optional()
  .openapi({
    description:
      '`progress`: `progress_percentage` is computed from the tasks, in the same query, as round(100 × done / (all − cancelled)); 0 when ' +
      'no task counts',
  });

export const ProjectQuery = z.object({
  ...pageQuery,
  status: z.enum(PROJECT_STATUSES).optional(),
  priority: z.enum(PRIORITIES).optional(),
  customer_id: Id.optional(),
  project_manager_id: Id.optional(),
  due_before: IsoDate.optional().openapi({ description: 'Projects due strictly before this date' }),
  derive,
});

export const ProjectItemQuery = z.object({ derive });

export type ProjectCreate = z.output<typeof ProjectCreate>;
export type ProjectPatch = z.output<typeof ProjectPatch>;
export type ProjectQuery = z.output<typeof ProjectQuery>;
export type ProjectItemQuery = z.output<typeof ProjectItemQuery>;
