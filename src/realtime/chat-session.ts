// CHAT_SESSION: one Durable Object per AI conversation. It holds the conversation's sockets
// (hibernatable), runs its generation, one at a time, for sockets and HTTP alike, and keeps the
// partial answer in memory so a client that reconnects mid-answer gets it, then the rest. The
// generation belongs to the object, not to a client: it runs on when every client has gone.
// The object is the only writer of the conversation's messages, so it keeps them cached.
import { z } from '@hono/zod-openapi';
import { eq } from 'drizzle-orm';
import { ai_conversations, type ConversationMessage } from '../db/tenant';
import type { Bindings, TenantContext } from '../env';
import { formatBookmarks, type D1Sessions } from '../db/sessions';
import { uuidv7 } from '../lib/ids';
import { asApiError } from '../db/errors';
import { ApiError, ERROR_CODES, notFound } from '../lib/problem';
import { systemPrompt } from '../modules/ai/context';
import { PROVIDER_FAILURES, ProviderError, providerConfig, providerFor, type Usage } from '../modules/ai/providers';
import { asAssistant, offeredTools, runTool } from '../modules/ai/tools';
import { generate, modelHistory, noUsage, type TurnProgress } from '../modules/ai/turn';
import { appendTurn, assertRoomForTurn, maySee, type Conversation } from '../modules/conversations/service';
import { CHAT_LIMITS, MessageCreate } from '../modules/conversations/schemas';
import { assertQuota } from '../modules/usage/quota';
import { placedObject, type OrganizationPlace } from '../db/places';
import { enter, SocketRoom, type Access, type Connection, type Refusal } from './socket-room';

export type ChatEvent =
  | { type: 'history'; messages: ConversationMessage[] }
  | { type: 'message'; message: ConversationMessage }
  | { type: 'delta'; message_id: string; text: string }
  /** `bookmark`: Strive-Bookmark after the turn's write, so a client reads the stored turn back. */
  | { type: 'done'; message: ConversationMessage; usage: Usage; bookmark?: string; d1_round_trips?: number }
  | { type: 'error'; code: string; detail: string; message_id?: string };

/** What a chat socket may send (besides `ping`). */
const ChatMessage = z.discriminatedUnion('type', [
  MessageCreate.extend({ type: z.literal('user_message') }),
  z.object({ type: z.literal('cancel') }),
]);

type Listener = (event: ChatEvent) => void;

type Generation = {
  user: ConversationMessage;
  assistantId: string;
  /** The answer so far: what a reconnecting client is sent before the next delta. */
  text: string;
  /** Set once the user message has been echoed: from then on it is part of the history. */
  echoed: boolean;
  abort: AbortController;
  /** HTTP callers waiting on this turn (sockets are reached through the object's socket list). */
  listeners: Set<Listener>;
  /** The turn's D1 work: from a socket's access re-read, or the HTTP request's arrival, to its write. */
  d1: D1Sessions;
  /**
   * A socket turn: its `done` carries its D1 round trips where EXPOSE_D1_ROUND_TRIPS is set, as
   * an HTTP turn's answer carries x-d1-round-trips.
   */
  socket: boolean;
};

export const GENERATION_IN_PROGRESS =
  'An answer is being generated in this conversation: wait for its `done`, or `cancel` it.';

export class ChatSession extends SocketRoom<z.infer<typeof ChatMessage>, Conversation> {
  private conversation: Promise<Conversation> | null = null;
  private generation: Generation | null = null;
  protected readonly protocol = ChatMessage;
  protected readonly limits = CHAT_LIMITS;
  protected readonly shows = 'this conversation';
  protected readonly acting = {
    permission: 'conversations:write',
    refusal: "Reading only: writing needs the 'conversations:write' permission.",
  } as const;

  /** The conversation, read once per object lifetime (the Worker has checked the caller may see it). */
  private load(ctx: TenantContext, id: string): Promise<Conversation> {
    this.conversation ??= ctx.store
      .select(ai_conversations, eq(ai_conversations.id, id))
      .get()
      .then((row) => {
        if (!row) throw notFound('conversation');
        return row;
      });
    // A failed read is not cached: the next caller tries again.
    this.conversation.catch(() => (this.conversation = null));
    return this.conversation;
  }

  /**
   * Called by the Worker once the conversation is deleted: the answer in progress stops (its
   * write then finds no row and keeps nothing), the copy is dropped and every socket is closed.
   */
  async conversationDeleted(): Promise<void> {
    this.generation?.abort.abort();
    this.conversation = null;
    for (const connection of this.connections()) {
      connection.refuse('not_found', 'This conversation was deleted.');
      connection.close('deleted', 'conversation deleted');
    }
  }

  /** POST …/messages (the Worker has checked the caller may see the conversation). */
  protected override async onRequest(request: Request, { ctx, d1 }: Access, conversationId: string): Promise<Response> {
    const { content } = (await request.json()) as { content: string };
    return request.headers.get('accept')?.includes('text/event-stream')
      ? this.postStreaming(ctx, conversationId, content, d1)
      : this.post(ctx, conversationId, content, d1);
  }

