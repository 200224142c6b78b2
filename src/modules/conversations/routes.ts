import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { AI_MODELS, CONTEXT_TYPES } from '../../db/enums';
import type { AppEnv } from '../../env';
import { placedObject } from '../../db/places';
import { toPortable } from '../../auth/tenant';
import { Derived, Id, SERVER_SET } from '../../lib/fields';
import { defineRoute, json, jsonBody, noContent, OrgParam, type App } from '../../lib/openapi';
import { pageOf, pageQuery } from '../../lib/pagination';
import { ApiError } from '../../lib/problem';
import { rateLimitKey } from '../../middleware/rate-limit';
import { CHAT_LIMITS, unwrapChatResponse } from '../../realtime/chat-session';
import { ACCESS_ENDED_CLOSE_CODE, ACCESS_RECHECK_MS, RATE_LIMIT_KEY_HEADER } from '../../realtime/socket-access';
import {
  CONVERSATION_LIMITS,
  createConversation,
  deleteConversation,
  getConversation,
  listConversations,
  updateConversation,
} from './service';

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

const ConversationCreate = z.object(fields).partial().strict().openapi('ConversationCreate');

/** The subject changes as a whole: `context_id` means nothing without the type it names. */
const ConversationPatch = z
  .object(fields)
  .partial()
  .strict()
  .refine((patch) => patch.context_id === undefined || patch.context_type !== undefined, {
    path: ['context_type'],
    message: 'Send context_type with context_id.',
  })
  .openapi('ConversationPatch');

const MessageCreate = z
  .object({ content: z.string().trim().min(1).max(CHAT_LIMITS.maxContentChars) })
  .strict()
  .openapi('MessageCreate');

const ConversationQuery = z.object({
  ...pageQuery,
  context_type: z.enum(CONTEXT_TYPES).optional(),
  context_id: Id.optional(),
  archived: z
    .enum(['true', 'false'])
    .transform((value) => value === 'true')
    .optional(),
});

const params = z.object({ org: OrgParam });
const itemParams = z.object({ org: OrgParam, id: Id });
const tags = ['AI assistant'];

/** The conversation's CHAT_SESSION object (one per conversation). */
function chatSessionStub(c: Context<AppEnv>, id: string) {
  const { organization } = c.get('tenant');
  return placedObject(c.env, c.env.CHAT_SESSION, organization, `${organization.id}:${id}`);
}

/** The conversation's CHAT_SESSION object, after checking the caller may see the conversation. */
async function chatSession(c: Context<AppEnv>, id: string) {
  const ctx = c.get('tenant');
  await getConversation({ ctx, id });
  const headers = new Headers(c.req.raw.headers);
  headers.set('x-strive-context', JSON.stringify(toPortable(ctx)));
  headers.set('x-strive-conversation', id);
  headers.delete('content-length'); // the body handed on is the validated one
  return { stub: chatSessionStub(c, id), headers };
}

