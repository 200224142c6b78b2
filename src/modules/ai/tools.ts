// The function tools a model may call. The catalog (ai_tools) says which exist, what they take
// (configuration.parameters) and the tier they need; this file says what each function_name does:
// it calls the module's own service with the caller's permissions under an AI actor, so its audit
// rows read actor_type 'ai'.
import { z } from '@hono/zod-openapi';
import { eq } from 'drizzle-orm';
import { ai_tools } from '../../db/catalog';
import type { Actor, Bindings, TenantContext } from '../../env';
import { toPortable } from '../../auth/tenant';
import { Hundredths, Id, InstantOrDate } from '../../lib/fields';
import { ApiError } from '../../lib/problem';
import { tierAllows } from '../billing/tiers';
import { CustomerQuery } from '../customers/schemas';
import { listCustomers } from '../customers/service';
import { TaskCreateTool, TaskQueryTool } from '../tasks/schemas';
import { createTask, listTasks } from '../tasks/service';
import type { FunctionTool, ToolCall } from './providers';

type ToolImplementation = {
  arguments: z.ZodTypeAny;
  run: (ctx: TenantContext, args: any, env: Bindings) => Promise<unknown>;
};

const IMPLEMENTATIONS: Record<string, ToolImplementation> = {
  search_customers: {
    // The list query's filter; `query` (not `q`) and a 1–25 JSON-number limit are what the catalog row declares.
    arguments: CustomerQuery.pick({ status: true }).extend({
      query: z.string().min(1).max(200),
      limit: z.number().int().min(1).max(25).default(10),
    }),
    run: async (ctx, args) => {
      const page = await listCustomers({ ctx, input: { q: args.query, status: args.status, limit: args.limit } });
      return page.data.map(({ id, name, email, company, status }) => ({ id, name, email, company, status }));
    },
  },
  list_project_tasks: {
    arguments: TaskQueryTool,
    run: async (ctx, args: z.infer<typeof TaskQueryTool>) => {
      const page = await listTasks({
        ctx,
        input: {
          project_id: args.project_id,
          status: args.status,
          assigned_to: args.assigned_to_me ? 'me' : undefined,
          limit: 50,
        },
      });
      return page.data.map(({ id, title, status, priority, assigned_to, due_date }) => ({
        id,
        title,
        status,
        priority,
        assigned_to,
        due_date,
      }));
    },
  },
  create_task: {
    arguments: TaskCreateTool,
    run: async (ctx, { project_id, ...input }: z.infer<typeof TaskCreateTool>, env) => {
      const { id, title, status, priority, position } = await createTask({ ctx, env, projectId: project_id, input });
      return { id, title, status, priority, position };
    },
  },
};

export type OfferedTools = { definitions: FunctionTool[]; names: ReadonlySet<string> };

/** The catalog changes rarely: each isolate reads it at most once a minute, not once a turn. */
const CATALOG_TTL_MS = 60_000;
let activeTools: { rows: Promise<(typeof ai_tools.$inferSelect)[]>; expires: number } | undefined;

function activeCatalog(ctx: TenantContext) {
  if (!activeTools || activeTools.expires <= Date.now()) {
    const rows = ctx.catalog
      .select()
      .from(ai_tools)
      .where(eq(ai_tools.is_active, true))
      .then(
        (r) => r,
        (error) => {
          activeTools = undefined; // a failed read is not kept
          throw error;
        },
      );
    activeTools = { rows, expires: Date.now() + CATALOG_TTL_MS };
  }
  return activeTools.rows;
}

/** A tool whose configuration has no `parameters` takes none. */
const NO_ARGUMENTS = { type: 'object', properties: {} };

/** The active catalog tools the organization's tier allows and this code implements. */
export async function offeredTools(ctx: TenantContext): Promise<OfferedTools> {
  const rows = await activeCatalog(ctx);
  const offered = rows.filter(
    (tool) => IMPLEMENTATIONS[tool.function_name] && tierAllows(ctx.organization.tier, tool.required_tier),
  );
  return {
    definitions: offered.map((tool) => ({
      type: 'function',
      function: {
        name: tool.function_name,
        ...(tool.description ? { description: tool.description } : {}),
        parameters: tool.configuration.parameters ?? NO_ARGUMENTS,
      },
    })),
    names: new Set(offered.map((tool) => tool.function_name)),
  };
}

/** The caller's context with the assistant as actor: same permissions, audited as 'ai'. */
export function asAssistant(ctx: TenantContext, conversationId: string): TenantContext {
  const onBehalfOf = ctx.actor.type === 'ai' ? ctx.actor.onBehalfOf : ctx.actor;
  const actor: Actor = { type: 'ai', conversationId, onBehalfOf };
  return { ...ctx, actor };
}

/**
 * Runs one call and answers what goes back to the model: the result, or an error it can read
 * and act on (a refused permission, a missing project, bad arguments). Never throws for those.
 */
export async function runTool(
  ctx: TenantContext,
  env: Bindings,
  offered: OfferedTools,
  call: ToolCall,
): Promise<unknown> {
  const implementation = IMPLEMENTATIONS[call.name];
  if (!implementation || !offered.names.has(call.name))
    return { error: 'unknown_tool', detail: `No tool named ${call.name} is available.` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(call.arguments || '{}');
  } catch {
    return { error: 'invalid_arguments', detail: 'The arguments are not JSON.' };
  }
  const args = implementation.arguments.safeParse(parsed);
  if (!args.success) {
    return {
      error: 'invalid_arguments',
      errors: args.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    };
  }
  try {
    return { result: await implementation.run(ctx, args.data, env) };
  } catch (error) {
    if (error instanceof ApiError)
      return { error: error.code, detail: error.detail, ...(error.errors ? { errors: error.errors } : {}) };
    throw error;
  }
}
