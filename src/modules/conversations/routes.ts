import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { TenantEnv } from '../../env';
import { Id } from '../../lib/fields';
import { defineRoute, json, jsonBody, noContent, OrgParam, type TenantApp } from '../../lib/openapi';
import { pageOf } from '../../lib/pagination';
import { ApiError } from '../../lib/problem';
import { rateLimitKey } from '../../middleware/rate-limit';
import { chatSessions } from '../../realtime/chat-session';
import { ACCESS_RECHECK_MS, CLOSE_CODES } from '../../realtime/socket-room';
import {
  CONVERSATION_LIMITS,
  createConversation,
  deleteConversation,
  getConversation,
  listConversations,
  updateConversation,
} from './service';
import {
  CHAT_LIMITS,
  ConversationCreate,
  ConversationPatch,
  ConversationQuery,
  ConversationSchema,
  MessageCreate,
  MessageSchema,
} from './schemas';

const params = z.object({ org: OrgParam });
const itemParams = z.object({ org: OrgParam, id: Id });
const tags = ['AI assistant'];

/** Hands the request to the conversation's CHAT_SESSION object, after checking the caller may see the conversation. */
async function enterChat(c: Context<TenantEnv>, id: string, arrival: { rateLimitKey?: string; body?: string }) {
  const ctx = c.get('tenant');
  await getConversation({ ctx, id });
  return chatSessions(c.env).enter(ctx, id, c.req.raw, arrival);
}

export function registerConversationRoutes(app: TenantApp) {
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
      await chatSessions(c.env).deleted(c.get('tenant').organization, id);
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
        "Runs through the conversation's CHAT_SESSION object, like a socket `user_message`: one answer at a time per conversation (409 " +
        '`generation_in_progress` meanwhile), ' +
        "402 `quota_exceeded` once the month's `ai_tokens` are spent, 409 `conversation_full` once it holds " +
        `${CONVERSATION_LIMITS.maxMessages} messages or ${CONVERSATION_LIMITS.maxBytes / 1_000_000} MB (start a new one), ` +
        '502 `provider_error` when the model provider fails (the partial answer is kept, marked failed), 500 ' +
        '`internal` when the turn could not be saved. ' +
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
        409: {
          description:
            'Another answer is being generated (`generation_in_progress`), or the conversation is full (`conversation_full`)',
        },
        502: { description: 'The model provider failed' },
      },
    }),
    async (c) => {
      const body = JSON.stringify(c.req.valid('json'));
      const response = await enterChat(c, c.req.valid('param').id, { body });
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
        'server → client: `history` {messages} on connect (a reply being written follows as one `delta` with its text so far), ' +
        '`message` {message} (each user message, to every client), ' +
        '`delta` {message_id, text}, `done` {message, usage}, `error` {code, detail}. client → server: `user_message` {content}, ' +
        '`cancel`. ' +
        `One answer at a time: a \`user_message\` meanwhile gets \`error\` \`generation_in_progress\`. Limits: ` +
        `${CHAT_LIMITS.maxMessageBytes / 1024} KB a message, ${CHAT_LIMITS.maxContentChars} characters of content; ` +
        "every message counts against the caller's request rate limit (`error` `rate_limited`). The caller's access is read again for " +
        'each `user_message` and `cancel`, ' +
        `and for every open socket at least every ${ACCESS_RECHECK_MS / 1000} s: once it has ended (or the caller may no longer see ` +
        `the conversation) ` +
        `the socket gets \`error\` \`forbidden\` and is closed with code ${CLOSE_CODES.accessEnded}.`,
      request: { params: itemParams },
      responses: { 101: { description: 'Switching protocols' }, 426: { description: 'Not a WebSocket upgrade' } },
    }),
    async (c) => {
      if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
        throw new ApiError('upgrade_required', 'This endpoint speaks WebSocket: send an Upgrade: websocket request.');
      }
      return enterChat(c, c.req.valid('param').id, { rateLimitKey: await rateLimitKey(c.get('credentials')) });
    },
  );
}