export function registerConversationRoutes(app: App) {
  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/conversations',
      tags,
      permission: 'conversations:read',
      summary: "List conversations, newest first: the caller's own (everyone's for those who may delete conversations)",
      request: { params, query: ConversationQuery },
      responses: { 200: json(pageOf(ConversationSchema), 'A page of conversations') },
    }),
    async (c) => c.json(await listConversations({ ctx: c.get('tenant'), input: c.req.valid('query') }), 200),
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/orgs/{org}/conversations',
      tags,
      permission: 'conversations:write',
      summary: 'Start a conversation, optionally about a project, customer or task',
      request: { params, body: jsonBody(ConversationCreate) },
      responses: { 201: json(ConversationSchema, 'The conversation') },
    }),
    async (c) => c.json(await createConversation({ ctx: c.get('tenant'), input: c.req.valid('json') }), 201),
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/conversations/{id}',
      tags,
      permission: 'conversations:read',
      summary: 'Get a conversation with its messages',
      request: { params: itemParams },
      responses: { 200: json(ConversationSchema, 'The conversation') },
    }),
    async (c) => c.json(await getConversation({ ctx: c.get('tenant'), id: c.req.valid('param').id }), 200),
  );

  app.openapi(
    defineRoute({
      method: 'patch',
      path: '/v1/orgs/{org}/conversations/{id}',
      tags,
      permission: 'conversations:write',
      summary: 'Rename or archive a conversation, change its model or its subject',
      request: { params: itemParams, body: jsonBody(ConversationPatch) },
      responses: { 200: json(ConversationSchema, 'The conversation') },
    }),
    async (c) =>
      c.json(
        await updateConversation({ ctx: c.get('tenant'), id: c.req.valid('param').id, input: c.req.valid('json') }),
        200,
      ),
  );

  app.openapi(
    defineRoute({
      method: 'delete',
      path: '/v1/orgs/{org}/conversations/{id}',
      tags,
      permission: 'conversations:delete',
      summary: 'Delete a conversation',
      request: { params: itemParams },
      responses: { 204: noContent },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      await deleteConversation({ ctx: c.get('tenant'), id });
      // Its open sockets close and an answer in progress stops. Should the object be unreachable,
      // its sockets find the conversation gone at their next message and its write keeps nothing.
      await chatSessionStub(c, id)
        .conversationDeleted()
        .catch((error: unknown) => console.error(`conversation ${id}: chat object not told of its deletion`, error));
      return c.body(null, 204);
    },
  );

  app.openapi(
    defineRoute({
      method: 'post',
      path: '/v1/orgs/{org}/conversations/{id}/messages',
      tags,
      permission: 'conversations:write',
      summary: 'Send a message; the answer as JSON, or as server-sent events with `Accept: text/event-stream`',
      description:
        "Runs through the conversation's CHAT_SESSION object, like a socket `user_message`: one answer at a time per conversation (409 meanwhile), " +
        "402 `quota_exceeded` once the month's `ai_tokens` are spent, 409 `conversation_full` once it holds " +
        `${CONVERSATION_LIMITS.maxMessages} messages or ${CONVERSATION_LIMITS.maxBytes / 1_000_000} MB (start a new one), ` +
        '502 `provider_error` when the model provider fails (the partial answer is kept, marked failed), 500 `internal` when the turn could not be saved. ' +
        'Events: `message` {message} (the user message), `delta` {message_id, text}, `error` {code, detail}, `done` {message, usage}.',
      request: { params: itemParams, body: jsonBody(MessageCreate) },
      responses: {
        201: {
          description: "The assistant's message (the turn created it and the user's)",
          content: { 'application/json': { schema: MessageSchema } },
        },
        200: {
          description: 'With `Accept: text/event-stream`: the turn as server-sent events',
          content: { 'text/event-stream': { schema: z.string() } },
        },
        402: { description: 'The monthly ai_tokens quota is spent' },
        409: { description: 'Another answer is being generated, or the conversation is full (`conversation_full`)' },
        502: { description: 'The model provider failed' },
      },
    }),
    async (c) => {
      const { stub, headers } = await chatSession(c, c.req.valid('param').id);
      const body = JSON.stringify(c.req.valid('json'));
      const response = await unwrapChatResponse(
        await stub.fetch(new Request(c.req.url, { method: 'POST', headers, body })),
        c.get('d1'),
      );
      // A copy with headers of its own, which the middleware may still add to.
      return new Response(response.body, response) as never;
    },
  );

  app.openapi(
    defineRoute({
      method: 'get',
      path: '/v1/orgs/{org}/conversations/{id}/ws',
      tags,
      permission: 'conversations:read',
      summary: 'The conversation live over a WebSocket (hibernatable); browsers may send the token as `?token=`',
      description:
        'server → client: `history` {messages} on connect (a reply being written follows as one `delta` with its text so far), `message` {message} (each user message, to every client), ' +
        '`delta` {message_id, text}, `done` {message, usage}, `error` {code, detail}. client → server: `user_message` {content}, `cancel`. ' +
        `One answer at a time: a \`user_message\` meanwhile gets \`error\` \`generation_in_progress\`. Limits: ${CHAT_LIMITS.maxMessageBytes / 1024} KB a message, ${CHAT_LIMITS.maxContentChars} characters of content; ` +
        "every message counts against the caller's request rate limit (`error` `rate_limited`). The caller's access is read again for each `user_message` and `cancel`, " +
        `and for every open socket at least every ${ACCESS_RECHECK_MS / 1000} s: once it has ended (or the caller may no longer see the conversation) ` +
        `the socket gets \`error\` \`forbidden\` and is closed with code ${ACCESS_ENDED_CLOSE_CODE}.`,
      request: { params: itemParams },
      responses: { 101: { description: 'Switching protocols' }, 426: { description: 'Not a WebSocket upgrade' } },
    }),
    async (c) => {
      if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
        throw new ApiError('upgrade_required', 'This endpoint speaks WebSocket: send an Upgrade: websocket request.');
      }
      const { stub, headers } = await chatSession(c, c.req.valid('param').id);
      headers.set(RATE_LIMIT_KEY_HEADER, await rateLimitKey(c.get('credentials')));
      return unwrapChatResponse(await stub.fetch(new Request(c.req.url, { headers })), c.get('d1'));
    },
  );
}
