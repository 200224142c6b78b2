// Conversations' shapes: a message, the read shape, create, patch, a message to send and the list query.
import { z } from '@hono/zod-openapi';
import { AI_MODELS, CONTEXT_TYPES } from '../../db/enums';
import { Derived, Id, SERVER_SET } from '../../lib/fields';
import { pageQuery } from '../../lib/pagination';

const Usage = z.object({
  prompt_tokens: z.number().int(),
  completion_tokens: z.number().int(),
  total_tokens: z.number().int(),
});

export const MessageSchema = z
  .object({
    id: Id.optional(),
    role: z.enum(['user', 'assistant', 'system', 'tool']),
    content: z.string(),
    created_at: z.string(),
    model: z
      .string()
      .optional()
      .openapi({ description: 'The model that answered; `local/…` for the built-in offline provider' }),
    usage: Usage.optional(),
    status: z.enum(['complete', 'cancelled', 'failed']).optional(),
    error: z.object({ code: z.string(), detail: z.string() }).optional(),
    tool: z
      .object({ name: z.string(), arguments: z.string() })
      .optional()
      .openapi({ description: 'A tool message: the call; `content` is its result' }),
  })
  .openapi('ConversationMessage');

export const ConversationSchema = z
  .object({
    id: Id,
    organization_id: Id,
    user_id: z.string(),
    title: z.string().nullable(),
    context_type: z.enum(CONTEXT_TYPES),
    context_id: Id.nullable(),
    ai_model: z.enum(AI_MODELS),
    conversation_data: z.array(MessageSchema),
    usage_tokens: z.number().int(),
    is_archived: z.boolean(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Conversation');

const fields = {
  title: z.string().trim().min(1).max(200).nullable(),
  context_type: z.enum(CONTEXT_TYPES).openapi({ description: 'Default `general`' }),
  context_id: Id.nullable().openapi({
    description: 'The project, customer or task (of this organization); none for `general`',
  }),
  ai_model: z.enum(AI_MODELS).openapi({ description: 'Default `openai_gpt4`; the next answer uses a changed one' }),
  is_archived: z.boolean(),
  ...SERVER_SET,
  user_id: Derived("the acting user (an API key's creator): a conversation is its creator's."),
  conversation_data: Derived('each turn appends its messages: POST …/conversations/{id}/messages or the socket.'),
  usage_tokens: Derived("each turn adds its model's token usage."),
};

export const ConversationCreate = z.object(fields).partial().strict().openapi('ConversationCreate');

/** The subject changes as a whole: `context_id` means nothing without the type it names. */
export const ConversationPatch = z
  .object(fields)
  .partial()
  .strict()
  .refine((patch) => patch.context_id === undefined || patch.context_type !== undefined, {
    path: ['context_type'],
    message: 'Send context_type with context_id.',
  })
  .openapi('ConversationPatch');

/** A user message: at most 8,000 characters; a socket message at most 32 KB. */
export const CHAT_LIMITS = { maxContentChars: 8000, maxMessageBytes: 32 * 1024 } as const;

/** A user message: POST …/messages, and the socket's `user_message`. */
export const MessageCreate = z
  .object({ content: z.string().trim().min(1).max(CHAT_LIMITS.maxContentChars) })
  .strict()
  .openapi('MessageCreate');

export const ConversationQuery = z.object({
  ...pageQuery,
  context_type: z.enum(CONTEXT_TYPES).optional(),
  context_id: Id.optional(),
  archived: z
    .enum(['true', 'false'])
    .transform((value) => value === 'true')
    .optional(),
});

export type ConversationCreate = z.output<typeof ConversationCreate>;
export type ConversationPatch = z.output<typeof ConversationPatch>;
export type ConversationQuery = z.output<typeof ConversationQuery>;