  /** The conversation is read before the accept: from the accept on nothing awaits before the history. */
  protected override beforeConnect(ctx: TenantContext, conversationId: string): Promise<Conversation> {
    return this.load(ctx, conversationId);
  }

  /** The history, then the partial answer: the deltas broadcast after it reach this socket in order, none twice, none missed. */
  protected onConnect(connection: Connection, _ctx: TenantContext, conversation: Conversation): void {
    const generation = this.generation;
    const pending = generation?.echoed ? [generation.user] : [];
    connection.send({ type: 'history', messages: [...conversation.conversation_data, ...pending] } satisfies ChatEvent);
    if (generation?.text)
      connection.send({ type: 'delta', message_id: generation.assistantId, text: generation.text } satisfies ChatEvent);
  }

  /** POST …/messages as JSON: the answer once the turn ends. */
  private async post(ctx: TenantContext, conversationId: string, content: string, d1: D1Sessions): Promise<Response> {
    let finish!: (event: Extract<ChatEvent, { type: 'done' }>) => void;
    const done = new Promise<Extract<ChatEvent, { type: 'done' }>>((resolve) => (finish = resolve));
    await this.startTurn(ctx, conversationId, content, d1, {
      listener: (event) => event.type === 'done' && finish(event),
    });
    const { message } = await done;
    if (message.status === 'failed') {
      const failure = message.error!;
      const refusal: Refusal =
        failure.code in PROVIDER_FAILURES
          ? {
              code: 'provider_error',
              detail: `${failure.detail} (${failure.code}) What was said is kept in the conversation, marked failed.`,
            }
          : {
              code: failure.code === 'not_found' || failure.code === 'moving' ? failure.code : 'internal',
              detail: failure.detail,
            };
      return Response.json(refusal, {
        status: ERROR_CODES[refusal.code].status,
        headers: this.d1Headers(d1, true),
      });
    }
    // The user's message and the answer are new resources: 201, like every creation.
    return Response.json(message, { status: 201, headers: this.d1Headers(d1) });
  }

