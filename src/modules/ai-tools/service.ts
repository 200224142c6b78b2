// The AI tools catalog: platform-wide (in the catalog database), read by every signed-in user,
// written by platform staff (global role `admin`). Which tools an organization may use is its
// tier's business: `available` here, and only those are offered to the model.
import { eq } from 'drizzle-orm';
import { ai_tools } from '../../db/catalog';
import { isUniqueViolation } from '../../db/errors';
import type { CatalogDb } from '../../db/shards';
import type { SessionUser, TenantContext } from '../../env';
import { requirePermission } from '../../auth/tenant';
import { requirePlatformAdmin } from '../../auth/users';
import { uuidv7 } from '../../lib/ids';
import { newestFirst } from '../../lib/pagination';
import { conflict, notFound } from '../../lib/problem';
import { slugify } from '../../lib/text';
import { tierAllows } from '../billing/tiers';
import type { AiToolCreate, AiToolPatch } from './schemas';

export type AiTool = typeof ai_tools.$inferSelect;
/** The model-facing function name of a tool named `name`: "Sales Chatbot" → sales_chatbot (the providers allow [a-zA-Z0-9_-]{1,64}). */
export const functionName = (name: string) => slugify(name, 64, '_');

const nameTaken = (error: unknown, input: { name?: string }) =>
  input.name !== undefined && isUniqueViolation(error, 'function_name')
    ? conflict(`Another tool's name makes the same function name (${functionName(input.name)}): choose another name.`)
    : error;

/** A page of the catalog, newest first (like every list). */
export const listAiTools = (catalog: CatalogDb, page: { limit: number; cursor?: string }) =>
  newestFirst(ai_tools.id, page, (after) => catalog.select().from(ai_tools).where(after).$dynamic());

export async function createAiTool(catalog: CatalogDb, user: SessionUser, input: AiToolCreate): Promise<AiTool> {
  requirePlatformAdmin(user);
  const now = new Date().toISOString();
  try {
    const [row] = await catalog
      .insert(ai_tools)
      .values({ ...input, function_name: functionName(input.name), id: uuidv7(), created_at: now, updated_at: now })
      .returning();
    return row!;
  } catch (error) {
    throw nameTaken(error, input);
  }
}

export async function updateAiTool(
  catalog: CatalogDb,
  user: SessionUser,
  id: string,
  input: AiToolPatch,
): Promise<AiTool> {
  requirePlatformAdmin(user);
  try {
    const renamed = input.name === undefined ? {} : { function_name: functionName(input.name) };
    const [row] = await catalog
      .update(ai_tools)
      .set({ ...input, ...renamed, updated_at: new Date().toISOString() })
      .where(eq(ai_tools.id, id))
      .returning();
    if (!row) throw notFound('tool');
    return row;
  } catch (error) {
    throw nameTaken(error, input);
  }
}

/** The catalog with `available`: active and allowed by the organization's tier. */
export async function organizationAiTools({
  ctx,
  input,
}: {
  ctx: TenantContext;
  input: { limit: number; cursor?: string };
}) {
  requirePermission(ctx, 'ai_tools:read');
  const page = await listAiTools(ctx.catalog, input);
  return {
    ...page,
    data: page.data.map((tool) => ({
      ...tool,
      available: tool.is_active && tierAllows(ctx.organization.tier, tool.required_tier),
    })),
  };
}
