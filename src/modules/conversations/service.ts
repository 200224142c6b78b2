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
import { ApiError, invalid, notFound } from '../../lib/problem';
import { auditedDelete, auditedInsert, auditedUpdate } from '../activity/audit';
import type { Usage } from '../ai/providers';
import type { ConversationCreate, ConversationPatch, ConversationQuery } from './schemas';

export type Conversation = typeof ai_conversations.$inferSelect;
export type ContextType = (typeof CONTEXT_TYPES)[number];

const described = (action: 'create' | 'update' | 'delete') => ({
  action: `conversation.${action}` as const,
  resource_type: 'conversation',
});

/**
 * Who sees every conversation of the organization, not only their own: those who may delete them
 * (admins, owners), and platform staff, who may read any organization (each access audited).
 */
const seesAll = (ctx: TenantContext) =>
  ctx.permissions.has('conversations:delete') || (ctx.actor.type === 'user' && ctx.actor.user.role === 'admin');

/** The visibility rule for a conversation in hand (a socket's, re-checked as its access changes). */
export const maySee = (ctx: TenantContext, conversation: Pick<Conversation, 'user_id'>) =>
  ctx.permissions.has('conversations:read') && (seesAll(ctx) || conversation.user_id === actingUserId(ctx.actor));

/** The visibility rule as a condition, inside every query that reads or changes a conversation. */
function visible(ctx: TenantContext): SQL | undefined {
  if (seesAll(ctx)) return undefined;
  // An actor with no user behind it (none reaches here today) sees nothing.
  return eq(ai_conversations.user_id, actingUserId(ctx.actor) ?? '');
}

export async function listConversations({ ctx, input }: { ctx: TenantContext; input: ConversationQuery }) {
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

export async function createConversation({ ctx, input }: { ctx: TenantContext; input: ConversationCreate }) {
  requirePermission(ctx, 'conversations:write');
  const userId = actingUserId(ctx.actor);
  if (!userId) throw invalid('actor', 'Conversations belong to a user.');
  const contextType = input.context_type ?? 'general';
  await assertContext(ctx, contextType, input.context_id);
  const now = new Date().toISOString();
  return auditedInsert(
    ctx,
    ai_conversations,
    {
      ...input,
      context_type: contextType,
      context_id: input.context_id ?? null,
      id: uuidv7(),
      user_id: userId,
      conversation_data: [],
      usage_tokens: 0,
      is_archived: input.is_archived ?? false,
      created_at: now,
      updated_at: now,
    },
    described('create'),
  );
}

export async function updateConversation({
  ctx,
  id,
  input,
}: {
  ctx: TenantContext;
  id: string;
  input: ConversationPatch;
}) {
  requirePermission(ctx, 'conversations:write');
  let patch = input;
  if (input.context_type !== undefined) {
    await assertContext(ctx, input.context_type, input.context_id);
    patch = { ...input, context_id: input.context_id ?? null };
  }
  const { row } = await auditedUpdate(ctx, ai_conversations, id, patch, described('update'), { guard: visible(ctx) });
  // The guard hides others' conversations from the update; the re-read must hide them too.
  if (!maySee(ctx, row)) throw notFound('conversation');
  return row;
}

export async function deleteConversation({ ctx, id }: { ctx: TenantContext; id: string }) {
  requirePermission(ctx, 'conversations:delete');
  await auditedDelete(ctx, ai_conversations, id, described('delete'));
}

/**
 * A conversation is one D1 row (at most 2 MB): it takes turns until it holds this many messages or
 * bytes, then new ones are refused with 409 `conversation_full` (start a new conversation; nothing
 * stored is ever dropped). One turn adds well under the rest of the row: its user message (32 KB at
 * most), answers capped at AI_MAX_COMPLETION_TOKENS a round, and at most MAX_TOOL_ROUNDS ×
 * MAX_TOOL_CALLS_PER_ROUND tool results of bounded lists.
 */
export const CONVERSATION_LIMITS = { maxMessages: 500, maxBytes: 1_000_000 } as const;

export function assertRoomForTurn(conversation: Pick<Conversation, 'conversation_data'>): void {
  const messages = conversation.conversation_data;
  if (
    messages.length >= CONVERSATION_LIMITS.maxMessages ||
    new TextEncoder().encode(JSON.stringify(messages)).length >= CONVERSATION_LIMITS.maxBytes
  ) {
    throw new ApiError(
      'conversation_full',
      `This conversation is full (${CONVERSATION_LIMITS.maxMessages} messages or ` +
        `${CONVERSATION_LIMITS.maxBytes / 1_000_000} MB): start a new one.`,
    );
  }
}

/**
 * A turn's messages appended and its tokens added, in one statement (the conversation's chat
 * object is its only writer of messages, so nothing else appends meanwhile). A conversation
 * deleted during the turn matches no row: nothing is written. The messages go as one JSON array,
 * joined to the stored one as text and checked by json(): the same few bound parameters however
 * many messages (D1 binds at most 100 a statement).
 */
export async function appendTurn(ctx: TenantContext, id: string, messages: ConversationMessage[], usage: Usage) {
  const stored = sql`json(${ai_conversations.conversation_data})`;
  const added = JSON.stringify(messages);
  const written = await ctx.store
    .update(
      ai_conversations,
      {
        conversation_data: sql`json(CASE json_array_length(${stored}) WHEN 0 THEN ${added} ELSE substr(${stored}, 1,
          length(${stored}) - 1) || ',' || substr(${added}, 2) END)`,
        usage_tokens: sql`${ai_conversations.usage_tokens} + ${usage.total_tokens}`,
        updated_at: new Date().toISOString(),
      },
      eq(ai_conversations.id, id),
    )
    .returning({ id: ai_conversations.id });
  if (written.length === 0) throw notFound('conversation');
}