  /** POST …/messages as server-sent events: the turn's events as they happen, ending with `done`. */
  private async postStreaming(
    ctx: TenantContext,
    conversationId: string,
    content: string,
    d1: D1Sessions,
  ): Promise<Response> {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    const encoder = new TextEncoder();
    await this.startTurn(ctx, conversationId, content, d1, {
      listener: (event) => {
        // A client that went away does not stop the turn: its writes just fail.
        writer.write(encoder.encode(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`)).catch(() => undefined);
        if (event.type === 'done') writer.close().catch(() => undefined);
      },
    });
    return new Response(readable, {
      headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' },
    });
  }

  /**
   * Starts a turn, or refuses it (another in progress: 409; the conversation full: 409
   * conversation_full; quota spent: 402). Resolves once the
   * user message is echoed; the answer then streams to the sockets and to an HTTP caller's
   * `listener`. `d1` is the sessions `ctx` reads through (a socket's: since its access re-read).
   */
  private async startTurn(
    ctx: TenantContext,
    conversationId: string,
    content: string,
    d1: D1Sessions,
    from: { listener: Listener } | { socket: true },
  ): Promise<void> {
    if (this.generation) throw new ApiError('generation_in_progress', GENERATION_IN_PROGRESS);
    const generation: Generation = {
      user: { id: uuidv7(), role: 'user', content, created_at: new Date().toISOString() },
      assistantId: uuidv7(),
      text: '',
      echoed: false,
      abort: new AbortController(),
      listeners: new Set('listener' in from ? [from.listener] : []),
      d1,
      socket: 'socket' in from,
    };
    // Claimed before the first await: a second message meanwhile is refused, not interleaved.
    this.generation = generation;
    let prepared: Awaited<ReturnType<ChatSession['prepare']>>;
    try {
      prepared = await this.prepare(ctx, conversationId);
    } catch (error) {
      this.generation = null;
      throw error;
    }
    generation.echoed = true;
    this.emit(generation, { type: 'message', message: generation.user });
    // Kept by the object, not by any request: the turn runs on when its clients are gone.
    this.ctx.waitUntil(this.run(generation, prepared));
  }

  private async prepare(ctx: TenantContext, conversationId: string) {
    const [conversation, tools] = await Promise.all([
      this.load(ctx, conversationId),
      offeredTools(ctx),
      assertQuota(ctx, 'ai_tokens', 1),
    ]);
    assertRoomForTurn(conversation);
    return { ctx, conversation, tools, system: await systemPrompt(ctx, conversation) };
  }

  private async run(
    generation: Generation,
    { ctx, conversation, tools, system }: Awaited<ReturnType<ChatSession['prepare']>>,
  ) {
    const provider = providerFor(providerConfig(this.env, conversation.ai_model));
    const progress: TurnProgress = { text: '', usage: noUsage(), model: provider.model, toolMessages: [] };
    const assistantCtx = asAssistant(ctx, conversation.id);
    let status: NonNullable<ConversationMessage['status']> = 'complete';
    let error: ConversationMessage['error'];
    try {
      await generate(
        provider,
        {
          messages: [
            { role: 'system', content: system },
            ...modelHistory(conversation.conversation_data),
            { role: 'user', content: generation.user.content },
          ],
          tools: tools.definitions,
          signal: generation.abort.signal,
          onDelta: (text) => {
            generation.text += text;
            this.emit(generation, { type: 'delta', message_id: generation.assistantId, text });
          },
          callTool: (call) => runTool(assistantCtx, this.env, tools, call),
        },
        progress,
      );
    } catch (failure) {
      if (generation.abort.signal.aborted) {
        status = 'cancelled';
      } else {
        status = 'failed';
        if (!(failure instanceof ProviderError)) console.error(`conversation ${conversation.id}: turn failed`, failure);
        error =
          failure instanceof ProviderError
            ? { code: failure.code, detail: failure.message }
            : { code: 'internal', detail: 'The answer failed on our side.' };
      }
    }
    const answer: ConversationMessage = {
      id: generation.assistantId,
      role: 'assistant',
      content: progress.text,
      created_at: new Date().toISOString(),
      model: progress.model,
      usage: progress.usage,
      status,
      ...(error ? { error } : {}),
    };
    const messages = [generation.user, ...progress.toolMessages, answer];
    try {
      await appendTurn(ctx, conversation.id, messages, progress.usage);
      conversation.conversation_data.push(...messages);
    } catch (failure) {
      console.error(`conversation ${conversation.id}: turn not saved`, failure);
      // Nothing of the turn was kept, so it failed, whatever the provider did (the HTTP caller: 500,
      // 404 when the conversation was deleted meanwhile, 503 `moving` while a move fences it: send it again).
      const refused = asApiError(failure);
      error =
        refused?.code === 'not_found'
          ? { code: 'not_found', detail: 'The conversation was deleted: this turn is not kept.' }
          : refused?.code === 'moving'
            ? { code: 'moving', detail: refused.detail }
            : { code: 'internal', detail: 'The answer could not be saved; this turn is not in the conversation.' };
      Object.assign(answer, { status: 'failed', error });
      this.conversation = null; // re-read what was really stored
    } finally {
      // Whatever happened, the conversation is free again and every client hears that the turn ended.
      this.generation = null;
      if (error)
        this.emit(generation, { type: 'error', code: error.code, detail: error.detail, message_id: answer.id });
      const bookmark = formatBookmarks(generation.d1.bookmarks());
      const roundTrips =
        generation.socket && this.env.EXPOSE_D1_ROUND_TRIPS === 'true' ? { d1_round_trips: generation.d1.count } : {};
      this.emit(generation, {
        type: 'done',
        message: answer,
        usage: progress.usage,
        ...(bookmark ? { bookmark } : {}),
        ...roundTrips,
      });
      // The tokens were spent at the provider, whatever became of our write: each turn its own
      // usage event (its own id), named by the model that answered.
      if (progress.usage.total_tokens > 0)
        ctx.meter.record({
          resource_type: 'ai_tokens',
          quantity: progress.usage.total_tokens,
          resource_name: progress.model,
        });
    }
  }

  private emit(generation: Generation, event: ChatEvent) {
    this.broadcastToSockets(event);
    for (const listener of generation.listeners) listener(event);
  }

  /** A message acts as its sender is now: a demoted member as what they became. */
  protected async onMessage(connection: Connection, message: z.infer<typeof ChatMessage>, { ctx, d1 }: Access) {
    if (message.type === 'cancel') return this.generation?.abort.abort();
    await this.startTurn(ctx, connection.state.room, message.content, d1, { socket: true });
  }

  /** A socket may watch while its actor may see the conversation (a deleted one: nobody may). */
  protected async mayWatch(ctx: TenantContext, conversationId: string): Promise<boolean> {
    const conversation = await this.load(ctx, conversationId).catch((error: unknown) => {
      if (error instanceof ApiError && error.code === 'not_found') return null;
      throw error;
    });
    return conversation !== null && maySee(ctx, conversation);
  }
}

/** The Worker's side of CHAT_SESSION: which object serves a conversation (its name is made here only). */
export function chatSessions(env: Bindings) {
  /** The conversation's session, placed with its organization's data (db/places.ts). */
  const get = (organization: OrganizationPlace, conversationId: string) =>
    placedObject(env, env.CHAT_SESSION, organization, `${organization.id}:${conversationId}`);
  return {
    get,
    /** Hands a request (a socket upgrade, a message) to the conversation's session as `ctx`. */
    enter: (
      ctx: TenantContext,
      conversationId: string,
      request: Request,
      arrival: { rateLimitKey?: string; body?: string },
    ) => enter(get(ctx.organization, conversationId), ctx, request, { room: conversationId, ...arrival }),
    /** Its open sockets close and an answer in progress stops. */
    deleted: (organization: OrganizationPlace, conversationId: string) =>
      get(organization, conversationId)
        .conversationDeleted()
        .catch((error: unknown) =>
          console.error(`conversation ${conversationId}: chat object not told of its deletion`, error),
        ),
  };
}
