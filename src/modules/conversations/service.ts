// AI conversations. A user sees their own; whoever may delete conversations (admins and owners by
// default) sees every conversation of the organization. Others' conversations are 404, from the
// same query as a missing one. The messages are written only by the conversation's CHAT_SESSION
// object, when a turn ends (see src/realtime/chat-session.ts).
import { and, eq, sql, type SQL } from 'drizzle-orm';
import { ai_conversations, customers, projects, tasks, type ConversationMessage } from '../../db/tenant';
import type { CONTEXT_TYPES } from '../../db/enums';
import type { TenantContext } from '../../env';
import { actingUserId, requirePermission } from '../../auth/tenant';
import { uuidv7 } from '../../lib/ids';
import { newestFirst } from '../../lib/pagination';
import { invalid, notFound } from '../../lib/problem';
import { auditedDelete, auditedInsert, auditedUpdate } from '../activity/audit';
import type { Usage } from '../ai/providers';

export type Conversation = typeof ai_conversations.$inferSelect;
export type ContextType = (typeof CONTEXT_TYPES)[number];
export type ConversationInput = Pick<typeof ai_conversations.$inferInsert, 'title' | 'context_type' | 'context_id' | 'ai_model'>;
export type ConversationPatch = Partial<Pick<Conversation, 'title' | 'is_archived'>>;
export type ConversationFilters = {
  limit: number;
  cursor?: string;
  context_type?: ContextType;
  context_id?: string;
  archived?: boolean;
};

const described = (action: 'create' | 'update' | 'delete') => ({ action: `conversation.${action}` as const, resource_type: 'conversation' });

/** Who sees every conversation of the organization, not only their own. */
const seesAll = (ctx: TenantContext) => ctx.permissions.has('conversations:delete');

/** The visibility rule as a condition, inside every query that reads or changes a conversation. */
function visible(ctx: TenantContext): SQL | undefined {
  if (seesAll(ctx)) return undefined;
  // An actor with no user behind it (none reaches here today) sees nothing.
  return eq(ai_conversations.user_id, actingUserId(ctx.actor) ?? '');
}

export async function listConversations({ ctx, input }: { ctx: TenantContext; input: ConversationFilters }) {
  requirePermission(ctx, 'conversations:read');
  return newestFirst(ai_conversations.id, input, (after) =>
    ctx.store.select(
      ai_conversations,
      and(
        // A member's list is an equality on user_id: the (user_id, created_at) index.
        visible(ctx),
        input.context_type ? eq(ai_conversations.context_type, input.context_type) : undefined,
        input.context_id ? eq(ai_conversations.context_id, input.context_id) : undefined,
        input.archived === undefined ? undefined : eq(ai_conversations.is_archived, input.archived),
        after,
      ),
    ),
  );
}

export async function getConversation({ ctx, id }: { ctx: TenantContext; id: string }): Promise<Conversation> {
  requirePermission(ctx, 'conversations:read');
  const row = await ctx.store.select(ai_conversations, and(eq(ai_conversations.id, id), visible(ctx))).get();
  if (!row) throw notFound('conversation');
  return row;
}

const CONTEXT_TABLES = { project: projects, customer: customers, task: tasks } as const;

/** `general` has no context_id; the others name a row of their kind in this organization. */
async function assertContext(ctx: TenantContext, type: ContextType, id: string | null | undefined) {
  if (type === 'general') {
    if (id) throw invalid('context_id', 'A general conversation has no context_id.');
    return;
  }
  if (!id) throw invalid('context_id', `A ${type} conversation needs the ${type}'s id.`);
  const table = CONTEXT_TABLES[type];
  const row = await ctx.store.selectFields(table, { id: table.id }, eq(table.id, id)).get();
  if (!row) throw notFound(type);
}

export async function createConversation({ ctx, input }: { ctx: TenantContext; input: ConversationInput }) {
  requirePermission(ctx, 'conversations:write');
  const userId = actingUserId(ctx.actor);
  if (!userId) throw invalid('actor', 'Conversations belong to a user.');
  const contextType = input.context_type ?? 'general';
  await assertContext(ctx, contextType, input.context_id);
  const now = new Date().toISOString();
  return auditedInsert(ctx, ai_conversations, {
    ...input,
    context_type: contextType,
    context_id: input.context_id ?? null,
    id: uuidv7(),
    user_id: userId,
    conversation_data: [],
    usage_tokens: 0,
    is_archived: false,
    created_at: now,
    updated_at: now,
  }, described('create'));
}

export async function updateConversation({ ctx, id, input }: { ctx: TenantContext; id: string; input: ConversationPatch }) {
  requirePermission(ctx, 'conversations:write');
  const { row } = await auditedUpdate(ctx, ai_conversations, id, input, described('update'), { guard: visible(ctx) });
  // The guard hides others' conversations from the update; the re-read must hide them too.
  if (!seesAll(ctx) && row.user_id !== actingUserId(ctx.actor)) throw notFound('conversation');
  return row;
}

export async function deleteConversation({ ctx, id }: { ctx: TenantContext; id: string }) {
  requirePermission(ctx, 'conversations:delete');
  await auditedDelete(ctx, ai_conversations, id, described('delete'));
}

/**
 * A turn's messages appended and its tokens added, in one statement (the conversation's chat
 * object is its only writer of messages, so nothing else appends meanwhile). A conversation
 * deleted during the turn matches no row: nothing is written.
 */
export async function appendTurn(ctx: TenantContext, id: string, messages: ConversationMessage[], usage: Usage) {
  const appends = sql.join(messages.map((m) => sql`'$[#]', json(${JSON.stringify(m)})`), sql`, `);
  await ctx.store
    .update(
      ai_conversations,
      {
        conversation_data: sql`json_insert(${ai_conversations.conversation_data}, ${appends})`,
        usage_tokens: sql`${ai_conversations.usage_tokens} + ${usage.total_tokens}`,
        updated_at: new Date().toISOString(),
      },
      eq(ai_conversations.id, id),
    )
    .run();
}
